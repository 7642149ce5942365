/* SPDX-License-Identifier: MIT */
/*
 * bench_notifier.h - MMU-notifier dispatch: notifier_dispatch_1/_16,
 * interval_100k, and the invalidation cost against the number of interval
 * notifiers (scaling table "scale intervals").
 */
#ifndef SECMMU_BENCH_NOTIFIER_H
#define SECMMU_BENCH_NOTIFIER_H

#include <stddef.h>

#include "bench.h"
#include "secmmu/err.h"
#include "secmmu/mm.h"
#include "secmmu/mmu_notifier.h"
#include "secmmu/mmu_notifier_hooks.h"

/* ---- classic notifiers -------------------------------------------------- */

struct bn_classic {
	struct mmu_notifier mn; /* first: the callbacks cast back */
	unsigned long starts, ends;
};

static int bn_start(struct mmu_notifier *sub, const struct mmu_notifier_range *range)
{
	struct bn_classic *c = (struct bn_classic *)sub;

	c->starts += (range->end - range->start) >> PAGE_SHIFT;
	return 0;
}

static void bn_end(struct mmu_notifier *sub, const struct mmu_notifier_range *range)
{
	struct bn_classic *c = (struct bn_classic *)sub;

	c->ends += (range->end - range->start) >> PAGE_SHIFT;
}

static const struct mmu_notifier_ops bn_classic_ops __attribute__((unused)) = {
	.invalidate_range_start = bn_start,
	.invalidate_range_end = bn_end,
};

#define BN_MAX_CLASSIC 16

struct bn_dispatch_arg {
	int nsubs;
	unsigned long iters;
};

/* Ours: the core's dispatch through mmu_notifier_invalidate_range_start/end. */
static uint64_t __attribute__((unused)) bn_dispatch_ours(void *a)
{
	struct bn_dispatch_arg *arg = a;
	struct bn_classic subs[BN_MAX_CLASSIC];
	struct mm_struct *mm = mm_alloc();
	struct mmu_notifier_range range;
	uint64_t t0, t1;

	BENCH_CHECK(mm, "mm_alloc");
	memset(subs, 0, sizeof(subs));
	for (int k = 0; k < arg->nsubs; k++) {
		subs[k].mn.ops = &bn_classic_ops;
		int r = mmu_notifier_register(&subs[k].mn, mm);

		BENCH_CHECK(r == 0, "mmu_notifier_register: %d", r);
	}
	mmap_read_lock(mm);
	t0 = bench_now();
	for (unsigned long i = 0; i < arg->iters; i++) {
		mmu_notifier_range_init(&range, MMU_NOTIFY_CLEAR, 0, mm, BENCH_BASE,
					BENCH_BASE + PAGE_SIZE);
		mmu_notifier_invalidate_range_start(&range);
		mmu_notifier_invalidate_range_end(&range);
	}
	t1 = bench_now();
	mmap_read_unlock(mm);
	for (int k = 0; k < arg->nsubs; k++) {
		BENCH_CHECK(subs[k].starts == arg->iters && subs[k].ends == arg->iters,
			    "notifier %d: %lu starts %lu ends, want %lu", k, subs[k].starts,
			    subs[k].ends, arg->iters);
		mmu_notifier_unregister(&subs[k].mn, mm);
	}
	mmput(mm);
	return t1 - t0;
}

/* The reference: the same callbacks called directly, through the ops pointer. */
static uint64_t __attribute__((unused)) bn_dispatch_ref(void *a)
{
	struct bn_dispatch_arg *arg = a;
	struct bn_classic subs[BN_MAX_CLASSIC];
	struct mmu_notifier_range range;
	uint64_t t0, t1;

	memset(subs, 0, sizeof(subs));
	for (int k = 0; k < arg->nsubs; k++)
		subs[k].mn.ops = &bn_classic_ops;
	t0 = bench_now();
	for (unsigned long i = 0; i < arg->iters; i++) {
		mmu_notifier_range_init(&range, MMU_NOTIFY_CLEAR, 0, NULL, BENCH_BASE,
					BENCH_BASE + PAGE_SIZE);
		for (int k = 0; k < arg->nsubs; k++) {
			/* Through a volatile pointer: the call cannot be inlined away. */
			struct mmu_notifier *volatile sub = &subs[k].mn;

			sub->ops->invalidate_range_start(sub, &range);
		}
		for (int k = 0; k < arg->nsubs; k++) {
			struct mmu_notifier *volatile sub = &subs[k].mn;

			sub->ops->invalidate_range_end(sub, &range);
		}
	}
	t1 = bench_now();
	for (int k = 0; k < arg->nsubs; k++)
		BENCH_CHECK(subs[k].starts == arg->iters && subs[k].ends == arg->iters,
			    "ref notifier %d", k);
	return t1 - t0;
}

/* ---- interval notifiers -------------------------------------------------- */

struct bn_interval {
	struct mmu_interval_notifier sub;
	unsigned long hits;
};

static bool bn_interval_invalidate(struct mmu_interval_notifier *sub,
				   const struct mmu_notifier_range *range, unsigned long cur_seq)
{
	struct bn_interval *iv =
		(struct bn_interval *)((char *)sub - offsetof(struct bn_interval, sub));

	(void)range;
	/* No device lock to take: the benchmark has no fault path racing. */
	mmu_interval_set_seq(sub, cur_seq);
	iv->hits++;
	return true;
}

static const struct mmu_interval_notifier_ops bn_interval_ops __attribute__((unused)) = {
	.invalidate = bn_interval_invalidate,
};

/*
 * An mm with @n interval notifiers, notifier k watching page 2k (one page,
 * a one-page gap between neighbours). The mm exists only for the notifiers:
 * the invalidations below are driven directly, nothing is mapped.
 */
