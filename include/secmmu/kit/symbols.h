/* SPDX-License-Identifier: MIT */
/*
 * secmmu/kit/symbols.h - the link names of the driver kit.
 *
 * The kit's functions keep the names the library's own code uses
 * (sm_mutex_lock(), kzalloc(), sm_call_rcu() ...), but libsecmmu.so exports
 * them under the secmmu_ prefix, so that they never collide with a program's
 * own kzalloc() or with another library's: these macros, seen by every
 * translation unit that includes a kit header (the library's too), make
 * the two names one. Include a kit header, call sm_mutex_lock(); the linker
 * sees secmmu_mutex_lock.
 */
#ifndef SECMMU_KIT_SYMBOLS_H
#define SECMMU_KIT_SYMBOLS_H

/* clang-format off */

/* debug.h */
#define sm_bug                     secmmu_bug
#define sm_warn                    secmmu_warn
#define sm_warn_count              secmmu_warn_count
#define sm_rule_broken             secmmu_rule_broken
#define sm_poison                  secmmu_poison

/* lock.h */
#define sm_mutex_init              secmmu_mutex_init
#define sm_mutex_destroy           secmmu_mutex_destroy
#define sm_mutex_lock              secmmu_mutex_lock
#define sm_mutex_lock_nested       secmmu_mutex_lock_nested
#define sm_mutex_trylock           secmmu_mutex_trylock
#define sm_mutex_unlock            secmmu_mutex_unlock
#define sm_mutex_set_spin          secmmu_mutex_set_spin
#define sm_rwsem_set_spin          secmmu_rwsem_set_spin
#define sm_rwsem_init              secmmu_rwsem_init
#define sm_rwsem_destroy           secmmu_rwsem_destroy
#define sm_down_read               secmmu_down_read
#define sm_down_read_trylock       secmmu_down_read_trylock
#define sm_up_read                 secmmu_up_read
#define sm_down_write              secmmu_down_write
#define sm_down_write_nested       secmmu_down_write_nested
#define sm_up_write                secmmu_up_write
#define sm_rwsem_wait_released     secmmu_rwsem_wait_released
#define sm_rwsem_note_acquired     secmmu_rwsem_note_acquired
#define __might_sleep              secmmu_might_sleep_at
#define __non_block_start          secmmu_non_block_start_at
#define non_block_end              secmmu_non_block_end
#define might_sleep_reports        secmmu_might_sleep_reports
#define might_sleep_set_fatal      secmmu_might_sleep_set_fatal
#define lockdep_held_mode          secmmu_lockdep_held_mode
#define lockdep_depth              secmmu_lockdep_depth

/* wait.h */
#define sm_may_spin                secmmu_may_spin
#define sm_waitq_init              secmmu_waitq_init
#define sm_waitq_destroy           secmmu_waitq_destroy
#define sm_wait                    secmmu_wait
#define sm_wake_up_all             secmmu_wake_up_all
#define sm_delay_us                secmmu_delay_us
#define sm_var_lock                secmmu_var_lock
#define sm_var_waitq               secmmu_var_waitq
#define sm_var_wait_begin          secmmu_var_wait_begin
#define sm_var_wait_end            secmmu_var_wait_end
#define sm_wake_up_var             secmmu_wake_up_var

/* thread.h */
#define sm_thread_create           secmmu_thread_create
#define sm_thread_join             secmmu_thread_join
#define sm_thread_is_current       secmmu_thread_is_current

/* rcu.h */
#define sm_rcu_read_lock           secmmu_rcu_read_lock
#define sm_rcu_read_unlock         secmmu_rcu_read_unlock
#define sm_rcu_read_ongoing        secmmu_rcu_read_ongoing
#define sm_synchronize_rcu         secmmu_synchronize_rcu
#define sm_call_rcu                secmmu_call_rcu
#define sm_rcu_barrier             secmmu_rcu_barrier

/* alloc.h */
#define kzalloc                    secmmu_kzalloc
#define kcalloc                    secmmu_kcalloc
#define krealloc_array             secmmu_krealloc_array
#define kfree                      secmmu_kfree
#define kfree_sized                secmmu_kfree_sized
#define fault_inject_alloc         secmmu_fault_inject_alloc
#define fault_inject_alloc_hits    secmmu_fault_inject_alloc_hits
#define kzalloc_calls              secmmu_kzalloc_calls
#define kzalloc_live               secmmu_kzalloc_live

/* bugs.h */
#define historic_bugs_on           secmmu_historic_bugs_on
/* clang-format on */

#endif /* SECMMU_KIT_SYMBOLS_H */
