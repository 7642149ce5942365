/* SPDX-License-Identifier: MIT */
/*
 * bench_mm.h - primary-MMU benchmarks against the running Linux kernel:
 * fault_anon, munmap_populated, fork_cow, mprotect_split, exit_teardown.
 */
#ifndef SECMMU_BENCH_MM_H
#define SECMMU_BENCH_MM_H

#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"
#include "secmmu/err.h"
#include "secmmu/mirror.h"
#include "secmmu/mm.h"

#define BMM_RW (PROT_READ | PROT_WRITE)

static inline unsigned char bmm_byte(unsigned long i, unsigned seed)
{
	return (unsigned char)(i * 131 + seed * 7 + 1);
}

/* ---- ours: helpers ---------------------------------------------------- */

static inline struct mm_struct *bmm_new_mm(unsigned long npages)
{
	struct mm_struct *mm = mm_alloc();
	long r;

	BENCH_CHECK(mm, "mm_alloc");
	r = mm_mmap(mm, BENCH_BASE, npages * PAGE_SIZE, BMM_RW, MAP_PRIVATE, NULL, 0);
	BENCH_CHECK(r == (long)BENCH_BASE, "mm_mmap: %ld", r);
	return mm;
}

static inline void bmm_touch(struct mm_struct *mm, unsigned long npages, unsigned seed)
{
	for (unsigned long i = 0; i < npages; i++) {
		unsigned char c = bmm_byte(i, seed);
		int r = mm_write(mm, BENCH_BASE + i * PAGE_SIZE, &c, 1);

		BENCH_CHECK(r == 0, "mm_write page %lu: %d", i, r);
	}
}

static inline void bmm_verify(struct mm_struct *mm, unsigned long npages, unsigned seed)
{
	for (unsigned long i = 0; i < npages; i++) {
		unsigned char c;
		int r = mm_read(mm, BENCH_BASE + i * PAGE_SIZE, &c, 1);

		BENCH_CHECK(r == 0 && c == bmm_byte(i, seed), "page %lu: r=%d byte %#x want %#x", i,
			    r, c, bmm_byte(i, seed));
	}
}

/* ---- kernel: helpers -------------------------------------------------- */

