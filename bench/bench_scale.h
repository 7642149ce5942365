/* SPDX-License-Identifier: MIT */
/*
 * bench_scale.h - how cost grows with the work (docs/performance.md, "Scaling").
 *
 * Each series prints `scale SERIES key=value ...` lines, which `make bench`
 * collects into build/bench-SERIES.dat and plots in build/bench.png:
 *
 *   scale range pages=P invalidate_ns=X hits=H
 *        start+end over P pages of an mm holding one interval notifier per
 *        page (every second page), so the invalidation hits H = P/2 of them
 *   scale exit bytes=B ours_ns_per_page=X ref_ns_per_page=Y
 *        the last mmput of an mm with B bytes resident (one write per page),
 *        against the kernel's munmap of the same populated size
 *   scale metadata bytes_per_page=X kernel_bytes_per_page=Y ratio=R
 *        heap bytes of metadata per resident 4 KiB page (page tables,
 *        reverse map, VMA) plus our struct page, against the kernel's 64-byte
 *        struct page plus its 8-byte PTE
 *
 * The interval-count series (`scale intervals`) is in bench_notifier.h, the
 * device-fault series in bench_hmm.h and the explorer throughput (`scale
 * explore`) in bench/scale.c. The device-fault series is
 *   scale device_fault threads=T mirrors=M faults_per_sec=F
 *   scale copy_ref threads=T bytes_per_sec=B
 *   scale device_fault_bound copy_share=S copy_scaling=C bound=X
 * (T threads on M mirrors, each thread and its engine pinned to a CPU; the
 * memcpy of the same bytes on T pinned threads; and the two-thread ratio
 * the memory system allows, see bench_fault_scaling()).
 */
#ifndef SECMMU_BENCH_SCALE_H
#define SECMMU_BENCH_SCALE_H

#include <malloc.h>

#include "bench_mm.h"
#include "bench_notifier.h"

/* ---- invalidation cost against the size of the range --------------------- */

static inline double bs_range_ns(struct bn_itree *t, unsigned long pages, unsigned long iters)
{
	unsigned long first = t->n / 4, hits = 0;
	unsigned long start = BN_IV_ADDR(first), end = start + pages * PAGE_SIZE;
	struct mmu_notifier_range range;
	uint64_t best = UINT64_MAX;
	int reps = bench_smoke ? 1 : BENCH_REPS;

	for (int rep = 0; rep < reps; rep++) {
		uint64_t t0, t1;

		for (unsigned long k = 0; k < t->n; k++)
			t->iv[k].hits = 0;
		mmap_read_lock(t->mm);
		t0 = bench_now();
		for (unsigned long i = 0; i < iters; i++) {
			mmu_notifier_range_init(&range, MMU_NOTIFY_CLEAR, 0, t->mm, start, end);
			mmu_notifier_invalidate_range_start(&range);
			mmu_notifier_invalidate_range_end(&range);
		}
		t1 = bench_now();
		mmap_read_unlock(t->mm);
		if (t1 - t0 < best)
			best = t1 - t0;
	}
	/* Notifier k watches page 2k: the range hits ceil(pages / 2) of them. */
	for (unsigned long k = 0; k < t->n; k++)
		hits += t->iv[k].hits ? 1 : 0;
	BENCH_CHECK(hits == (pages + 1) / 2, "range of %lu pages hit %lu notifiers", pages, hits);
	return (double)best / (double)iters;
}

static void __attribute__((unused)) bench_scale_range(void)
{
	unsigned long max_pages = bench_size(65536, 16);
	struct bn_itree t;

	bn_itree_setup(&t, max_pages); /* covers 2 * max_pages pages */
	for (unsigned long pages = 1; pages <= max_pages; pages *= 4) {
		unsigned long iters = bench_size(200000 / pages + 10, 2);

		printf("scale range pages=%lu invalidate_ns=%.1f hits=%lu\n", pages,
		       bs_range_ns(&t, pages, iters), (pages + 1) / 2);
		fflush(stdout);
	}
	bn_itree_teardown(&t);
}

/* ---- exit cost against resident memory ------------------------------------ */

static inline uint64_t bs_exit_ours(unsigned long npages)
{
	struct mm_struct *mm = bmm_new_mm(npages);
	uint64_t t0;

	bmm_touch(mm, npages, 3);
	t0 = bench_now();
	mmput(mm);
	return bench_now() - t0;
}

static inline uint64_t bs_exit_ref(unsigned long npages)
{
	unsigned char *p = kmm_map(npages);
	uint64_t t0;

	kmm_touch(p, npages, 3);
	t0 = bench_now();
	BENCH_CHECK(munmap(p, npages * PAGE_SIZE) == 0, "munmap");
	return bench_now() - t0;
}

static void __attribute__((unused)) bench_scale_exit(unsigned long max_bytes)
{
	for (unsigned long bytes = 1UL << 20; bytes <= max_bytes; bytes <<= 2) {
		unsigned long npages = bytes / PAGE_SIZE;
		int reps = bench_smoke ? 1 : (bytes >= (1UL << 30) ? 3 : 5);
		uint64_t o[BENCH_REPS], r[BENCH_REPS];

		for (int i = 0; i < reps; i++) {
			o[i] = bs_exit_ours(npages);
			r[i] = bs_exit_ref(npages);
		}
		bench_check_no_leak("scale exit");
		printf("scale exit bytes=%lu ours_ns_per_page=%.1f ref_ns_per_page=%.1f\n", bytes,
		       (double)bench_median(o, reps) / (double)npages,
		       (double)bench_median(r, reps) / (double)npages);
		fflush(stdout);
	}
}

/* ---- metadata bytes per resident page ------------------------------------- */

/* The kernel: a 64-byte struct page per frame plus the 8-byte PTE mapping it. */
#define BS_KERNEL_BYTES_PER_PAGE 72.0

static void __attribute__((unused)) bench_scale_metadata(void)
{
	unsigned long npages = bench_size(65536, 64);
	struct mm_struct *mm;
	size_t before, after;
	double per_page;

	before = mallinfo2().uordblks;
	mm = bmm_new_mm(npages);
	bmm_touch(mm, npages, 5);
	after = mallinfo2().uordblks;
	per_page = (double)(after - before) / (double)npages + (double)sizeof(struct page);
	printf("scale metadata bytes_per_page=%.1f kernel_bytes_per_page=%.1f ratio=%.3f\n",
	       per_page, BS_KERNEL_BYTES_PER_PAGE, per_page / BS_KERNEL_BYTES_PER_PAGE);
	fflush(stdout);
	mmput(mm);
}

#endif /* SECMMU_BENCH_SCALE_H */
