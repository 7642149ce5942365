/* SPDX-License-Identifier: MIT */
/*
 * MMU notifiers: how secondary MMUs (KVM shadow pages, device TLBs, IOMMU
 * page tables, remote mappings) learn that the primary MMU is about to change
 * or free what they translate.
 *
 * Two kinds of subscriber:
 *  - struct mmu_notifier (classic): called for every invalidation of the mm,
 *    with invalidate_range_start/end around the change, plus aging and
 *    release callbacks.
 *  - struct mmu_interval_notifier: covers one VA interval, called only for
 *    invalidations that overlap it, and gives the driver a sequence count to
 *    detect collisions between its own fault path and invalidations
 *    (mmu_interval_read_begin/retry). Interval subscribers are called before
 *    classic ones.
 *
 * The read side is RCU with sleepable readers (SRCU semantics): a callback
 * may sleep only where its contract below says so.
 */
#ifndef SECMMU_MMU_NOTIFIER_H
#define SECMMU_MMU_NOTIFIER_H

#include "secmmu/compiler.h"
#include <stdbool.h>

#include "secmmu/mm.h"

SECMMU_BEGIN_DECLS

struct mmu_notifier;
struct mmu_notifier_subscriptions;
struct mmu_interval_notifier;

/**
 * enum mmu_notifier_event - why the range is invalidated
 * @MMU_NOTIFY_UNMAP: the range is unmapped (munmap, mremap's old range,
 *   exit teardown, the OOM reaper's unmap of a victim's private anonymous
 *   VMAs, sent non-blockable as __oom_reap_task_mm()).
 * @MMU_NOTIFY_CLEAR: PTEs are cleared or replaced, the mapping stays (COW
 *   break, MADV_DONTNEED as Linux's zap_page_range_single(), reclaim and
 *   page-out replacing a PTE by a swap entry (try_to_unmap_one()), KSM
 *   write-protecting a page before merging it and replacing it by the KSM
 *   page (write_protect_page()/replace_page()), truncation of a shared file
 *   (unmap_mapping_range()), CPU page migration (try_to_migrate_one()),
 *   a huge PMD split into PTEs and a khugepaged collapse of 512 PTEs into
 *   one PMD, each over the whole 2 MiB).
 * @MMU_NOTIFY_PROTECTION_VMA: mprotect() changes the protection of a VMA.
 * @MMU_NOTIFY_PROTECTION_PAGE: a page is write-protected (fork's COW setup).
 * @MMU_NOTIFY_SOFT_DIRTY: soft-dirty tracking write-protects.
 * @MMU_NOTIFY_RELEASE: the mm is being torn down (exit); interval
 *   subscribers get one such invalidation over the whole address space.
 * @MMU_NOTIFY_MIGRATE: a device driver's migrate_vma moves pages to or from
 *   device memory; @owner lets that driver skip invalidations it initiated
 *   itself. CPU page migration sends MMU_NOTIFY_CLEAR.
 * @MMU_NOTIFY_EXCLUSIVE: a device takes exclusive access.
 */
enum mmu_notifier_event {
	MMU_NOTIFY_UNMAP = 0,
	MMU_NOTIFY_CLEAR,
	MMU_NOTIFY_PROTECTION_VMA,
	MMU_NOTIFY_PROTECTION_PAGE,
	MMU_NOTIFY_SOFT_DIRTY,
	MMU_NOTIFY_RELEASE,
	MMU_NOTIFY_MIGRATE,
	MMU_NOTIFY_EXCLUSIVE,
};

const char *mmu_notifier_event_name(enum mmu_notifier_event event);

#define MMU_NOTIFIER_RANGE_BLOCKABLE (1 << 0)

/*
 * Core-private storage. struct mmu_notifier, struct mmu_interval_notifier
 * and struct mmu_notifier_range each end with a member named __core: the
 * notifier core's own state (src/notifier), public only so that drivers can
 * embed the structs (their size is known). It is OWNED BY THE CORE: drivers
 * must not read or write it, its layout changes without notice, and a
 * source file that names __core after including this header does not
 * compile (the header poisons the identifier; only the core and its
 * white-box tests, which define SECMMU_NOTIFIER_CORE first, may). Drivers
 * use the fields documented above each __core and the functions below.
 */

/* The core's part of a range: what its start left for its _end. */
struct mmu_notifier_range_core {
	unsigned int open;	   /* which halves the start opened (src/notifier) */
	unsigned int open_slot;	   /* the thread slot + 1 that counted the start, or 0 */
	unsigned long release_gen; /* the mm's release generation when the start was sent */
};

