// SPDX-License-Identifier: MIT
/*
 * exhibit_range_end - a historical bug of the notifier core, reproduced on
 * Linux's own mm/mmu_notifier.c by the interleaving explorer
 * (make kernel-notifier-exhibit; docs/architecture.md).
 *
 * The bug (fixed in Linux 5.13, "mm/mmu_notifiers: ensure range_end() is
 * paired with range_start()"): when a non-blockable invalidate_range_start
 * fails with -EAGAIN in one subscriber, the caller (the OOM reaper) calls no
 * _end; subscribers whose _start had already succeeded never saw their _end.
 * KVM counts invalidations in progress (mmu_invalidate_in_progress) and
 * makes vCPU faults retry while the count is non-zero: the count stays
 * raised for good and the vCPU can never fault the page in again. The fix
 * calls _end on every subscriber that has one after a failed start (and
 * forbids a subscriber that can fail _start from having an _end).
 * kshim/exhibits/range-end-unpaired.sh, written by us from that description,
 * removes the fix from the extracted file.
 *
 * The test: a KVM-like subscriber counting invalidations in progress and a
 * subscriber whose non-blockable start fails; thread 0 is the OOM reaper
 * (start_nonblock, _end only on success), thread 1 a vCPU fault that waits
 * (base/wait.h) until no invalidation is in progress. On the kernel's code as
 * shipped every schedule passes; with the bug put back, the explorer finds the
 * schedule where the reaper goes first and reports the vCPU blocked forever
 * (a deadlock: it prints the replayable schedule and aborts).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include <linux/mmu_notifier.h>

#include "base/sched_explore.h"
#include "base/wait.h"
#include "secmmu/page.h"

struct kvm_like {
	struct mmu_notifier mn;
	struct sm_mutex lock; /* spinning, guards in_progress */
	struct sm_waitq wq;   /* woken when in_progress drops to 0 */
	int in_progress;      /* the mmu_invalidate_in_progress of KVM */
};

static struct ctx {
	struct mm_struct *mm;
	struct kvm_like kvm;
	struct mmu_notifier failer;
	bool installed;
} c;

static int kvm_start(struct mmu_notifier *mn, const struct mmu_notifier_range *r)
{
	(void)mn;
	(void)r;
	sm_mutex_lock(&c.kvm.lock);
	c.kvm.in_progress++;
	sm_mutex_unlock(&c.kvm.lock);
	return 0;
}

static void kvm_end(struct mmu_notifier *mn, const struct mmu_notifier_range *r)
{
	(void)mn;
	(void)r;
	sm_mutex_lock(&c.kvm.lock);
	if (!--c.kvm.in_progress)
		sm_wake_up_all(&c.kvm.wq); /* Pairs with the wait in vcpu_fault(). */
	sm_mutex_unlock(&c.kvm.lock);
}

/* A device that cannot invalidate without sleeping: fails non-blockable starts. */
static int failer_start(struct mmu_notifier *mn, const struct mmu_notifier_range *r)
{
	(void)mn;
	return mmu_notifier_range_blockable(r) ? 0 : -EAGAIN;
}

static const struct mmu_notifier_ops kvm_ops = {
	.invalidate_range_start = kvm_start,
	.invalidate_range_end = kvm_end,
};
static const struct mmu_notifier_ops failer_ops = {
	.invalidate_range_start = failer_start,
};

static void setup(void *p)
{
	(void)p;
	c.mm = mm_alloc();
	c.installed = false;
	c.kvm.in_progress = 0;
	c.kvm.mn.ops = &kvm_ops;
	c.failer.ops = &failer_ops;
	/* Newest first: KVM's start runs, then the failer's fails. */
	if (!c.mm || mmu_notifier_register(&c.failer, c.mm) ||
	    mmu_notifier_register(&c.kvm.mn, c.mm)) {
		fprintf(stderr, "exhibit: setup failed\n");
		exit(2);
	}
}

static void thread(unsigned int id, void *p)
{
	struct mmu_notifier_range range = {0};

	(void)p;
	if (id == 0) {
		/* The OOM reaper: never sleeps, gives up on -EAGAIN. */
		mmu_notifier_range_init(&range, MMU_NOTIFY_UNMAP, 0, c.mm, 0x10000000, 0x10010000);
		if (!mmu_notifier_invalidate_range_start_nonblock(&range))
			mmu_notifier_invalidate_range_end(&range);
		return;
	}
	/* A vCPU fault: retries (here: waits) while an invalidation is in progress. */
	sm_mutex_lock(&c.kvm.lock);
	sm_wait_event(&c.kvm.wq, &c.kvm.lock, c.kvm.in_progress == 0);
	c.installed = true;
	sm_mutex_unlock(&c.kvm.lock);
}

static void check(void *p)
{
	(void)p;
	EXPLORE_ASSERT(c.installed);
	EXPLORE_ASSERT_EQ(c.kvm.in_progress, 0);
	mmu_notifier_unregister(&c.kvm.mn, c.mm);
	mmu_notifier_unregister(&c.failer, c.mm);
	mmput(c.mm);
}

int main(void)
{
	struct explore_test t = {
		.name = "range_end_paired",
		.nr_threads = 2,
		.setup = setup,
		.thread = thread,
		.check = check,
	};
	struct explore_opts o = {.strategy = EXPLORE_STRATEGY_DFS, .bound = 2};
	struct explore_result r;
	int ret;

	if (phys_init(4UL << 20)) {
		fprintf(stderr, "exhibit: phys_init failed\n");
		return 2;
	}
	sm_mutex_init(&c.kvm.lock, "kvm->mmu_lock", LOCK_RANK_DRIVER_MMU);
	sm_mutex_set_spin(&c.kvm.lock); /* KVM's mmu_lock spins: callable non-blocking */
	sm_waitq_init(&c.kvm.wq, "kvm->invalidate_wq");
	ret = explore_run(&t, &o, &r, NULL);
	printf("exhibit range-end-unpaired: %lu schedules, %s\n", r.runs,
	       ret ? "FAILED" : "all pass");
	return ret;
}
