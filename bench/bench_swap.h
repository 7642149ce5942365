/* SPDX-License-Identifier: MIT */
/*
 * bench_swap.h - swap_out: paging out pages that two secondary MMUs (mirror
 * devices) map, to a swap file, against pwrite of the same bytes to the same
 * file. Ours pays for the reverse map, two invalidations per page (one per
 * device) and the write; the reference only for the write.
 *
 * Ours writes as Linux does under its block plug: the pages of consecutive
 * slots in one request of up to 32 pages (struct swap_plug in
 * src/mm/internal.h). swap_out keeps the reference, one pwrite()
 * per page; swap_out_vs_pwritev compares the same pageout with writes
 * issued as ours are (one pwritev() of 32 pages), so that its ratio is the
 * cost of the machinery itself: reverse map, invalidations, swap cache.
 */
#ifndef SECMMU_BENCH_SWAP_H
#define SECMMU_BENCH_SWAP_H

#include <fcntl.h>
#include <sys/uio.h>
#include <unistd.h>

#include "bench.h"
#include "secmmu/err.h"
#include "secmmu/mirror.h"
#include "secmmu/mm.h"
#include "secmmu/swap.h"

struct bs_arg {
	struct mm_struct *mm;
	struct mirror *m[2];
	unsigned long npages;
	char path[128];
	int fd;
	unsigned char *buf;
	unsigned char *pages; /* bs_ref_batched(): npages pages */
};

static unsigned char bs_byte(unsigned long page, unsigned long i)
{
	return (unsigned char)(page * 13 + i * 3 + 1);
}

/* Untimed: every page resident, written, and mapped by both devices. */
static void bs_populate(struct bs_arg *arg)
{
	unsigned char b;

	for (unsigned long p = 0; p < arg->npages; p++) {
		unsigned long addr = BENCH_BASE + p * PAGE_SIZE;

		for (unsigned long i = 0; i < PAGE_SIZE; i++)
			arg->buf[i] = bs_byte(p, i);
		BENCH_CHECK(mm_write(arg->mm, addr, arg->buf, PAGE_SIZE) == 0, "mm_write");
		for (int d = 0; d < 2; d++)
			BENCH_CHECK(mirror_read(arg->m[d], addr, &b, 1) == 0 && b == bs_byte(p, 0),
				    "mirror_read");
	}
}

static uint64_t __attribute__((unused)) bs_ours(void *a)
{
	struct bs_arg *arg = a;
	uint64_t t0, t1;

	bs_populate(arg);
	t0 = bench_now();
	BENCH_CHECK(mm_madvise(arg->mm, BENCH_BASE, arg->npages * PAGE_SIZE, MADV_PAGEOUT) == 0,
		    "pageout");
	t1 = bench_now();
	BENCH_CHECK(swap_slots_used() == arg->npages, "%lu of %lu pages swapped", swap_slots_used(),
		    arg->npages);
	BENCH_CHECK(mirror_nr_entries(arg->m[0]) == 0 && mirror_nr_entries(arg->m[1]) == 0,
		    "a device kept a translation of a swapped page");
	/* Swap in and check every byte. */
	for (unsigned long p = 0; p < arg->npages; p++) {
		BENCH_CHECK(mm_read(arg->mm, BENCH_BASE + p * PAGE_SIZE, arg->buf, PAGE_SIZE) == 0,
			    "swap-in");
		for (unsigned long i = 0; i < PAGE_SIZE; i += 97)
			BENCH_CHECK(arg->buf[i] == bs_byte(p, i), "page %lu byte %lu", p, i);
	}
	return t1 - t0;
}

