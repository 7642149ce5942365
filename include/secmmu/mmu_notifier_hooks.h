/* SPDX-License-Identifier: MIT */
/*
 * secmmu/mmu_notifier_hooks.h - the MMU-notifier hooks the primary MMU
 * calls: the other side of secmmu/mmu_notifier.h.
 *
 * Every path of the primary MMU that changes, ages or tears down the CPU page
 * table calls these (src/mm), and they call the subscribed drivers' ops.
 * Drivers never call them (the kernel keeps them out of drivers' reach the
 * same way: they are what core mm calls); src/drivers/ does not include this
 * header, which tests/install-check.sh holds. Tests of the notifier core and
 * code that models a primary MMU of its own include it.
 */
#ifndef SECMMU_MMU_NOTIFIER_HOOKS_H
#define SECMMU_MMU_NOTIFIER_HOOKS_H

#include "secmmu/compiler.h"
#include <stdbool.h>

#include "secmmu/mmu_notifier.h"

SECMMU_BEGIN_DECLS

/*
 * These are the hooks every primary path calls; drivers never call them.
 * All are cheap when the mm has no subscriptions.
 */
void mmu_notifier_release(struct mm_struct *mm);
int mmu_notifier_clear_flush_young(struct mm_struct *mm, unsigned long start, unsigned long end);
int mmu_notifier_clear_young(struct mm_struct *mm, unsigned long start, unsigned long end);
int mmu_notifier_test_young(struct mm_struct *mm, unsigned long address);
/* Legacy: tell subscribers with ->change_pte that @address now maps @pfn. */
void mmu_notifier_change_pte(struct mm_struct *mm, unsigned long address, unsigned long pfn,
			     bool writable);
/* Blockable start: always succeeds. */
void mmu_notifier_invalidate_range_start(struct mmu_notifier_range *range);
/* Non-blockable start: 0 or -EAGAIN (then the caller must not call _end). */
int mmu_notifier_invalidate_range_start_nonblock(struct mmu_notifier_range *range);
void mmu_notifier_invalidate_range_end(struct mmu_notifier_range *range);
void mmu_notifier_arch_invalidate_secondary_tlbs(struct mm_struct *mm, unsigned long start,
						 unsigned long end);
bool mm_has_notifiers(struct mm_struct *mm);
/* Free the subscriptions container at __mmdrop; warns if any subscription is left. */
void mmu_notifier_subscriptions_destroy(struct mm_struct *mm);

SECMMU_END_DECLS

#endif /* SECMMU_MMU_NOTIFIER_HOOKS_H */
