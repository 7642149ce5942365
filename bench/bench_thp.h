/* SPDX-License-Identifier: MIT */
/*
 * bench_thp.h - transparent huge pages against the running kernel (THP in
 * madvise mode, so the kernel side uses MADV_HUGEPAGE as ours does):
 *   fault_thp   first touch of a 2 MiB-aligned MADV_HUGEPAGE range (one PMD
 *               fault, 2 MiB zeroed): ns per huge page
 *   split_thp   mprotect of one 4 KiB page inside a PMD-mapped huge page
 *               (VMA split, PMD split with its 2 MiB invalidation): ns per split
 */
#ifndef SECMMU_BENCH_THP_H
#define SECMMU_BENCH_THP_H

#include <stdint.h>
#include <sys/mman.h>

#include "bench.h"
#include "secmmu/mm.h"

#define BTHP_RW (PROT_READ | PROT_WRITE)

struct bthp_arg {
	unsigned long nhuge;
};

/* ---- ours ------------------------------------------------------------- */

static inline struct mm_struct *bthp_mm(unsigned long nhuge)
{
	struct mm_struct *mm = mm_alloc();
	long r;

	BENCH_CHECK(mm, "mm_alloc");
	r = mm_mmap(mm, BENCH_BASE, nhuge * HPAGE_PMD_SIZE, BTHP_RW, MAP_PRIVATE, NULL, 0);
	BENCH_CHECK(r == (long)BENCH_BASE, "mm_mmap: %ld", r);
	r = mm_madvise(mm, BENCH_BASE, nhuge * HPAGE_PMD_SIZE, MADV_HUGEPAGE);
	BENCH_CHECK(r == 0, "madvise hugepage: %ld", r);
	return mm;
}

static inline void bthp_touch(struct mm_struct *mm, unsigned long nhuge)
{
	for (unsigned long i = 0; i < nhuge; i++) {
		unsigned char c = (unsigned char)(i + 1);
		int r = mm_write(mm, BENCH_BASE + i * HPAGE_PMD_SIZE, &c, 1);

		BENCH_CHECK(r == 0, "mm_write huge page %lu: %d", i, r);
	}
}

static inline void bthp_check_huge(struct mm_struct *mm, unsigned long want)
{
	struct mm_stats st;

	mm_get_stats(mm, &st);
	BENCH_CHECK(st.thp == want, "thp=%lu, want %lu", st.thp, want);
}

static uint64_t __attribute__((unused)) bthp_fault_ours(void *a)
{
	struct bthp_arg *arg = a;
	struct mm_struct *mm = bthp_mm(arg->nhuge);
	uint64_t t0, t1;

	t0 = bench_now();
	bthp_touch(mm, arg->nhuge);
	t1 = bench_now();
	bthp_check_huge(mm, arg->nhuge);
	mmput(mm);
	return t1 - t0;
}

static uint64_t __attribute__((unused)) bthp_split_ours(void *a)
{
	struct bthp_arg *arg = a;
	struct mm_struct *mm = bthp_mm(arg->nhuge);
	uint64_t t0, t1;

	bthp_touch(mm, arg->nhuge);
	bthp_check_huge(mm, arg->nhuge);
	t0 = bench_now();
	for (unsigned long i = 0; i < arg->nhuge; i++) {
		int r = mm_mprotect(mm, BENCH_BASE + i * HPAGE_PMD_SIZE + PAGE_SIZE, PAGE_SIZE,
				    PROT_READ);

		BENCH_CHECK(r == 0, "mprotect: %d", r);
	}
	t1 = bench_now();
	bthp_check_huge(mm, 0);
	mmput(mm);
	return t1 - t0;
}

/* ---- the kernel --------------------------------------------------------- */

/* A 2 MiB-aligned MADV_HUGEPAGE area of @nhuge huge pages; *@raw/@rawlen to unmap. */
static inline unsigned char *kthp_map(unsigned long nhuge, void **raw, size_t *rawlen)
{
	size_t len = nhuge * HPAGE_PMD_SIZE;
	unsigned char *p;

	*rawlen = len + HPAGE_PMD_SIZE;
	*raw = mmap(NULL, *rawlen, BTHP_RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	BENCH_CHECK(*raw != MAP_FAILED, "mmap: %s", strerror(errno));
	p = (unsigned char *)(((uintptr_t)*raw + HPAGE_PMD_SIZE - 1) & HPAGE_PMD_MASK);
	BENCH_CHECK(!madvise(p, len, MADV_HUGEPAGE), "madvise: %s", strerror(errno));
	return p;
}

static uint64_t __attribute__((unused)) bthp_fault_ref(void *a)
{
	struct bthp_arg *arg = a;
	size_t rawlen;
	void *raw;
	volatile unsigned char *p = kthp_map(arg->nhuge, &raw, &rawlen);
	uint64_t t0, t1;

	t0 = bench_now();
	for (unsigned long i = 0; i < arg->nhuge; i++)
		p[i * HPAGE_PMD_SIZE] = (unsigned char)(i + 1);
	t1 = bench_now();
	munmap(raw, rawlen);
	return t1 - t0;
}

static uint64_t __attribute__((unused)) bthp_split_ref(void *a)
{
	struct bthp_arg *arg = a;
	size_t rawlen;
	void *raw;
	unsigned char *p = kthp_map(arg->nhuge, &raw, &rawlen);
	uint64_t t0, t1;

	for (unsigned long i = 0; i < arg->nhuge; i++)
		((volatile unsigned char *)p)[i * HPAGE_PMD_SIZE] = (unsigned char)(i + 1);
	t0 = bench_now();
	for (unsigned long i = 0; i < arg->nhuge; i++)
		BENCH_CHECK(!mprotect(p + i * HPAGE_PMD_SIZE + PAGE_SIZE, PAGE_SIZE, PROT_READ),
			    "mprotect: %s", strerror(errno));
	t1 = bench_now();
	munmap(raw, rawlen);
	return t1 - t0;
}

static void __attribute__((unused)) bench_thp_all(void)
{
	/* bench.h's physical memory (512 MiB) holds 255 huge pages; the smoke test's 16 MiB, 7. */
	struct bthp_arg arg = {.nhuge = bench_size(64, 2)};
	int mode = thp_get_mode();

	thp_set_mode(THP_MADVISE);
	bench_case("fault_thp", bthp_fault_ours, bthp_fault_ref, &arg, arg.nhuge);
	bench_case("split_thp", bthp_split_ours, bthp_split_ref, &arg, arg.nhuge);
	thp_set_mode(mode);
}

#endif /* SECMMU_BENCH_THP_H */