static inline unsigned char *kmm_map(unsigned long npages)
{
	void *p = mmap(NULL, npages * PAGE_SIZE, BMM_RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	BENCH_CHECK(p != MAP_FAILED, "mmap: %s", strerror(errno));
	return p;
}

static inline void kmm_touch(volatile unsigned char *p, unsigned long npages, unsigned seed)
{
	for (unsigned long i = 0; i < npages; i++)
		p[i * PAGE_SIZE] = bmm_byte(i, seed);
}

static inline void kmm_verify(const volatile unsigned char *p, unsigned long npages, unsigned seed)
{
	for (unsigned long i = 0; i < npages; i++)
		BENCH_CHECK(p[i * PAGE_SIZE] == bmm_byte(i, seed), "kernel page %lu", i);
}

static inline void kmm_unmap(void *p, unsigned long npages)
{
	BENCH_CHECK(munmap(p, npages * PAGE_SIZE) == 0, "munmap: %s", strerror(errno));
}

/* ---- fault_anon: mmap + first write to each page ----------------------- */

struct bmm_arg {
	unsigned long npages;
	unsigned long iters; /* mprotect_split */
};

static uint64_t __attribute__((unused)) bmm_fault_ours(void *a)
{
	struct bmm_arg *arg = a;
	struct mm_struct *mm = mm_alloc();
	uint64_t t0, t1;
	long r;

	BENCH_CHECK(mm, "mm_alloc");
	t0 = bench_now();
	r = mm_mmap(mm, BENCH_BASE, arg->npages * PAGE_SIZE, BMM_RW, MAP_PRIVATE, NULL, 0);
	bmm_touch(mm, arg->npages, 1);
	t1 = bench_now();
	BENCH_CHECK(r == (long)BENCH_BASE, "mm_mmap: %ld", r);
	bmm_verify(mm, arg->npages, 1);
	mmput(mm);
	return t1 - t0;
}

static uint64_t __attribute__((unused)) bmm_fault_ref(void *a)
{
	struct bmm_arg *arg = a;
	unsigned char *p;
	uint64_t t0, t1;

	t0 = bench_now();
	p = kmm_map(arg->npages);
	kmm_touch(p, arg->npages, 1);
	t1 = bench_now();
	kmm_verify(p, arg->npages, 1);
	kmm_unmap(p, arg->npages);
	return t1 - t0;
}

/* ---- munmap_populated ----------------------------------------------- */

static uint64_t __attribute__((unused)) bmm_munmap_ours(void *a)
{
	struct bmm_arg *arg = a;
	struct mm_struct *mm = bmm_new_mm(arg->npages);
	struct mm_stats st;
	uint64_t t0, t1;
	int r;

	bmm_touch(mm, arg->npages, 2);
	mm_get_stats(mm, &st);
	BENCH_CHECK(st.rss == arg->npages, "rss %lu", st.rss);
	t0 = bench_now();
	r = mm_munmap(mm, BENCH_BASE, arg->npages * PAGE_SIZE);
	t1 = bench_now();
	BENCH_CHECK(r == 0, "mm_munmap: %d", r);
	mm_get_stats(mm, &st);
	BENCH_CHECK(st.rss == 0, "rss after munmap %lu", st.rss);
	mmput(mm);
	return t1 - t0;
}

static uint64_t __attribute__((unused)) bmm_munmap_ref(void *a)
{
	struct bmm_arg *arg = a;
	unsigned char *p = kmm_map(arg->npages);
	uint64_t t0, t1;

	kmm_touch(p, arg->npages, 2);
	t0 = bench_now();
	kmm_unmap(p, arg->npages);
	t1 = bench_now();
	return t1 - t0;
}

/* ---- fork_cow: fork + the child writes every page ----------------------- */

static uint64_t __attribute__((unused)) bmm_fork_ours(void *a)
{
	struct bmm_arg *arg = a;
	struct mm_struct *mm = bmm_new_mm(arg->npages), *child;
	uint64_t t0, t1;

	bmm_touch(mm, arg->npages, 3);
	t0 = bench_now();
	child = dup_mm(mm);
	BENCH_CHECK(!IS_ERR(child), "dup_mm: %ld", PTR_ERR(child));
	bmm_touch(child, arg->npages, 4);
	t1 = bench_now();
	bmm_verify(child, arg->npages, 4);
	bmm_verify(mm, arg->npages, 3);
	mmput(child);
	mmput(mm);
	return t1 - t0;
}

/*
 * The kernel: the parent reads the clock, forks; the child writes every page,
 * reads the clock and sends it through a pipe, checks its data, exits. The
 * time is fork .. the child's last write: the child's exit is not counted,
 * as ours does not count mmput(child).
 */
static uint64_t __attribute__((unused)) bmm_fork_ref(void *a)
{
	struct bmm_arg *arg = a;
	unsigned char *p = kmm_map(arg->npages);
	uint64_t t0, t1 = 0;
	int pfd[2], st;
	pid_t pid;

	kmm_touch(p, arg->npages, 3);
	BENCH_CHECK(pipe(pfd) == 0, "pipe");
	fflush(NULL);
	t0 = bench_now();
	pid = fork();
	BENCH_CHECK(pid >= 0, "fork: %s", strerror(errno));
	if (pid == 0) {
		uint64_t t;
		bool ok = true;

		kmm_touch(p, arg->npages, 4);
		t = bench_now();
		for (unsigned long i = 0; i < arg->npages; i++)
			ok &= p[i * PAGE_SIZE] == bmm_byte(i, 4);
		if (!ok)
			t = 0;
		if (write(pfd[1], &t, sizeof(t)) != sizeof(t))
			_exit(2);
		_exit(ok ? 0 : 1);
	}
	close(pfd[1]);
	BENCH_CHECK(read(pfd[0], &t1, sizeof(t1)) == sizeof(t1), "pipe read");
	close(pfd[0]);
	BENCH_CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0,
		    "child failed (status %#x)", st);
	BENCH_CHECK(t1 > t0, "child data check failed");
	kmm_verify(p, arg->npages, 3);
	kmm_unmap(p, arg->npages);
	return t1 - t0;
}

/* ---- mprotect_split: one page of a large VMA to read-only and back ------- */
/* nops = 2 * iters: the time is per mprotect call. */

static uint64_t __attribute__((unused)) bmm_mprotect_ours(void *a)
{
	struct bmm_arg *arg = a;
	struct mm_struct *mm = bmm_new_mm(arg->npages);
	uint64_t t0, t1;
	unsigned char c = 0x5a;
	int r;

	bmm_touch(mm, arg->npages, 5);
	/* Untimed: the split really protects. */
	r = mm_mprotect(mm, BENCH_BASE + PAGE_SIZE, PAGE_SIZE, PROT_READ);
	BENCH_CHECK(r == 0, "mm_mprotect: %d", r);
	BENCH_CHECK(mm_write(mm, BENCH_BASE + PAGE_SIZE, &c, 1) == -EFAULT, "write to RO page");
	r = mm_mprotect(mm, BENCH_BASE + PAGE_SIZE, PAGE_SIZE, BMM_RW);
	BENCH_CHECK(r == 0, "mm_mprotect: %d", r);
	t0 = bench_now();
	for (unsigned long i = 0; i < arg->iters; i++) {
		unsigned long addr = BENCH_BASE + (1 + (i * 37) % (arg->npages - 2)) * PAGE_SIZE;

		r = mm_mprotect(mm, addr, PAGE_SIZE, PROT_READ);
		r |= mm_mprotect(mm, addr, PAGE_SIZE, BMM_RW);
		if (r)
			break;
	}
	t1 = bench_now();
	BENCH_CHECK(r == 0, "mm_mprotect loop: %d", r);
	bmm_verify(mm, arg->npages, 5);
	bmm_touch(mm, arg->npages, 6); /* everything writable again */
	mmput(mm);
	return t1 - t0;
}