/**
 * struct mmu_notifier_range - an invalidation
 * @mm:    the address space
 * @start: first byte, page aligned
 * @end:   one past the last byte, page aligned
 * @flags: MMU_NOTIFIER_RANGE_BLOCKABLE when callbacks may sleep
 * @event: why
 * @owner: for MMU_NOTIFY_MIGRATE/EXCLUSIVE, the initiating driver's cookie
 * @__core: owned by the core; drivers must not read or write it
 */
struct mmu_notifier_range {
	struct mm_struct *mm;
	unsigned long start;
	unsigned long end;
	unsigned int flags;
	enum mmu_notifier_event event;
	void *owner;
	struct mmu_notifier_range_core __core;
};

static inline bool mmu_notifier_range_blockable(const struct mmu_notifier_range *range)
{
	return range->flags & MMU_NOTIFIER_RANGE_BLOCKABLE;
}

static inline void mmu_notifier_range_init(struct mmu_notifier_range *range,
					   enum mmu_notifier_event event, unsigned int flags,
					   struct mm_struct *mm, unsigned long start,
					   unsigned long end)
{
	range->mm = mm;
	range->start = start;
	range->end = end;
	range->flags = flags | MMU_NOTIFIER_RANGE_BLOCKABLE;
	range->event = event;
	range->owner = NULL;
	range->__core.open = 0;
	range->__core.open_slot = 0;
	range->__core.release_gen = 0;
}

/**
 * struct mmu_notifier_ops - a classic subscriber's callbacks
 *
 * @release: the mm is being torn down (exit_mmap), or the subscriber
 *   unregisters before that. Called at most once per subscription (exit and
 *   unregister race for it; one wins). Callbacks already running when it is
 *   claimed finish first, but the subscription stays hooked while it runs:
 *   invalidations (munmap, reclaim) that start before it returns are
 *   delivered, start and _end, so no page it still maps is freed unseen.
 *   None starts after it returned. After it returns the device must not
 *   touch any page of the mm: stop DMA or make its translations unreachable
 *   (seed 002: clear the PASID entry). May sleep. mm_users is already 0 when
 *   called from exit.
 *
 * @clear_flush_young: aging. Clear the accessed bits of translations in
 *   [start, end) and flush the secondary TLB; return nonzero if any was
 *   young. May not sleep.
 * @clear_young: as above without the flush. May not sleep.
 * @test_young: nonzero if the page at @address is young; clears nothing.
 *   May not sleep.
 *
 * @change_pte: LEGACY (removed from Linux in 6.10). The PTE at @address now
 *   maps @pfn (KSM merge, COW replacement); a driver may update its
 *   translation in place instead of dropping it. Called between
 *   invalidate_range_start and _end, under the page-table lock: may not
 *   sleep. Drivers without it simply see the start/end invalidation.
 *
 * @invalidate_range_start: the primary PTEs of [range->start, range->end) are
 *   about to be cleared, replaced or write-protected. At this point every
 *   page is still mapped. The subscriber must drop its translations of the
 *   range and must not create new ones until the matching _end (the
 *   collision rule). If mmu_notifier_range_blockable(range) it may sleep;
 *   otherwise it must not sleep and may return -EAGAIN, in which case the
 *   caller changes no PTE and calls no _end for this range. Return 0 or
 *   -EAGAIN only. The caller need not hold mmap_lock (reclaim and migration
 *   through the reverse map, a COW fault under its per-VMA lock): do not
 *   look up VMAs or PTEs of the mm here.
 * @invalidate_range_end: the change is done; the pages may already be freed.
 *   May sleep if the range is blockable. A subscriber that can fail _start
 *   must not implement _end (the caller cannot pair them).
 *
 * @arch_invalidate_secondary_tlbs: for TLB-only secondary MMUs (IOMMUs that
 *   share the CPU page table): flush the device TLB for [start, end). Called
 *   under the page-table lock after the PTE changed and before the frame can
 *   be freed: may not sleep. May not be combined with
 *   invalidate_range_start/end in one ops (registration fails with -EINVAL).
 *
 * @alloc_notifier: for mmu_notifier_get(): allocate a subscriber for @mm.
 *   Called with mmap_lock held for write; return ERR_PTR(-errno) on failure.
 * @free_notifier: for mmu_notifier_put(): free it. Called from an RCU
 *   callback after a grace period: no callback of it can run any more. May
 *   not sleep for long; must not call back into the notifier core.
 */
/* This core has the legacy ->change_pte (Linux before 6.10 did; 6.12 does not). */
#define MMU_NOTIFIER_HAS_CHANGE_PTE 1