static uint64_t __attribute__((unused)) bs_ref(void *a)
{
	struct bs_arg *arg = a;
	uint64_t t0, t1;

	for (unsigned long i = 0; i < PAGE_SIZE; i++)
		arg->buf[i] = bs_byte(1, i);
	t0 = bench_now();
	for (unsigned long p = 0; p < arg->npages; p++)
		BENCH_CHECK(pwrite(arg->fd, arg->buf, PAGE_SIZE, (off_t)(p * PAGE_SIZE)) ==
				    (ssize_t)PAGE_SIZE,
			    "pwrite");
	t1 = bench_now();
	BENCH_CHECK(pread(arg->fd, arg->buf, 1, PAGE_SIZE) == 1 && arg->buf[0] == bs_byte(1, 0),
		    "pread back");
	return t1 - t0;
}

/*
 * The same bytes from the same kind of memory in the requests ours issues:
 * each page's bytes written (untimed, as bs_populate() writes the frames)
 * into a buffer of npages pages, then 32 consecutive pages per pwritev().
 */
static uint64_t __attribute__((unused)) bs_ref_batched(void *a)
{
	struct bs_arg *arg = a;
	struct iovec iov[32];
	uint64_t t0, t1;

	for (unsigned long p = 0; p < arg->npages; p++)
		for (unsigned long i = 0; i < PAGE_SIZE; i++)
			arg->pages[p * PAGE_SIZE + i] = bs_byte(p, i);
	t0 = bench_now();
	for (unsigned long p = 0; p < arg->npages; p += 32) {
		int n = arg->npages - p < 32 ? (int)(arg->npages - p) : 32;

		for (int i = 0; i < n; i++)
			iov[i] = (struct iovec){.iov_base = arg->pages + (p + i) * PAGE_SIZE,
						.iov_len = PAGE_SIZE};
		BENCH_CHECK(pwritev(arg->fd, iov, n, (off_t)(p * PAGE_SIZE)) ==
				    (ssize_t)(n * PAGE_SIZE),
			    "pwritev");
	}
	t1 = bench_now();
	BENCH_CHECK(pread(arg->fd, arg->buf, 1, PAGE_SIZE) == 1 && arg->buf[0] == bs_byte(1, 0),
		    "pread back");
	return t1 - t0;
}

static void __attribute__((unused)) bench_swap_out(void)
{
	struct bs_arg arg = {.npages = bench_size(1024, 4)};

	snprintf(arg.path, sizeof(arg.path), "%s/secmmu-bench-swap-%d",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());
	BENCH_CHECK(swap_on((arg.npages + 16) * PAGE_SIZE, arg.path) == 0, "swap_on %s", arg.path);
	arg.fd = open(arg.path, O_RDWR);
	BENCH_CHECK(arg.fd >= 0, "open %s", arg.path);
	arg.buf = malloc(PAGE_SIZE);
	arg.pages = malloc(arg.npages * PAGE_SIZE);
	arg.mm = mm_alloc();
	BENCH_CHECK(arg.buf && arg.pages && arg.mm, "alloc");
	BENCH_CHECK(mm_mmap(arg.mm, BENCH_BASE, arg.npages * PAGE_SIZE, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE, NULL, 0) == (long)BENCH_BASE,
		    "mmap");
	for (int d = 0; d < 2; d++) {
		arg.m[d] = mirror_create(arg.mm, 0);
		BENCH_CHECK(!IS_ERR(arg.m[d]), "mirror_create");
	}
	/* The reference writes the same file at the same offsets, while no slot is in use. */
	bench_case("swap_out", bs_ours, bs_ref, &arg, arg.npages);
	bench_case("swap_out_vs_pwritev", bs_ours, bs_ref_batched, &arg, arg.npages);
	for (int d = 0; d < 2; d++)
		mirror_destroy(arg.m[d]);
	mmput(arg.mm);
	close(arg.fd);
	free(arg.buf);
	free(arg.pages);
	BENCH_CHECK(swap_slots_used() == 0 && swap_off() == 0, "swap slots left");
}

static void __attribute__((unused)) bench_swap_all(void)
{
	bench_swap_out();
}

#endif /* SECMMU_BENCH_SWAP_H */