static uint64_t __attribute__((unused)) bmm_mprotect_ref(void *a)
{
	struct bmm_arg *arg = a;
	unsigned char *p = kmm_map(arg->npages);
	uint64_t t0, t1;
	int r = 0;

	kmm_touch(p, arg->npages, 5);
	t0 = bench_now();
	for (unsigned long i = 0; i < arg->iters; i++) {
		unsigned char *addr = p + (1 + (i * 37) % (arg->npages - 2)) * PAGE_SIZE;

		r = mprotect(addr, PAGE_SIZE, PROT_READ);
		r |= mprotect(addr, PAGE_SIZE, BMM_RW);
		if (r)
			break;
	}
	t1 = bench_now();
	BENCH_CHECK(r == 0, "mprotect loop: %s", strerror(errno));
	kmm_verify(p, arg->npages, 5);
	kmm_touch(p, arg->npages, 6);
	kmm_unmap(p, arg->npages);
	return t1 - t0;
}

/* ---- exit_teardown: mmput of a populated mm with three mirrors ----------- */

static uint64_t __attribute__((unused)) bmm_exit_ours(void *a)
{
	struct bmm_arg *arg = a;
	struct mm_struct *mm = bmm_new_mm(arg->npages);
	struct mirror *m[3];
	unsigned char c;
	uint64_t t0, t1;

	bmm_touch(mm, arg->npages, 7);
	for (int k = 0; k < 3; k++) {
		m[k] = mirror_create(mm, 0);
		BENCH_CHECK(!IS_ERR(m[k]), "mirror_create: %ld", PTR_ERR(m[k]));
		/* Each device translates every page (one read per page). */
		for (unsigned long i = 0; i < arg->npages; i++) {
			int r = mirror_read(m[k], BENCH_BASE + i * PAGE_SIZE, &c, 1);

			BENCH_CHECK(r == 0 && c == bmm_byte(i, 7), "mirror_read: %d", r);
		}
		BENCH_CHECK(mirror_nr_entries(m[k]) == arg->npages, "entries %lu",
			    mirror_nr_entries(m[k]));
	}
	t0 = bench_now();
	mmput(mm);
	t1 = bench_now();
	for (int k = 0; k < 3; k++) {
		BENCH_CHECK(mirror_nr_entries(m[k]) == 0, "mirror kept %lu entries",
			    mirror_nr_entries(m[k]));
		BENCH_CHECK(mirror_read(m[k], BENCH_BASE, &c, 1) == -ESRCH, "read after exit");
		BENCH_CHECK(mirror_nr_stale(m[k]) == 0, "stale");
		mirror_destroy(m[k]);
	}
	return t1 - t0;
}

static uint64_t __attribute__((unused)) bmm_exit_ref(void *a)
{
	return bmm_munmap_ref(a);
}

static void __attribute__((unused)) bench_mm_all(void)
{
	struct bmm_arg big = {.npages = bench_size(16384, 16)};
	struct bmm_arg fork_arg = {.npages = bench_size(16384, 16)};
	struct bmm_arg mp = {.npages = bench_size(16384, 16), .iters = bench_size(20000, 4)};
	struct bmm_arg ex = {.npages = bench_size(4096, 16)};

	bench_case("fault_anon", bmm_fault_ours, bmm_fault_ref, &big, big.npages);
	bench_case("munmap_populated", bmm_munmap_ours, bmm_munmap_ref, &big, big.npages);
	bench_case("fork_cow", bmm_fork_ours, bmm_fork_ref, &fork_arg, fork_arg.npages);
	bench_case("mprotect_split", bmm_mprotect_ours, bmm_mprotect_ref, &mp, 2 * mp.iters);
	bench_case("exit_teardown", bmm_exit_ours, bmm_exit_ref, &ex, ex.npages);
}

#endif /* SECMMU_BENCH_MM_H */