struct mmu_notifier_ops {
	void (*release)(struct mmu_notifier *subscription, struct mm_struct *mm);
	int (*clear_flush_young)(struct mmu_notifier *subscription, struct mm_struct *mm,
				 unsigned long start, unsigned long end);
	int (*clear_young)(struct mmu_notifier *subscription, struct mm_struct *mm,
			   unsigned long start, unsigned long end);
	int (*test_young)(struct mmu_notifier *subscription, struct mm_struct *mm,
			  unsigned long address);
	void (*change_pte)(struct mmu_notifier *subscription, struct mm_struct *mm,
			   unsigned long address, unsigned long pfn, bool writable);
	int (*invalidate_range_start)(struct mmu_notifier *subscription,
				      const struct mmu_notifier_range *range);
	void (*invalidate_range_end)(struct mmu_notifier *subscription,
				     const struct mmu_notifier_range *range);
	void (*arch_invalidate_secondary_tlbs)(struct mmu_notifier *subscription,
					       struct mm_struct *mm, unsigned long start,
					       unsigned long end);
	struct mmu_notifier *(*alloc_notifier)(struct mm_struct *mm);
	void (*free_notifier)(struct mmu_notifier *subscription);
};

/*
 * struct mmu_notifier_core - a classic subscription's state owned by the core
 * (src/notifier/mmu_notifier.c); drivers must not read or write it.
 */
struct mmu_notifier_core {
	struct mmu_notifier *next;	  /* RCU list of subscriptions */
	struct mmu_notifier **pprev;	  /* NULL when unhooked; under subscriptions->lock */
	unsigned int users;		  /* get/put count, under subscriptions->lock */
	SECMMU_ATOMIC(int) release_state; /* who claimed ->release; see enum mn_release_state */
	SECMMU_ATOMIC(unsigned long)
	released_gen; /* 0, or the release generation of ->release's end */
	SECMMU_ATOMIC(int)
	release_calls; /* ->release calls so far: a detector, see mn_call_release() */
	void *rcu[3];  /* struct sm_rcu_head storage (size asserted) */
};

/*
 * A classic subscription, embedded in the driver's structure. The driver
 * sets @ops before registering, may read @mm, and names the holder of the
 * mm_count with mmu_notifier_set_owner().
 * @mm holds an mm_count reference from registration until the subscription
 * is unregistered (or, with get/put, until free_notifier has run).
 * @__core is owned by the core: drivers must not read or write it.
 */
struct mmu_notifier {
	const struct mmu_notifier_ops *ops;
	struct mm_struct *mm;
	const void *owner; /* holder of its mm_count: mmu_notifier_set_owner() */
	struct mmu_notifier_core __core;
};

/**
 * struct mmu_interval_notifier_ops
 * @invalidate: [range->start, range->end) overlapping the interval is about
 *   to change. The driver must take its own lock, call
 *   mmu_interval_set_seq(@interval_sub, @cur_seq) under it, and drop the
 *   translations of the overlap. Return true; false only when the range is
 *   not blockable and the driver would have to sleep (the invalidation then
 *   fails with -EAGAIN). May sleep if the range is blockable.
 */
struct mmu_interval_notifier_ops {
	bool (*invalidate)(struct mmu_interval_notifier *interval_sub,
			   const struct mmu_notifier_range *range, unsigned long cur_seq);
};

/*
 * struct mmu_interval_notifier_core - an interval subscription's state owned
 * by the core (src/notifier/interval.c); drivers must not read or write it,
 * and reach the sequence only through mmu_interval_read_begin(),
 * mmu_interval_read_retry(), mmu_interval_check_retry() and
 * mmu_interval_set_seq().
 */
struct mmu_interval_notifier_core {
	SECMMU_ATOMIC(unsigned long) invalidate_seq;
	/* under subscriptions->lock (the tree is also walked lock-free while invalidating) */
	void *itree[7];				     /* struct itree_node storage (size asserted) */
	struct mmu_interval_notifier *deferred_next; /* on subscriptions->deferred_list */
	bool deferred; /* an insert or remove is pending on deferred_list */
	bool inserted; /* in the interval tree (!RB_EMPTY_NODE in Linux) */
};

/*
 * Embedded in the driver's structure. A driver may read @start, @last (the
 * closed interval watched) and @mm, and names the holder of the mm_count
 * with mmu_interval_notifier_set_owner(); @__core is owned by the core:
 * drivers must not read or write it.
 */
