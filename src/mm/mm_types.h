/* SPDX-License-Identifier: MIT */
/*
 * struct mm_struct and friends: core-private (src/mm, src/notifier,
 * src/sched). Drivers see only include/secmmu/.
 */
#ifndef SECMMU_MM_TYPES_H
#define SECMMU_MM_TYPES_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/itree.h"
#include "base/list.h"
#include "base/lock.h"
#include "base/rcu.h"
#include "secmmu/mm.h"

#define MM_CONTEXT_SLOTS 16
/*
 * Holder tables (mm_holders.c): the first table, in the mm, has
 * MM_HOLDER_SLOTS slots; each table chained after it has twice the slots of
 * the one before (up to MM_HOLDER_TABLE_MAX), so n holders need O(log n)
 * tables. A holder's slots lie in its probe window of each table: the
 * MM_HOLDER_WINDOW slots (wrapping) from a hash of its owner pointer.
 * MM_HOLDER_REFS_MAX: the references of one kind one slot counts; a holder
 * with more goes on in another slot of its own.
 */
#define MM_HOLDER_SLOTS	    128
#define MM_HOLDER_TABLE_MAX (MM_HOLDER_SLOTS << 17)
#define MM_HOLDER_WINDOW    16
#define MM_HOLDER_REFS_MAX  ((1 << 19) - 1)
/*
 * Slots of the lockless VMA lookup (mm->vma_cache, lock_vma_under_rcu()):
 * one per 2 MiB of address, hashed.
 */
#define VMA_CACHE_SLOTS 64

/*
 * struct mm_holder_slot - one holder's references (src/mm/mm_holders.c,
 * where the top comment has the whole protocol).
 * @word: state, generation and the users / count references, packed so
 *	that one compare-and-swap changes them together; every transition
 *	of the slot is a CAS (FREE -> CLAIMING reserves a never-used slot,
 *	LIVE idle -> CLAIMING reclaims one), except the release store of
 *	LIVE by the thread whose CAS made it CLAIMING
 * @owner, @kind: the holder's key; written only while the slot is
 *	CLAIMING (release), read (acquire) by anyone and trusted only when
 *	@word still has the generation read before them
 * @seq: when the key was claimed (mm->holders_seq), for the order of
 *	mm_holders_collect(); written and read like the key
 * No lock: the slot's gets and puts run on every device fault.
 */
struct mm_holder_slot {
	_Atomic uint64_t word;
	const void *_Atomic owner;
	const char *_Atomic kind;
	_Atomic unsigned long seq;
};

/*
 * struct mm_holder_table - one table of the holder chain of an mm.
 * @next: the next table or NULL; set once, by a CAS from NULL (release),
 *	read acquire; the mm owns every table of its chain and frees them in
 *	__mmdrop(), never before. No lock.
 * @slots: @nslots slots: for the first table mm->holder_slots, for a
 *	chained one the slots allocated in the same block, right after this
 *	header
 * @nslots: a power of two, MM_HOLDER_SLOTS << @level (at most
 *	MM_HOLDER_TABLE_MAX)
 * @level: the table's place in the chain (0: the mm's own), which seeds
 *	the hash of its windows
 * @slots, @nslots and @level are written before the table is published
 * (mm_holders_init(), or before the CAS of @next that links it) and never
 * again: read them after loading the pointer to the table (acquire).
 */
struct mm_holder_table {
	struct mm_holder_table *_Atomic next;
	struct mm_holder_slot *slots;
	unsigned int nslots;
	unsigned int level;
};

struct mmu_notifier_subscriptions;
typedef _Atomic uint64_t pte_t;

/*
 * struct mm_struct
 *
 * References: mm_users counts users of the address space, mm_count counts
 * references to the struct; all users together hold one mm_count.
 *
 * Locks (order in base/lock.h):
 *   mmap_lock         VMA tree (mm_mt), map_count, vma fields; a writer
 *                     also write-locks (vma_start_write()) every VMA it
 *                     changes or whose pages it changes, for the faults
 *                     that hold only a per-VMA lock (see struct vma_lock)
 *   rmap_lock         taken for read by invalidators that do not hold
 *                     mmap_lock (reclaim, migration, truncation via rmap);
 *                     for write by mm_take_all_locks(), so that holding
 *                     mmap_lock for write plus rmap_lock for write means no
 *                     invalidation of this mm is in flight
 *   page_table_lock   every PTE change and page-table allocation
 *
 * notifier_subscriptions: allocated once, by the first registration, under
 * mmap_lock for write plus mm_take_all_locks(), published with a release
 * store, freed in __mmdrop. Readers load it with acquire while holding
 * mm_users or mm_count.
 */