struct bn_itree {
	struct mm_struct *mm;
	struct bn_interval *iv;
	unsigned long n;
};

#define BN_IV_ADDR(k) (BENCH_BASE + 2UL * (k)*PAGE_SIZE)

static inline void bn_itree_setup(struct bn_itree *t, unsigned long n)
{
	t->mm = mm_alloc();
	BENCH_CHECK(t->mm, "mm_alloc");
	t->n = n;
	t->iv = calloc(n, sizeof(*t->iv));
	BENCH_CHECK(t->iv, "calloc");
	for (unsigned long k = 0; k < n; k++) {
		int r = mmu_interval_notifier_insert(&t->iv[k].sub, t->mm, BN_IV_ADDR(k), PAGE_SIZE,
						     &bn_interval_ops);

		BENCH_CHECK(r == 0, "mmu_interval_notifier_insert %lu: %d", k, r);
	}
}

static inline void bn_itree_teardown(struct bn_itree *t)
{
	for (unsigned long k = 0; k < t->n; k++)
		mmu_interval_notifier_remove(&t->iv[k].sub);
	free(t->iv);
	mmput(t->mm);
}

/* @iters invalidations of one page, hitting exactly notifier @n/2. */
static inline uint64_t bn_itree_run(struct bn_itree *t, unsigned long iters)
{
	unsigned long target = t->n / 2;
	struct mmu_notifier_range range;
	uint64_t t0, t1;

	for (unsigned long k = 0; k < t->n; k++)
		t->iv[k].hits = 0;
	mmap_read_lock(t->mm);
	t0 = bench_now();
	for (unsigned long i = 0; i < iters; i++) {
		mmu_notifier_range_init(&range, MMU_NOTIFY_CLEAR, 0, t->mm, BN_IV_ADDR(target),
					BN_IV_ADDR(target) + PAGE_SIZE);
		mmu_notifier_invalidate_range_start(&range);
		mmu_notifier_invalidate_range_end(&range);
	}
	t1 = bench_now();
	mmap_read_unlock(t->mm);
	for (unsigned long k = 0; k < t->n; k++)
		BENCH_CHECK(t->iv[k].hits == (k == target ? iters : 0),
			    "interval %lu of %lu: %lu hits", k, t->n, t->iv[k].hits);
	/* No invalidation left open: this would wait for it forever. */
	(void)mmu_interval_read_begin(&t->iv[target].sub);
	return t1 - t0;
}

struct bn_interval_arg {
	struct bn_itree *big, *one;
	unsigned long iters;
};

static uint64_t __attribute__((unused)) bn_interval_ours(void *a)
{
	struct bn_interval_arg *arg = a;

	return bn_itree_run(arg->big, arg->iters);
}

static uint64_t __attribute__((unused)) bn_interval_ref(void *a)
{
	struct bn_interval_arg *arg = a;

	return bn_itree_run(arg->one, arg->iters);
}

#ifdef CONFIG_MMU_NOTIFIER
/*
 * The KERNEL_NOTIFIER variant: Linux's own mm/mmu_notifier.c under the same
 * dispatch cases, with the same reference in the same run. Its SRCU read
 * side is ours (kshim). `make bench` runs it when the kernel source is
 * extracted: the cost of the kernel's code is the floor the notifier_dispatch
 * targets are judged against (docs/performance.md).
 */
static void __attribute__((unused)) bench_notifier_all(void)
{
	unsigned long iters = bench_size(2000000, 10);
	struct bn_dispatch_arg d1 = {.nsubs = 1, .iters = iters};
	struct bn_dispatch_arg d16 = {.nsubs = 16, .iters = iters};

	bench_case("notifier_dispatch_1_linux", bn_dispatch_ours, bn_dispatch_ref, &d1, iters);
	bench_case("notifier_dispatch_16_linux", bn_dispatch_ours, bn_dispatch_ref, &d16, iters);
}
#else
static void __attribute__((unused)) bench_notifier_all(void)
{
	unsigned long iters = bench_size(2000000, 10);
	struct bn_dispatch_arg d1 = {.nsubs = 1, .iters = iters};
	struct bn_dispatch_arg d16 = {.nsubs = 16, .iters = iters};
	struct bn_itree big, one;
	unsigned long nbig = bench_size(100000, 100);
	struct bn_interval_arg ia = {.big = &big, .one = &one, .iters = iters};

	bench_case("notifier_dispatch_1", bn_dispatch_ours, bn_dispatch_ref, &d1, iters);
	bench_case("notifier_dispatch_16", bn_dispatch_ours, bn_dispatch_ref, &d16, iters);

	bn_itree_setup(&big, nbig);
	bn_itree_setup(&one, 1);
	bench_case("interval_100k", bn_interval_ours, bn_interval_ref, &ia, iters);
	bn_itree_teardown(&one);
	bn_itree_teardown(&big);

	/* Scaling: invalidation cost against the number of interval notifiers. */
	for (unsigned long n = 1; n <= bench_size(1000000, 100); n *= 10) {
		struct bn_itree t;
		struct bn_interval_arg sa = {.big = &t, .one = &t, .iters = iters};
		uint64_t t0 = bench_now();
		double ns, ins;

		bn_itree_setup(&t, n);
		ins = (double)(bench_now() - t0) / (double)n;
		ns = bench_measure(bn_interval_ours, &sa, iters);
		printf("scale intervals n=%lu invalidate_ns=%.1f insert_ns=%.1f\n", n, ns, ins);
		fflush(stdout);
		bn_itree_teardown(&t);
	}
}
#endif /* CONFIG_MMU_NOTIFIER */

#endif /* SECMMU_BENCH_NOTIFIER_H */