struct mmu_interval_notifier {
	unsigned long start, last; /* [start, last], set by insert */
	const struct mmu_interval_notifier_ops *ops;
	struct mm_struct *mm; /* holds mm_count while inserted */
	const void *owner;    /* holder of that mm_count: mmu_interval_notifier_set_owner() */
	struct mmu_interval_notifier_core __core;
};

/**
 * mmu_notifier_set_owner() - name the object that holds the notifier's mm_count
 *
 * The mm_count reference a registration takes is recorded in the mm's
 * reference tracker (mm.h: mmgrab_tracked()) under @owner, kind
 * "mmu_notifier" -- the driver object that embeds or owns the notifier, so
 * that a leaked registration names the driver object. Unset (NULL), the
 * notifier itself is the owner. Call before registering (for
 * mmu_notifier_get(): in ->alloc_notifier); never while registered. A
 * no-op in the KERNEL_NOTIFIER build, whose core tracks nothing.
 */
static inline void mmu_notifier_set_owner(struct mmu_notifier *subscription, const void *owner)
{
	subscription->owner = owner;
}

/* Same for an interval notifier (kind "interval notifier"); call before insert. */
static inline void mmu_interval_notifier_set_owner(struct mmu_interval_notifier *interval_sub,
						   const void *owner)
{
	interval_sub->owner = owner;
}

/* The kinds the notifier core records its mm_count references under. */
#define MMU_NOTIFIER_HOLDER_KIND	  "mmu_notifier"
#define MMU_INTERVAL_NOTIFIER_HOLDER_KIND "interval notifier"

/* --- classic registration ------------------------------------------- */

/**
 * mmu_notifier_register() - attach @subscription to @mm
 *
 * Takes mmap_lock for write, then write-locks every VMA of @mm (waiting
 * for the page faults that hold a per-VMA lock without mmap_lock) and takes
 * all reverse-map locks of @mm (mm_take_all_locks), so that no invalidation
 * is in flight while the subscription is added: it will never see an _end
 * without its _start.
 * The caller must hold an mm_users reference (mm_users > 0). On success the
 * subscription holds an mm_count reference (mmgrab) until unregistered.
 * May sleep.
 *
 * Return: 0, -EINVAL (ops combine arch_invalidate_secondary_tlbs with
 * start/end, or mm_users is 0), -ENOMEM (subscriptions could not be
 * allocated), -EINTR (the wait for the locks was interrupted by a signal),
 * -EBUSY (@subscription is already registered on @mm). On failure nothing
 * is left behind.
 *
 * API misuse (a NULL ops, registering twice) WARNs once and fails with
 * -EINVAL / -EBUSY; it never hangs.
 */
int mmu_notifier_register(struct mmu_notifier *subscription, struct mm_struct *mm);
/* As above; the caller already holds mmap_lock for write. */
int __mmu_notifier_register(struct mmu_notifier *subscription, struct mm_struct *mm);

/**
 * mmu_notifier_unregister() - detach a subscription registered with
 * mmu_notifier_register()
 *
 * Calls ->release if exit has not done so already, removes the
 * subscription, waits until no callback of it runs anywhere (a grace period),
 * and drops its mm_count. Reliable: returns only when it is done. May sleep;
 * must not be called from a callback of the same subscription.
 *
 * Clears subscription->mm. API misuse WARNs once and does nothing: a
 * subscription not registered on @mm (never, or already unregistered), or
 * one from mmu_notifier_get() (release it with mmu_notifier_put()).
 */
void mmu_notifier_unregister(struct mmu_notifier *subscription, struct mm_struct *mm);

/**
 * mmu_notifier_get() - the one subscription of @ops on @mm, refcounted
 *
 * Finds a subscription of @mm with the same ops pointer and takes a
 * reference, or allocates one with ops->alloc_notifier and registers it.
 * The caller holds an mm_users reference. Takes mmap_lock for write.
 * Return: the subscription or ERR_PTR(-errno); ERR_PTR(-EINVAL), warned
 * once, if @ops lacks alloc_notifier or free_notifier.
 */
struct mmu_notifier *mmu_notifier_get(const struct mmu_notifier_ops *ops, struct mm_struct *mm);
/* As above; the caller holds mmap_lock for write. */
struct mmu_notifier *mmu_notifier_get_locked(const struct mmu_notifier_ops *ops,
					     struct mm_struct *mm);

/**
 * mmu_notifier_put() - drop a reference taken by mmu_notifier_get()
 *
 * The last put unhooks the subscription and frees it through
 * ops->free_notifier after a grace period (then drops its mm_count). Does
 * not wait and does not call ->release: release runs only if the mm is torn
 * down while the subscription lives. May be called from any context that
 * may take a mutex, including after the mm has exited.
 *
 * API misuse WARNs once and does nothing: a subscription of
 * mmu_notifier_register() (it holds no get reference), or one more put than
 * gets.
 */