struct mm_struct {
	_Atomic int mm_users;
	_Atomic int mm_count;
	unsigned long id;

	struct sm_rwsem mmap_lock;
	struct sm_rwsem rmap_lock;
	struct sm_mutex page_table_lock;

	struct itree_root mm_mt; /* VMAs, under mmap_lock */
	/*
	 * The per-VMA locks' sequence (Linux's mm->mm_lock_seq): a VMA whose
	 * vma_lock.lock_seq equals it is write-locked by the current holder
	 * of mmap_lock for write. Bumped (release) by mmap_write_unlock(),
	 * which so unlocks every VMA write-locked in that hold at once
	 * (vma_end_write_all()). Written under mmap_lock for write; read with
	 * acquire by lock_vma_under_rcu() without it.
	 */
	_Atomic unsigned long mm_lock_seq;
	/*
	 * The lockless VMA lookup of lock_vma_under_rcu(): slot
	 * vma_cache_slot(addr) holds NULL or a VMA that was linked in mm_mt
	 * and covered an address of that slot when it was stored. Stored
	 * (release) under mmap_lock for read or write by the fault paths that
	 * fell back to mmap_lock; cleared under mmap_lock for write by
	 * vma_unlink() before the VMA can be freed. No reference: readers
	 * load it (acquire) inside an RCU read-side section, and VMAs are
	 * freed after a grace period (vma_free()). A hit is trusted only
	 * after the VMA's read lock is taken and its bounds re-checked.
	 */
	struct vm_area_struct *_Atomic vma_cache[VMA_CACHE_SLOTS];
	unsigned long map_count;
	pte_t *pgd; /* top-level table, 512 entries */

	struct mmu_notifier_subscriptions *notifier_subscriptions;

	_Atomic long rss;	/* present PTEs mapping frames */
	_Atomic long swapents;	/* swap entries in PTEs */
	_Atomic long nr_thp;	/* huge PMDs (each also counts HPAGE_PMD_NR in rss) */
	_Atomic long locked_vm; /* pages charged to RLIMIT_MEMLOCK */
	_Atomic long pinned_vm;
	_Atomic unsigned long memlock_limit; /* bytes */
	_Atomic bool cap_ipc_lock;
	/*
	 * VM_LOCKED_MASK bits every new mapping gets (mlockall(MCL_FUTURE)).
	 * Written under mmap_lock for write; read with or without it.
	 */
	_Atomic unsigned long def_flags;

	_Atomic bool exiting; /* __mmput has begun */
	char name[32];	      /* mm_name(): set at alloc, then once by the first task */
	bool named;	      /* mm_set_name() ran; before the mm is shared */
	void *_Atomic context[MM_CONTEXT_SLOTS];

	struct list_head mmlist; /* all live structs, under mm_list_lock */
	struct sm_rcu_head rcu;

	/*
	 * Who holds mm_users / mm_count (mm_holders.c): the first table of
	 * the chain, whose slots are holder_slots (later tables, each twice
	 * the size of the one before, owned through holders.next and freed
	 * with the mm); holders_overflow: references of holders for which no
	 * table could be allocated; holders_alloc_failed: set once that
	 * happened; holders_seq: claims so far. All atomic, no lock.
	 */
	struct mm_holder_table holders;
	struct mm_holder_slot holder_slots[MM_HOLDER_SLOTS];
	struct mm_holder_slot holders_overflow;
	_Atomic bool holders_alloc_failed;
	_Atomic unsigned long holders_seq;
};

/* The internal half of struct vm_area_struct's core_priv[]. */
struct vma_priv {
	struct itree_node node;	   /* in mm->mm_mt; start=vm_start, last=vm_end-1 */
	struct anon_vma *anon_vma; /* private anonymous pages' reverse map */
	struct shmem_obj *shm;	   /* shared anonymous backing object */
};

static inline struct vma_priv *vma_priv(struct vm_area_struct *vma)
{
	return (struct vma_priv *)vma->core_priv;
}

/*
 * mm_take_all_locks() - no invalidation of @mm may be in flight on return
 *
 * Caller holds mmap_lock for write. Write-locks every VMA (vma_start_write():
 * waits for the page faults holding a per-VMA lock, which may be inside an
 * invalidation, and keeps new ones out until mmap_write_unlock(); Linux's
 * eeff9a5d47f8), then takes rmap_lock for write, waiting interruptibly.
 * Return: 0, or -EINTR if the calling thread was signalled
 * (sm_signal_pending()) while waiting for rmap_lock (the VMAs stay
 * write-locked until mmap_write_unlock(), as in Linux).
 */
int mm_take_all_locks(struct mm_struct *mm);
void mm_drop_all_locks(struct mm_struct *mm);

#endif /* SECMMU_MM_TYPES_H */