void mmu_notifier_put(struct mmu_notifier *subscription);

/**
 * mmu_notifier_synchronize() - wait until every free_notifier queued by
 * mmu_notifier_put() has run (module unload).
 */
void mmu_notifier_synchronize(void);

/* --- interval notifiers ----------------------------------------------- */

/**
 * mmu_interval_notifier_insert() - watch [start, start+length) of @mm
 *
 * Requires mm_users > 0 (-EINVAL otherwise). Takes an mm_count reference.
 * If an invalidation is in progress the insertion is deferred until it ends,
 * and the new subscription starts with an odd sequence so that a reader
 * retries. Takes mmap_lock for write if the mm has no subscriptions yet.
 * Return: 0, -EOVERFLOW (zero length or a range that wraps, as Linux),
 * -EINVAL (NULL ops or ops without ->invalidate, warned once; mm_users is 0),
 * -EBUSY (already inserted in @mm, warned once), -ENOMEM, -EINTR.
 */
int mmu_interval_notifier_insert(struct mmu_interval_notifier *interval_sub, struct mm_struct *mm,
				 unsigned long start, unsigned long length,
				 const struct mmu_interval_notifier_ops *ops);
/* As above; the caller holds mmap_lock for write. */
int mmu_interval_notifier_insert_locked(struct mmu_interval_notifier *interval_sub,
					struct mm_struct *mm, unsigned long start,
					unsigned long length,
					const struct mmu_interval_notifier_ops *ops);

/**
 * mmu_interval_notifier_remove() - stop watching
 *
 * If an invalidation is in progress the removal is deferred and this waits
 * until it has ended, so that on return no invalidate callback for it runs.
 * Drops the mm_count reference and clears interval_sub->mm. May sleep.
 *
 * API misuse WARNs once and does nothing, never hangs: a subscription not
 * inserted (never, or removed already), or a call from an invalidate
 * callback running on this thread for the same mm (which would wait for its
 * own invalidation to end).
 */
void mmu_interval_notifier_remove(struct mmu_interval_notifier *interval_sub);

/**
 * mmu_interval_read_begin() - start a collision-retry read of the primary
 * page table for the interval
 *
 * Waits while an invalidation overlapping the interval is in progress, then
 * returns a sequence to pass to mmu_interval_read_retry() under the driver
 * lock, before the driver installs what it read. May sleep.
 */
unsigned long mmu_interval_read_begin(struct mmu_interval_notifier *interval_sub);

/**
 * mmu_interval_read_retry() - must the read since @seq be discarded?
 *
 * Call under the same driver lock that the invalidate callback takes around
 * mmu_interval_set_seq(). True if an invalidation began after @seq.
 */
static inline bool mmu_interval_read_retry(struct mmu_interval_notifier *interval_sub,
					   unsigned long seq)
{
	return secmmu_atomic_load(&interval_sub->__core.invalidate_seq, SECMMU_MO_RELAXED) != seq;
}

/**
 * mmu_interval_check_retry() - lockless early test; may be stale, so a false
 * answer still needs mmu_interval_read_retry() under the lock.
 */
static inline bool mmu_interval_check_retry(struct mmu_interval_notifier *interval_sub,
					    unsigned long seq)
{
	return secmmu_atomic_load(&interval_sub->__core.invalidate_seq, SECMMU_MO_ACQUIRE) != seq;
}

/**
 * mmu_interval_set_seq() - record @cur_seq, from the invalidate callback,
 * under the driver lock that also covers mmu_interval_read_retry().
 */
static inline void mmu_interval_set_seq(struct mmu_interval_notifier *interval_sub,
					unsigned long cur_seq)
{
	secmmu_atomic_store(&interval_sub->__core.invalidate_seq, cur_seq, SECMMU_MO_RELEASE);
}

/*
 * The hooks the primary MMU calls (invalidate_range_start/end, release,
 * aging, change_pte, arch_invalidate_secondary_tlbs) are in
 * secmmu/mmu_notifier_hooks.h: a driver receives them through its ops and
 * never calls them.
 */

SECMMU_END_DECLS

/*
 * Everything above that needs __core is defined: from here on, naming it is
 * a compile error, except in the core and its white-box tests.
 */
#ifndef SECMMU_NOTIFIER_CORE
#pragma GCC poison __core
#endif

#endif /* SECMMU_MMU_NOTIFIER_H */
