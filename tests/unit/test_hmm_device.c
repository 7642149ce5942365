// SPDX-License-Identifier: MIT
/*
 * HMM device memory: device-private pages, migrate_vma, CPU faults that
 * bring pages back, device-exclusive access, snapshots -- one test per case
 * of the kernel's HMM selftest suite (tools/testing/selftests/mm/hmm-tests.c)
 * that needs no hugetlbfs, written against the mirror device (our dmirror),
 * plus the core rules behind them (owner cookies, -EPERM, check, swap, KSM,
 * fork, exit, GUP).
 *
 * The kernel's cases report per-command counters (faults, cpages); the
 * mirror counts since creation, so the tests compare differences.
 */
#include <string.h>

#include "base/debug.h"
#include "base/thread.h"

#include "secmmu/check.h"
#include "secmmu/file.h"
#include "secmmu/gup.h"
#include "secmmu/hmm.h"
#include "secmmu/memremap.h"
#include "secmmu/migrate.h"
#include "secmmu/mirror.h"
#include "secmmu/mmu_notifier.h"
#include "secmmu/swap.h"
#include "testutil.h"

#define NPAGES 64

struct counts {
	unsigned long faults, cpages;
};

static struct counts counts_of(struct mirror *m)
{
	return (struct counts){mirror_nr_faults(m), mirror_nr_cpages(m)};
}

/* The device's faults and copied pages since @before. */
#define ASSERT_COUNTS(m, before, f, c)                                                             \
	do {                                                                                       \
		ASSERT_UEQ(mirror_nr_faults(m) - (before).faults, (f));                            \
		ASSERT_UEQ(mirror_nr_cpages(m) - (before).cpages, (c));                            \
	} while (0)

static char first_problem[256];

static void record_problem(void *arg, const char *fmt, va_list ap)
{
	(void)arg;
	if (!first_problem[0])
		vsnprintf(first_problem, sizeof(first_problem), fmt, ap);
}

static void assert_check_clean(void)
{
	first_problem[0] = 0;
	if (mm_check_invariants(record_problem, NULL))
		FAIL("check: %s", first_problem);
}

static struct mirror *new_mirror(struct mm_struct *mm)
{
	struct mirror *m = mirror_create(mm, 0);

	ASSERT(!IS_ERR(m));
	return m;
}

/* DMA-read @npages from @addr and compare with pattern @seed. */
static void device_check_pages(struct mirror *m, unsigned long addr, unsigned long npages,
			       unsigned long seed)
{
	static uint8_t buf[PAGE_SIZE];

	for (unsigned long i = 0; i < npages; i++) {
		ASSERT_EQ(mirror_read(m, addr + PG(i), buf, PAGE_SIZE), 0);
		ASSERT_PATTERN(buf, PAGE_SIZE, seed + i);
	}
}

static void snapshot(struct mirror *m, unsigned long addr, unsigned long npages,
		     struct mirror_snap *snap)
{
	ASSERT_EQ(mirror_snapshot(m, addr, PG(npages), snap), 0);
}

/* --- the kernel's cases ------------------------------------------------------ */

TEST(hmm_open_close)
{
	struct mm_struct *mm;

	MM_TEST_SETUP();
	mm = mm_alloc();
	ASSERT_NOT_NULL(mm);
	mirror_destroy(new_mirror(mm));
	ASSERT_UEQ(device_pages_used(), 0);
	ASSERT_UEQ(device_pages_total(), 0); /* the device memory went with it */
	mmput(mm);
}

TEST(hmm_anon_read)
{
	struct mm_struct *mm;
	struct mirror *m;
	struct counts c;

	MM_TEST_SETUP();
	mm = mm_new_mapped(NPAGES, PROT_RW, false);
	write_pages(mm, TBASE, NPAGES, 1);
	ASSERT_EQ(mm_mprotect(mm, TBASE, PG(NPAGES), PROT_READ), 0);
	m = new_mirror(mm);
	c = counts_of(m);
	{
		static uint8_t buf[PG(NPAGES)];

		/* One device fault fills the whole request, as dmirror's. */
		ASSERT_EQ(mirror_read(m, TBASE, buf, sizeof(buf)), 0);
		ASSERT_COUNTS(m, c, 1, NPAGES);
		for (unsigned long i = 0; i < NPAGES; i++)
			ASSERT_PATTERN(buf + PG(i), PAGE_SIZE, 1 + i);
	}
	mirror_destroy(m);
	mmput(mm);
}

TEST(hmm_anon_read_prot)
{
	struct mm_struct *mm;
	struct mirror *m;
	uint8_t b;

	MM_TEST_SETUP();
	mm = mm_new_mapped(NPAGES, PROT_RW, false);
	write_pages(mm, TBASE, NPAGES, 2);
	ASSERT_EQ(mm_mprotect(mm, TBASE, PG(NPAGES), PROT_NONE), 0);
	m = new_mirror(mm);
	ASSERT_EQ(mirror_read(m, TBASE, &b, 1), -EFAULT);
	ASSERT_UEQ(mirror_nr_entries(m), 0);
	ASSERT_EQ(mm_mprotect(mm, TBASE, PG(NPAGES), PROT_READ), 0);
	check_pages(mm, TBASE, NPAGES, 2);
	mirror_destroy(m);
	mmput(mm);
}

TEST(hmm_anon_write)
{
	static uint8_t buf[PG(NPAGES)];
	struct mm_struct *mm;
	struct mirror *m;
	struct counts c;

	MM_TEST_SETUP();
	mm = mm_new_mapped(NPAGES, PROT_RW, false);
	m = new_mirror(mm);
	for (unsigned long i = 0; i < NPAGES; i++)
		fill_pattern(buf + PG(i), PAGE_SIZE, 3 + i);
	c = counts_of(m);
	ASSERT_EQ(mirror_write(m, TBASE, buf, sizeof(buf)), 0);
	ASSERT_COUNTS(m, c, 1, NPAGES);
	check_pages(mm, TBASE, NPAGES, 3);
	mirror_destroy(m);
	mmput(mm);
}

TEST(hmm_anon_write_prot)
{
	static uint8_t buf[PG(NPAGES)];
	struct mm_struct *mm;
	struct mirror *m;
	struct counts c;

	MM_TEST_SETUP();
	mm = mm_new_mapped(NPAGES, PROT_READ, false);
	m = new_mirror(mm);
	c = counts_of(m);
	ASSERT_EQ(mirror_read(m, TBASE, buf, PAGE_SIZE), 0);
	ASSERT_COUNTS(m, c, 1, 1);
	ASSERT(mem_is_byte(buf, PAGE_SIZE, 0));
	for (unsigned long i = 0; i < NPAGES; i++)
		fill_pattern(buf + PG(i), PAGE_SIZE, 4 + i);
	/* A device write fault on a read-only VMA: -EPERM, as Linux's hmm_range_fault(). */
	ASSERT_EQ(mirror_write(m, TBASE, buf, sizeof(buf)), -EPERM);
	for (unsigned long i = 0; i < NPAGES; i++)
		ASSERT(page_reads_zero(mm, TBASE + PG(i)));
	ASSERT_EQ(mm_mprotect(mm, TBASE, PG(NPAGES), PROT_RW), 0);
	c = counts_of(m);
	ASSERT_EQ(mirror_write(m, TBASE, buf, sizeof(buf)), 0);
	ASSERT_COUNTS(m, c, 1, NPAGES);
	check_pages(mm, TBASE, NPAGES, 4);
	mirror_destroy(m);
	mmput(mm);
}

/* A child writes through its own device; the parent keeps its data (private) or sees it (shared).
 */
static void write_in_child(bool shared)
{
	static uint8_t buf[PG(NPAGES)];
	struct mm_struct *mm, *child;
	struct mirror *m;
	struct counts c;

	MM_TEST_SETUP();
	mm = mm_new_mapped(NPAGES, PROT_RW, shared);
	write_pages(mm, TBASE, NPAGES, 5);
	child = dup_mm(mm);
	ASSERT(!IS_ERR(child));
	check_pages(child, TBASE, NPAGES, 5);
	m = new_mirror(child);
	for (unsigned long i = 0; i < NPAGES; i++)
		fill_pattern(buf + PG(i), PAGE_SIZE, 50 + i);
	c = counts_of(m);
	ASSERT_EQ(mirror_write(m, TBASE, buf, sizeof(buf)), 0);
	ASSERT_COUNTS(m, c, 1, NPAGES);
	check_pages(child, TBASE, NPAGES, 50);
	check_pages(mm, TBASE, NPAGES, shared ? 50 : 5);
	mirror_destroy(m);
	mmput(child);
	mmput(mm);
}

TEST(hmm_anon_write_child)
{
	write_in_child(false);
}

TEST(hmm_anon_write_child_shared)
{
	write_in_child(true);
}

TEST(hmm_file_read)
{
	static uint8_t buf[PG(8)];
	struct mm_struct *mm;
	struct mirror *m;
	struct counts c;
	struct file *f;

	MM_TEST_SETUP();
	f = shmem_file_create(PG(8));
	ASSERT_NOT_NULL(f);
	mm = mm_alloc();
	ASSERT_NOT_NULL(mm);
	ASSERT_EQ(mm_mmap(mm, TBASE, PG(8), PROT_RW, MAP_SHARED, f, 0), (long)TBASE);
	write_pages(mm, TBASE, 8, 6);
	ASSERT_EQ(mm_mprotect(mm, TBASE, PG(8), PROT_READ), 0);
	m = new_mirror(mm);
	c = counts_of(m);
	ASSERT_EQ(mirror_read(m, TBASE, buf, sizeof(buf)), 0);
	ASSERT_COUNTS(m, c, 1, 8);
	for (unsigned long i = 0; i < 8; i++)
		ASSERT_PATTERN(buf + PG(i), PAGE_SIZE, 6 + i);
	mirror_destroy(m);
	mmput(mm);
	fput(f);
}

TEST(hmm_file_write)
{
	static uint8_t buf[PG(8)];
	struct mm_struct *mm, *other;
	struct mirror *m;
	struct counts c;
	struct file *f;

	MM_TEST_SETUP();
	f = shmem_file_create(PG(8));
	ASSERT_NOT_NULL(f);
	mm = mm_alloc();
	other = mm_alloc();
	ASSERT(mm && other);
	ASSERT_EQ(mm_mmap(mm, TBASE, PG(8), PROT_RW, MAP_SHARED, f, 0), (long)TBASE);
	ASSERT_EQ(mm_mmap(other, TBASE, PG(8), PROT_READ, MAP_SHARED, f, 0), (long)TBASE);
	m = new_mirror(mm);
	for (unsigned long i = 0; i < 8; i++)
		fill_pattern(buf + PG(i), PAGE_SIZE, 7 + i);
	c = counts_of(m);
	ASSERT_EQ(mirror_write(m, TBASE, buf, sizeof(buf)), 0);
	ASSERT_COUNTS(m, c, 1, 8);
	check_pages(mm, TBASE, 8, 7);
	check_pages(other, TBASE, 8, 7); /* the file's pages themselves were written */
	mirror_destroy(m);
	mmput(mm);
	mmput(other);
	fput(f);
}

TEST(hmm_migrate)
{
	struct mm_struct *mm;
	struct mirror *m;
	struct counts c;
	unsigned long frames;

	MM_TEST_SETUP();
	mm = mm_new_mapped(NPAGES, PROT_RW, false);
	write_pages(mm, TBASE, NPAGES, 8);
	m = new_mirror(mm);
	frames = phys_used_frames();
	c = counts_of(m);
	ASSERT_EQ(mirror_migrate_to_device(m, TBASE, PG(NPAGES)), 0);
	ASSERT_COUNTS(m, c, 0, NPAGES);
	ASSERT_UEQ(mirror_device_pages(m), NPAGES);
	ASSERT_UEQ(device_pages_used(), NPAGES);
	ASSERT_UEQ(phys_used_frames(), frames - NPAGES); /* the system frames were freed */
	{
		uint32_t state[2];

		/* /proc/PID/pagemap's view: a swap-like entry, here marked as device memory. */
		ASSERT_EQ(mm_pagemap(mm, TBASE, 2, state), 0);
		ASSERT_EQ(state[0], MM_PAGE_SWAP | MM_PAGE_DEVICE);
		ASSERT_EQ(state[1], MM_PAGE_SWAP | MM_PAGE_DEVICE);
	}
	/* The device reads its own memory: no fault. */
	c = counts_of(m);
	device_check_pages(m, TBASE, NPAGES, 8);
	ASSERT_COUNTS(m, c, 0, NPAGES);
	assert_check_clean();
	mirror_destroy(m);
	mmput(mm);
}

TEST(hmm_migrate_file_private)
{
	struct mm_struct *mm;
	struct mirror *m;
	struct file *f;

	MM_TEST_SETUP();
	f = shmem_file_create(PG(8));
	ASSERT_NOT_NULL(f);
	mm = mm_alloc();
	ASSERT_NOT_NULL(mm);
	ASSERT_EQ(mm_mmap(mm, TBASE, PG(8), PROT_RW, MAP_PRIVATE, f, 0), (long)TBASE);
	/* Written: every page is a private anonymous copy now, which may move. */
	write_pages(mm, TBASE, 8, 9);
	m = new_mirror(mm);
	ASSERT_EQ(mirror_migrate_to_device(m, TBASE, PG(8)), 0);
	ASSERT_UEQ(mirror_device_pages(m), 8);
	device_check_pages(m, TBASE, 8, 9);
	check_pages(mm, TBASE, 8, 9); /* the CPU takes them back */
	ASSERT_UEQ(mirror_device_pages(m), 0);
	assert_check_clean();
	mirror_destroy(m);
	mmput(mm);
	fput(f);
}

TEST(hmm_migrate_fault)
{
	struct mm_struct *mm;
	struct mirror *m;

	MM_TEST_SETUP();
	mm = mm_new_mapped(NPAGES, PROT_RW, false);
	write_pages(mm, TBASE, NPAGES, 10);
	m = new_mirror(mm);
	ASSERT_EQ(mirror_migrate_to_device(m, TBASE, PG(NPAGES)), 0);
	device_check_pages(m, TBASE, NPAGES, 10);
	/* The CPU touches half of them: those come back (->migrate_to_ram). */
	check_pages(mm, TBASE, NPAGES / 2, 10);
	ASSERT_UEQ(mirror_device_pages(m), NPAGES / 2);
	/* The mix of system and device pages goes to the device again. */
	ASSERT_EQ(mirror_migrate_to_device(m, TBASE, PG(NPAGES)), 0);
	ASSERT_UEQ(mirror_device_pages(m), NPAGES);
	device_check_pages(m, TBASE, NPAGES, 10);
	assert_check_clean();
	mirror_destroy(m);
	mmput(mm);
}

TEST(hmm_migrate_release)
{
	struct mm_struct *mm;
	struct mirror *m;
	unsigned long frames;

	MM_TEST_SETUP();
	mm = mm_new_mapped(NPAGES, PROT_RW, false);
	write_pages(mm, TBASE, NPAGES, 11);
	m = new_mirror(mm);
	frames = phys_used_frames();
	ASSERT_EQ(mirror_migrate_to_device(m, TBASE, PG(NPAGES)), 0);
	device_check_pages(m, TBASE, NPAGES, 11);
	/* The device (and its memory) goes away with every page still on it: evicted. */
	mirror_destroy(m);
	ASSERT_UEQ(device_pages_used(), 0);
	ASSERT_UEQ(phys_used_frames(), frames);
	check_pages(mm, TBASE, NPAGES, 11);
	assert_check_clean();
	mmput(mm);
}

TEST(hmm_migrate_release_by_munmap)
{
	struct mm_struct *mm;
	struct mirror *m;

	MM_TEST_SETUP();
	mm = mm_new_mapped(NPAGES, PROT_RW, false);
	write_pages(mm, TBASE, NPAGES, 12);
	m = new_mirror(mm);
	ASSERT_EQ(mirror_migrate_to_device(m, TBASE, PG(NPAGES)), 0);
	/* Unmapping frees the device pages (->page_free) without bringing them back. */
	ASSERT_EQ(mm_munmap(mm, TBASE, PG(NPAGES)), 0);
	ASSERT_UEQ(mirror_device_pages(m), 0);
	ASSERT_UEQ(phys_used_frames(), 0);
	assert_check_clean();
	mirror_destroy(m);
	mmput(mm);
}

TEST(hmm_migrate_shared)
{
	struct mm_struct *mm;
	struct mirror *m;

	MM_TEST_SETUP();
	mm = mm_new_mapped(NPAGES, PROT_RW, true);
	write_pages(mm, TBASE, 4, 13);
	m = new_mirror(mm);
	/* Shared memory stays in system memory. */
	ASSERT_EQ(mirror_migrate_to_device(m, TBASE, PG(NPAGES)), -ENOENT);
	ASSERT_UEQ(mirror_device_pages(m), 0);
	check_pages(mm, TBASE, 4, 13);
	assert_check_clean();
	mirror_destroy(m);
	mmput(mm);
}

TEST(hmm_migrate_mixed)
{
	struct mm_struct *mm;
	struct mirror *m0, *m1;
	struct mirror_snap snap[6];
	uint8_t v = 3;

	MM_TEST_SETUP();
	mm = mm_new_mapped(6, PROT_NONE, false);
	m0 = new_mirror(mm);
	m1 = new_mirror(mm);
	/* A protected area cannot move. */
	ASSERT_EQ(mirror_migrate_to_device(m1, TBASE, PG(6)), -EINVAL);
	/* Nor a range with a hole in it. */
	ASSERT_EQ(mm_munmap(mm, TBASE + PG(1), PG(1)), 0);
	ASSERT_EQ(mirror_migrate_to_device(m1, TBASE, PG(3)), -EINVAL);
	/* Page 2 read-only zero page, page 3 read-only data, pages 4-5 read-write. */
	ASSERT_EQ(mm_mprotect(mm, TBASE + PG(2), PG(1), PROT_READ), 0);
	ASSERT(page_reads_zero(mm, TBASE + PG(2)));
	ASSERT_EQ(mm_mprotect(mm, TBASE + PG(3), PG(1), PROT_RW), 0);
	ASSERT_EQ(mm_write(mm, TBASE + PG(3), &v, 1), 0);
	ASSERT_EQ(mm_mprotect(mm, TBASE + PG(3), PG(1), PROT_READ), 0);
	ASSERT_EQ(mm_mprotect(mm, TBASE + PG(4), PG(2), PROT_RW), 0);
	ASSERT_EQ(mm_write(mm, TBASE + PG(4), &v, 1), 0);
	ASSERT_EQ(mm_write(mm, TBASE + PG(5), &v, 1), 0);
	ASSERT_EQ(mirror_migrate_to_device(m1, TBASE + PG(2), PG(4)), 0);
	ASSERT_UEQ(mirror_device_pages(m1), 4);
	snapshot(m1, TBASE + PG(2), 4, snap);
	ASSERT_EQ(snap[0].prot, MIRROR_PROT_DEV_PRIVATE_LOCAL | MIRROR_PROT_READ);
	ASSERT_EQ(snap[1].prot, MIRROR_PROT_DEV_PRIVATE_LOCAL | MIRROR_PROT_READ);
	ASSERT_EQ(snap[3].prot, MIRROR_PROT_DEV_PRIVATE_LOCAL | MIRROR_PROT_WRITE);
	/* Page 5 lives on device 1: device 0 does not take it. */
	ASSERT_EQ(mirror_migrate_to_device(m0, TBASE + PG(5), PG(1)), -ENOENT);
	ASSERT_UEQ(mirror_device_pages(m0), 0);
	ASSERT_EQ(mm_read(mm, TBASE + PG(3), &v, 1), 0);
	ASSERT_EQ(v, 3);
	assert_check_clean();
	mirror_destroy(m0);
	mirror_destroy(m1);
	mmput(mm);
}

TEST(hmm_migrate_multiple)
{
	struct mm_struct *mm;
	struct mirror *m;

	MM_TEST_SETUP();
	mm = mm_alloc();
	ASSERT_NOT_NULL(mm);
	m = new_mirror(mm);
	for (unsigned long round = 0; round < 10; round++) {
		map_anon(mm, TBASE, NPAGES, PROT_RW, false);
		write_pages(mm, TBASE, NPAGES, 100 + round);
		ASSERT_EQ(mirror_migrate_to_device(m, TBASE, PG(NPAGES)), 0);
		device_check_pages(m, TBASE, NPAGES, 100 + round);
		check_pages(mm, TBASE, NPAGES, 100 + round); /* back by CPU faults */
		ASSERT_UEQ(mirror_device_pages(m), 0);
		ASSERT_EQ(mm_munmap(mm, TBASE, PG(NPAGES)), 0);
	}
	assert_check_clean();
	mirror_destroy(m);
	mmput(mm);
}

TEST(hmm_anon_read_multiple)
{
	struct mm_struct *mm;
	struct mirror *m;
	struct counts c;

	MM_TEST_SETUP();
	mm = mm_alloc();
	ASSERT_NOT_NULL(mm);
	m = new_mirror(mm);
	for (unsigned long round = 0; round < 10; round++) {
		static uint8_t buf[PG(NPAGES)];

		map_anon(mm, TBASE, NPAGES, PROT_RW, false);
		write_pages(mm, TBASE, NPAGES, 200 + round);
		c = counts_of(m);
		ASSERT_EQ(mirror_read(m, TBASE, buf, sizeof(buf)), 0);
		ASSERT_COUNTS(m, c, 1, NPAGES);
		for (unsigned long i = 0; i < NPAGES; i++)
			ASSERT_PATTERN(buf + PG(i), PAGE_SIZE, 200 + round + i);
		ASSERT_EQ(mm_munmap(mm, TBASE, PG(NPAGES)), 0);
	}
	mirror_destroy(m);
	mmput(mm);
}

struct unmapper {
	struct mm_struct *mm;
	struct sm_thread t;
};

static void *unmap_buffer(void *arg)
{
	struct unmapper *u = arg;

	ASSERT_EQ(mm_munmap(u->mm, TBASE, PG(NPAGES)), 0);
	return NULL;
}

TEST(hmm_anon_teardown)
{
	struct mm_struct *mm;
	struct mirror *m;

	MM_TEST_SETUP();
	mm = mm_alloc();
	ASSERT_NOT_NULL(mm);
	m = new_mirror(mm);
	for (unsigned long round = 0; round < 20; round++) {
		static uint8_t buf[PG(NPAGES)];
		struct unmapper u = {.mm = mm};
		int ret;

		map_anon(mm, TBASE, NPAGES, PROT_RW, false);
		write_pages(mm, TBASE, NPAGES, 300 + round);
		ASSERT_EQ(sm_thread_create(&u.t, unmap_buffer, &u, "unmapper"), 0);
		/* The device reads while the CPU side tears the buffer down. */
		ret = mirror_read(m, TBASE, buf, sizeof(buf));
		if (ret == 0) {
			for (unsigned long i = 0; i < NPAGES; i++)
				ASSERT_PATTERN(buf + PG(i), PAGE_SIZE, 300 + round + i);
		} else {
			ASSERT_EQ(ret, -EFAULT);
		}
		sm_thread_join(&u.t);
	}
	ASSERT_UEQ(mirror_nr_stale(m), 0);
	mirror_destroy(m);
	mmput(mm);
}

TEST(hmm_mixedmap)
{
	struct mm_struct *mm;
	struct mirror *m;
	struct mirror_snap snap[2];
	struct file *f;

	/*
	 * The kernel's case maps the device file itself; a read-only file
	 * mapping is our mixed (non-anonymous) mapping.
	 */
	MM_TEST_SETUP();
	f = shmem_file_create(PG(2));
	ASSERT_NOT_NULL(f);
	mm = mm_alloc();
	ASSERT_NOT_NULL(mm);
	ASSERT_EQ(mm_mmap(mm, TBASE, PG(2), PROT_READ, MAP_PRIVATE, f, 0), (long)TBASE);
	ASSERT(page_reads_zero(mm, TBASE));
	m = new_mirror(mm);
	snapshot(m, TBASE, 2, snap);
	ASSERT_EQ(snap[0].prot, MIRROR_PROT_READ);
	ASSERT_EQ(snap[1].prot, MIRROR_PROT_NONE);
	mirror_destroy(m);
	mmput(mm);
	fput(f);
}

TEST(hmm_snapshot)
{
	struct mm_struct *mm;
	struct mirror *m0, *m1;
	struct mirror_snap snap[7];
	struct counts c;
	uint8_t v = 3;

	MM_TEST_SETUP();
	mm = mm_new_mapped(7, PROT_NONE, false);
	m0 = new_mirror(mm);
	m1 = new_mirror(mm);
	ASSERT_EQ(mm_munmap(mm, TBASE + PG(1), PG(1)), 0);
	ASSERT_EQ(mm_mprotect(mm, TBASE + PG(2), PG(1), PROT_READ), 0);
	ASSERT(page_reads_zero(mm, TBASE + PG(2)));
	ASSERT_EQ(mm_mprotect(mm, TBASE + PG(3), PG(1), PROT_RW), 0);
	ASSERT_EQ(mm_write(mm, TBASE + PG(3), &v, 1), 0);
	ASSERT_EQ(mm_mprotect(mm, TBASE + PG(3), PG(1), PROT_READ), 0);
	ASSERT_EQ(mm_mprotect(mm, TBASE + PG(4), PG(3), PROT_RW), 0);
	ASSERT_EQ(mm_write(mm, TBASE + PG(4), &v, 1), 0);
	ASSERT_EQ(mirror_migrate_to_device(m0, TBASE + PG(5), PG(1)), 0);
	ASSERT_EQ(mirror_migrate_to_device(m1, TBASE + PG(6), PG(1)), 0);
	c = counts_of(m0);
	snapshot(m0, TBASE, 7, snap);
	ASSERT_COUNTS(m0, c, 0, 7);		    /* nothing was faulted */
	ASSERT_EQ(snap[0].prot, MIRROR_PROT_ERROR); /* PROT_NONE */
	ASSERT_EQ(snap[1].prot, MIRROR_PROT_ERROR); /* no VMA */
	ASSERT_EQ(snap[2].prot, MIRROR_PROT_ZERO | MIRROR_PROT_READ);
	ASSERT_EQ(snap[3].prot, MIRROR_PROT_READ);
	ASSERT_EQ(snap[4].prot, MIRROR_PROT_WRITE);
	ASSERT_EQ(snap[5].prot, MIRROR_PROT_DEV_PRIVATE_LOCAL | MIRROR_PROT_WRITE);
	ASSERT_EQ(snap[6].prot, MIRROR_PROT_NONE); /* device 1's memory: invisible to device 0 */
	for (int i = 0; i < 7; i++)
		ASSERT_EQ(snap[i].order, 0);
	/* Device 1 sees its own page as local. */
	snapshot(m1, TBASE + PG(6), 1, snap);
	ASSERT_EQ(snap[0].prot, MIRROR_PROT_DEV_PRIVATE_LOCAL | MIRROR_PROT_WRITE);
	assert_check_clean();
	mirror_destroy(m0);
	mirror_destroy(m1);
	mmput(mm);
}

TEST(hmm_double_map)
{
	static uint8_t buf[PG(NPAGES)];
	struct mm_struct *mm;
	struct mirror *m0, *m1;
	struct counts c;

	MM_TEST_SETUP();
	mm = mm_new_mapped(NPAGES, PROT_RW, false);
	write_pages(mm, TBASE, NPAGES, 14);
	ASSERT_EQ(mm_mprotect(mm, TBASE, PG(NPAGES), PROT_READ), 0);
	m0 = new_mirror(mm);
	m1 = new_mirror(mm);
	c = counts_of(m0);
	ASSERT_EQ(mirror_read(m0, TBASE, buf, sizeof(buf)), 0);
	ASSERT_COUNTS(m0, c, 1, NPAGES);
	c = counts_of(m1);
	ASSERT_EQ(mirror_read(m1, TBASE, buf, sizeof(buf)), 0);
	ASSERT_COUNTS(m1, c, 1, NPAGES);
	/* To device 1, then device 0 reads: the pages come back to system memory for it. */
	ASSERT_EQ(mirror_migrate_to_device(m1, TBASE, PG(NPAGES)), 0);
	ASSERT_UEQ(mirror_device_pages(m1), NPAGES);
	c = counts_of(m0);
	ASSERT_EQ(mirror_read(m0, TBASE, buf, sizeof(buf)), 0);
	ASSERT_COUNTS(m0, c, 1, NPAGES);
	for (unsigned long i = 0; i < NPAGES; i++)
		ASSERT_PATTERN(buf + PG(i), PAGE_SIZE, 14 + i);
	ASSERT_UEQ(mirror_device_pages(m1), 0);
	assert_check_clean();
	mirror_destroy(m0);
	mirror_destroy(m1);
	mmput(mm);
}

static void increment_all(struct mm_struct *mm, unsigned long npages, uint8_t expect)
{
	for (unsigned long i = 0; i < npages; i++) {
		uint8_t b;

		ASSERT_EQ(mm_read(mm, TBASE + PG(i), &b, 1), 0);
		ASSERT_EQ(b, expect);
		b++;
		ASSERT_EQ(mm_write(mm, TBASE + PG(i), &b, 1), 0);
	}
}

static void fill_bytes(struct mm_struct *mm, unsigned long npages, uint8_t v)
{
	for (unsigned long i = 0; i < npages; i++)
		ASSERT_EQ(mm_write(mm, TBASE + PG(i), &v, 1), 0);
}

TEST(hmm_exclusive)
{
	struct mm_struct *mm;
	struct mirror *m;
	struct mirror_snap snap[NPAGES];
	struct counts c;

	MM_TEST_SETUP();
	mm = mm_new_mapped(NPAGES, PROT_RW, false);
	write_pages(mm, TBASE, NPAGES, 15);
	m = new_mirror(mm);
	c = counts_of(m);
	ASSERT_EQ(mirror_exclusive(m, TBASE, PG(NPAGES)), 0);
	ASSERT_COUNTS(m, c, 0, NPAGES);
	snapshot(m, TBASE, NPAGES, snap);
	for (int i = 0; i < NPAGES; i++)
		ASSERT_EQ(snap[i].prot, MIRROR_PROT_EXCLUSIVE | MIRROR_PROT_WRITE);
	device_check_pages(m, TBASE, NPAGES, 15);
	assert_check_clean();
	/* The CPU faults every page back; the device's exclusive access ends. */
	fill_bytes(mm, NPAGES, 7);
	increment_all(mm, NPAGES, 7);
	snapshot(m, TBASE, NPAGES, snap);
	for (int i = 0; i < NPAGES; i++)
		ASSERT_EQ(snap[i].prot, MIRROR_PROT_WRITE);
	assert_check_clean();
	mirror_destroy(m);
	mmput(mm);
}

TEST(hmm_exclusive_mprotect)
{
	static uint8_t buf[PG(NPAGES)];
	struct mm_struct *mm;
	struct mirror *m;

	MM_TEST_SETUP();
	mm = mm_new_mapped(NPAGES, PROT_RW, false);
	write_pages(mm, TBASE, NPAGES, 16);
	m = new_mirror(mm);
	ASSERT_EQ(mirror_exclusive(m, TBASE, PG(NPAGES)), 0);
	device_check_pages(m, TBASE, NPAGES, 16);
	ASSERT_EQ(mm_mprotect(mm, TBASE, PG(NPAGES), PROT_READ), 0);
	ASSERT_EQ(mirror_write(m, TBASE, buf, sizeof(buf)), -EPERM);
	check_pages(mm, TBASE, NPAGES, 16);
	assert_check_clean();
	mirror_destroy(m);
	mmput(mm);
}

TEST(hmm_exclusive_cow)
{
	struct mm_struct *mm, *child;
	struct mirror *m;

	MM_TEST_SETUP();
	mm = mm_new_mapped(NPAGES, PROT_RW, false);
	fill_bytes(mm, NPAGES, 20);
	m = new_mirror(mm);
	ASSERT_EQ(mirror_exclusive(m, TBASE, PG(NPAGES)), 0);
	child = dup_mm(mm);
	ASSERT(!IS_ERR(child));
	assert_check_clean();
	/* Both write: copy-on-write works for both, each keeps its own. */
	increment_all(child, NPAGES, 20);
	increment_all(mm, NPAGES, 20);
	increment_all(child, NPAGES, 21);
	increment_all(mm, NPAGES, 21);
	assert_check_clean();
	mmput(child);
	mirror_destroy(m);
	mmput(mm);
}

TEST(hmm_gup_test)
{
	struct mm_struct *mm;
	struct mirror *m;
	struct mirror_snap snap[4];
	struct page *pages[4];

	MM_TEST_SETUP();
	mm = mm_new_mapped(4, PROT_RW, false);
	write_pages(mm, TBASE, 4, 17);
	m = new_mirror(mm);
	ASSERT_EQ(mirror_migrate_to_device(m, TBASE, PG(4)), 0);
	device_check_pages(m, TBASE, 4, 17);
	mmap_read_lock(mm);
	/* GUP brings device pages back first; a long-term pin never lands on device memory. */
	ASSERT_EQ(get_user_pages_remote(mm, TBASE, 1, FOLL_WRITE, pages), 1);
	ASSERT_EQ(pin_user_pages_remote(mm, TBASE + PG(1), 1, FOLL_WRITE, pages + 1), 1);
	ASSERT_EQ(
		pin_user_pages_remote(mm, TBASE + PG(2), 2, FOLL_WRITE | FOLL_LONGTERM, pages + 2),
		2);
	mmap_read_unlock(mm);
	for (int i = 0; i < 4; i++)
		ASSERT(!is_device_private_page(pages[i]));
	snapshot(m, TBASE, 4, snap);
	for (int i = 0; i < 4; i++)
		ASSERT_EQ(snap[i].prot, MIRROR_PROT_WRITE);
	check_pages(mm, TBASE, 4, 17);
	put_page(pages[0]);
	unpin_user_pages(pages + 1, 3);
	/* A pinned page cannot move to the device. */
	ASSERT_EQ(pin_user_pages_unlocked(mm, TBASE, 1, FOLL_WRITE, pages), 1);
	ASSERT_EQ(mirror_migrate_to_device(m, TBASE, PG(4)), -ENOENT);
	ASSERT_UEQ(mirror_device_pages(m), 3);
	unpin_user_pages(pages, 1);
	assert_check_clean();
	mirror_destroy(m);
	mmput(mm);
}

TEST(hmm_cow_in_device)
{
	struct mm_struct *mm, *child;
	struct mirror *m;
	struct mirror_snap snap[NPAGES];

	MM_TEST_SETUP();
	mm = mm_new_mapped(NPAGES, PROT_RW, false);
	fill_bytes(mm, NPAGES, 40);
	m = new_mirror(mm);
	ASSERT_EQ(mirror_migrate_to_device(m, TBASE, PG(NPAGES)), 0);
	child = dup_mm(mm);
	ASSERT(!IS_ERR(child));
	/* fork shared the device pages copy-on-write: read-only for both. */
	snapshot(m, TBASE, NPAGES, snap);
	for (int i = 0; i < NPAGES; i++)
		ASSERT_EQ(snap[i].prot, MIRROR_PROT_DEV_PRIVATE_LOCAL | MIRROR_PROT_READ);
	assert_check_clean();
	/* The parent writes: each page comes back and is copied. */
	increment_all(mm, NPAGES, 40);
	snapshot(m, TBASE, NPAGES, snap);
	for (int i = 0; i < NPAGES; i++)
		ASSERT_EQ(snap[i].prot, MIRROR_PROT_WRITE);
	increment_all(child, NPAGES, 40);
	increment_all(mm, NPAGES, 41);
	mmput(child);
	assert_check_clean();
	mirror_destroy(m);
	mmput(mm);
}

/* --- the core's rules ------------------------------------------------------------- */

TEST(hmm_device_memory_is_exhaustible)
{
	struct mm_struct *mm;
	struct mirror *m;

	MM_TEST_SETUP();
	mm = mm_new_mapped(8, PROT_RW, false);
	write_pages(mm, TBASE, 8, 18);
	m = mirror_create_devmem(mm, 0, 4);
	ASSERT(!IS_ERR(m));
	ASSERT_EQ(mirror_migrate_to_device(m, TBASE, PG(8)), -ENOMEM);
	ASSERT_UEQ(mirror_device_pages(m), 4);
	ASSERT_UEQ(device_pages_used(), 4);
	check_pages(mm, TBASE, 8, 18); /* nothing lost either way */
	ASSERT_UEQ(mirror_device_pages(m), 0);
	ASSERT(IS_ERR(mirror_create_devmem(mm, 0, 0)));
	assert_check_clean();
	mirror_destroy(m);
	mmput(mm);
}

TEST(hmm_migrate_to_system_explicitly)
{
	struct mm_struct *mm;
	struct mirror *m;
	struct counts c;

	MM_TEST_SETUP();
	mm = mm_new_mapped(NPAGES, PROT_RW, false);
	write_pages(mm, TBASE, NPAGES, 19);
	m = new_mirror(mm);
	ASSERT_EQ(mirror_migrate_to_device(m, TBASE, PG(NPAGES)), 0);
	c = counts_of(m);
	ASSERT_EQ(mirror_migrate_to_system(m, TBASE, PG(NPAGES)), 0);
	ASSERT_COUNTS(m, c, 0, NPAGES);
	ASSERT_UEQ(mirror_device_pages(m), 0);
	ASSERT_UEQ(phys_used_frames(), NPAGES);
	check_pages(mm, TBASE, NPAGES, 19);
	ASSERT_EQ(mirror_migrate_to_system(m, TBASE + 1, PG(1)), -EINVAL);
	assert_check_clean();
	mirror_destroy(m);
	mmput(mm);
}

TEST(hmm_never_touched_memory_migrates_as_zero)
{
	struct mm_struct *mm;
	struct mirror *m;

	MM_TEST_SETUP();
	mm = mm_new_mapped(4, PROT_RW, false);
	ASSERT(page_reads_zero(mm, TBASE + PG(1))); /* page 1 maps the zero page */
	m = new_mirror(mm);
	ASSERT_EQ(mirror_migrate_to_device(m, TBASE, PG(4)), 0);
	ASSERT_UEQ(mirror_device_pages(m), 4);
	ASSERT_UEQ(phys_used_frames(), 0);
	for (int i = 0; i < 4; i++)
		ASSERT(page_reads_zero(mm, TBASE + PG(i)));
	assert_check_clean();
	mirror_destroy(m);
	mmput(mm);
}

/* An interval notifier that records the MIGRATE and EXCLUSIVE invalidations' owners. */
struct owner_rec {
	struct mmu_interval_notifier sub;
	void *migrate_owner, *exclusive_owner;
	int migrates, exclusives, exclusive_no_owner;
};

static bool owner_rec_invalidate(struct mmu_interval_notifier *sub,
				 const struct mmu_notifier_range *range, unsigned long cur_seq)
{
	struct owner_rec *r = container_of(sub, struct owner_rec, sub);

	mmu_interval_set_seq(sub, cur_seq);
	if (range->event == MMU_NOTIFY_MIGRATE) {
		r->migrates++;
		r->migrate_owner = range->owner;
	} else if (range->event == MMU_NOTIFY_EXCLUSIVE) {
		if (range->owner) {
			r->exclusives++;
			r->exclusive_owner = range->owner;
		} else {
			r->exclusive_no_owner++;
		}
	}
	return true;
}

static const struct mmu_interval_notifier_ops owner_rec_ops = {
	.invalidate = owner_rec_invalidate,
};

TEST(hmm_invalidations_carry_the_owner)
{
	struct owner_rec r = {0};
	struct mm_struct *mm;
	struct mirror *m;
	uint8_t b;

	MM_TEST_SETUP();
	mm = mm_new_mapped(4, PROT_RW, false);
	write_pages(mm, TBASE, 4, 20);
	ASSERT_EQ(mmu_interval_notifier_insert(&r.sub, mm, TBASE, PG(4), &owner_rec_ops), 0);
	m = new_mirror(mm);
	ASSERT_EQ(mirror_migrate_to_device(m, TBASE, PG(2)), 0);
	ASSERT_EQ(r.migrates, 2);
	ASSERT(r.migrate_owner == (void *)m); /* the mirror is its own owner cookie */
	ASSERT_EQ(mirror_exclusive(m, TBASE + PG(2), PG(1)), 0);
	ASSERT_EQ(r.exclusives, 1);
	ASSERT(r.exclusive_owner == (void *)m);
	/* The CPU's restore must reach every device, the owner too: no owner. */
	ASSERT_EQ(mm_read(mm, TBASE + PG(2), &b, 1), 0);
	ASSERT_EQ(r.exclusive_no_owner, 1);
	mirror_destroy(m);
	mmu_interval_notifier_remove(&r.sub);
	mmput(mm);
}

TEST(hmm_range_fault_write_on_read_only_vma_is_eperm)
{
	struct owner_rec r = {0};
	unsigned long pfns[2] = {0};
	struct mm_struct *mm;
	struct hmm_range range = {
		.notifier = &r.sub,
		.start = TBASE,
		.end = TBASE + PG(2),
		.hmm_pfns = pfns,
		.default_flags = HMM_PFN_REQ_FAULT | HMM_PFN_REQ_WRITE,
	};

	MM_TEST_SETUP();
	mm = mm_new_mapped(2, PROT_READ, false);
	ASSERT_EQ(mmu_interval_notifier_insert(&r.sub, mm, TBASE, PG(2), &owner_rec_ops), 0);
	range.notifier_seq = mmu_interval_read_begin(&r.sub);
	mmap_read_lock(mm);
	ASSERT_EQ(hmm_range_fault(&range), -EPERM);
	range.default_flags = HMM_PFN_REQ_FAULT;
	range.notifier_seq = mmu_interval_read_begin(&r.sub);
	ASSERT_EQ(hmm_range_fault(&range), 0);
	ASSERT(pfns[0] & HMM_PFN_VALID);
	ASSERT_EQ(hmm_pfn_to_map_order(pfns[0]), 0);
	mmap_read_unlock(mm);
	mmu_interval_notifier_remove(&r.sub);
	mmput(mm);
}

TEST(hmm_range_fault_reports_only_the_owners_device_pages)
{
	struct owner_rec r = {0};
	unsigned long pfns[1];
	struct mm_struct *mm;
	struct mirror *m;
	struct hmm_range range = {
		.notifier = &r.sub,
		.start = TBASE,
		.end = TBASE + PG(1),
		.hmm_pfns = pfns,
	};

	MM_TEST_SETUP();
	mm = mm_new_mapped(1, PROT_RW, false);
	write_pages(mm, TBASE, 1, 21);
	m = new_mirror(mm);
	ASSERT_EQ(mirror_migrate_to_device(m, TBASE, PG(1)), 0);
	ASSERT_EQ(mmu_interval_notifier_insert(&r.sub, mm, TBASE, PG(1), &owner_rec_ops), 0);
	mmap_read_lock(mm);
	/* Somebody else's device page, no fault requested: nothing to report. */
	pfns[0] = 0;
	range.notifier_seq = mmu_interval_read_begin(&r.sub);
	ASSERT_EQ(hmm_range_fault(&range), 0);
	ASSERT_UEQ(pfns[0], 0);
	/* The owner's: its device pfn, without faulting. */
	range.dev_private_owner = m;
	range.notifier_seq = mmu_interval_read_begin(&r.sub);
	ASSERT_EQ(hmm_range_fault(&range), 0);
	ASSERT(pfns[0] & HMM_PFN_VALID);
	ASSERT(is_device_private_page(pfn_to_page(hmm_pfn_to_pfn(pfns[0]))));
	/* Another owner asking for a fault: the page comes back to system memory. */
	range.dev_private_owner = NULL;
	range.default_flags = HMM_PFN_REQ_FAULT;
	range.notifier_seq = mmu_interval_read_begin(&r.sub);
	/* Its migration was an invalidation of the range: the first pass must be retried. */
	ASSERT_EQ(hmm_range_fault(&range), -EBUSY);
	range.notifier_seq = mmu_interval_read_begin(&r.sub);
	ASSERT_EQ(hmm_range_fault(&range), 0);
	ASSERT(!is_device_private_page(pfn_to_page(hmm_pfn_to_pfn(pfns[0]))));
	mmap_read_unlock(mm);
	ASSERT_UEQ(mirror_device_pages(m), 0);
	check_pages(mm, TBASE, 1, 21);
	mmu_interval_notifier_remove(&r.sub);
	mirror_destroy(m);
	mmput(mm);
}

TEST(hmm_swap_and_ksm_leave_device_pages_alone)
{
	struct mm_struct *mm;
	struct mirror *m;

	MM_TEST_SETUP();
	ASSERT_EQ(swap_on(1 << 20, NULL), 0);
	mm = mm_new_mapped(8, PROT_RW, false);
	fill_bytes(mm, 8, 0x77); /* identical pages: KSM would merge them */
	ASSERT_EQ(mm_madvise(mm, TBASE, PG(8), MADV_MERGEABLE), 0);
	m = new_mirror(mm);
	ASSERT_EQ(mirror_migrate_to_device(m, TBASE, PG(8)), 0);
	ASSERT_UEQ(ksm_scan_all(), 0);
	ASSERT_EQ(mm_madvise(mm, TBASE, PG(8), MADV_PAGEOUT), 0);
	try_to_free_pages(64);
	ASSERT_UEQ(mirror_device_pages(m), 8);
	ASSERT_UEQ(swap_slots_used(), 0);
	assert_check_clean();
	increment_all(mm, 8, 0x77);
	mirror_destroy(m);
	mmput(mm);
	ASSERT_EQ(swap_off(), 0);
}

TEST(hmm_exit_with_pages_on_the_device)
{
	struct mm_struct *mm, *child;
	struct mirror *m;

	MM_TEST_SETUP();
	mm = mm_new_mapped(8, PROT_RW, false);
	write_pages(mm, TBASE, 8, 22);
	m = new_mirror(mm);
	ASSERT_EQ(mirror_migrate_to_device(m, TBASE, PG(8)), 0);
	child = dup_mm(mm);
	ASSERT(!IS_ERR(child));
	mmput(mm); /* the parent exits: the child still maps every device page */
	ASSERT_UEQ(mirror_device_pages(m), 8);
	assert_check_clean();
	check_pages(child, TBASE, 4, 22); /* the child's touches use the parent's device */
	ASSERT_UEQ(mirror_device_pages(m), 4);
	mmput(child); /* the rest are freed by the exit */
	ASSERT_UEQ(mirror_device_pages(m), 0);
	ASSERT_EQ(mirror_migrate_to_device(m, TBASE, PG(1)), -ESRCH);
	mirror_destroy(m);
}

TEST(hmm_device_closed_while_a_child_maps_its_pages)
{
	struct mm_struct *mm, *child;
	struct mirror *m;

	MM_TEST_SETUP();
	mm = mm_new_mapped(8, PROT_RW, false);
	write_pages(mm, TBASE, 8, 23);
	m = new_mirror(mm);
	ASSERT_EQ(mirror_migrate_to_device(m, TBASE, PG(8)), 0);
	child = dup_mm(mm);
	ASSERT(!IS_ERR(child));
	/* Eviction finds both processes' mappings through the reverse map. */
	mirror_destroy(m);
	ASSERT_UEQ(device_pages_used(), 0);
	assert_check_clean();
	check_pages(child, TBASE, 8, 23);
	check_pages(mm, TBASE, 8, 23);
	mmput(child);
	mmput(mm);
}

/* --- migrate_vma by a driver of our own, and check ------------------------------- */

struct tdev {
	struct dev_pagemap pgmap;
	struct page *free[4];
	int nr_free;
};

static void tdev_page_free(struct page *page)
{
	struct tdev *d = container_of(page_pgmap(page), struct tdev, pgmap);

	d->free[d->nr_free++] = page;
}

static int tdev_migrate_to_ram(struct vm_fault *vmf)
{
	(void)vmf;
	return -ENOMEM; /* this test device never gives memory back */
}

static const struct dev_pagemap_ops tdev_ops = {
	.page_free = tdev_page_free,
	.migrate_to_ram = tdev_migrate_to_ram,
};

TEST(hmm_check_covers_device_pages)
{
	struct tdev d = {.pgmap = {.type = MEMORY_DEVICE_PRIVATE, .nr_pages = 4, .ops = &tdev_ops}};
	unsigned long src[1], dst[1];
	struct vm_area_struct *vma;
	struct mm_struct *mm;
	struct migrate_vma args = {.src = src, .dst = dst, .start = TBASE, .end = TBASE + PG(1)};
	struct page *dpage;
	uint8_t b;

	MM_TEST_SETUP();
	d.pgmap.owner = &d;
	ASSERT_EQ(memremap_pages(&d.pgmap), 0);
	for (int i = 3; i >= 0; i--)
		d.free[d.nr_free++] = &d.pgmap.pages[i];
	mm = mm_new_mapped(1, PROT_RW, false);
	write_pages(mm, TBASE, 1, 24);
	mmap_read_lock(mm);
	vma = vma_lookup(mm, TBASE);
	args.vma = vma;
	args.pgmap_owner = &d;
	args.flags = MIGRATE_VMA_SELECT_SYSTEM;
	ASSERT_EQ(migrate_vma_setup(&args), 0);
	ASSERT_UEQ(args.cpages, 1);
	ASSERT(src[0] & MIGRATE_PFN_MIGRATE);
	dpage = d.free[--d.nr_free];
	zone_device_page_init(dpage);
	copy_frame_data(page_address(dpage), page_address(migrate_pfn_to_page(src[0])), PAGE_SIZE);
	dst[0] = migrate_pfn(page_to_pfn(dpage));
	migrate_vma_pages(&args);
	migrate_vma_finalize(&args);
	mmap_read_unlock(mm);
	ASSERT_UEQ(device_pages_used(), 1);
	ASSERT_UEQ(phys_used_frames(), 0);
	assert_check_clean();
	/* A device page whose map count lies is caught. */
	atomic_fetch_add(&dpage->_mapcount, 1);
	first_problem[0] = 0;
	ASSERT(mm_check_invariants(record_problem, NULL) >= 1);
	ASSERT(strstr(first_problem, "device page"));
	atomic_fetch_sub(&dpage->_mapcount, 1);
	/* A driver that cannot migrate back makes the CPU access fail, not hang. */
	ASSERT_EQ(mm_read(mm, TBASE, &b, 1), -ENOMEM);
	/* Bad arguments change nothing. */
	args.start = TBASE + 1;
	mmap_read_lock(mm);
	ASSERT_EQ(migrate_vma_setup(&args), -EINVAL);
	args.start = TBASE;
	args.flags = 0;
	ASSERT_EQ(migrate_vma_setup(&args), -EINVAL);
	mmap_read_unlock(mm);
	mmput(mm); /* exit frees the device page through ->page_free */
	ASSERT_EQ(d.nr_free, 4);
	ASSERT_UEQ(device_pages_used(), 0);
	memunmap_pages(&d.pgmap);
	ASSERT_UEQ(device_pages_total(), 0);
	d.pgmap.ops = NULL;
	ASSERT_EQ(memremap_pages(&d.pgmap), -EINVAL);
}

TEST(hmm_stale_device_page_translation_is_caught)
{
	struct mm_struct *mm;
	struct mirror *m;
	uint8_t b;

	MM_TEST_SETUP();
	mm = mm_new_mapped(1, PROT_RW, false);
	write_pages(mm, TBASE, 1, 25);
	/* A driver that ignores invalidations keeps its translation of its own device page... */
	m = mirror_create(mm, MIRROR_BROKEN);
	ASSERT(!IS_ERR(m));
	ASSERT_EQ(mirror_migrate_to_device(m, TBASE, PG(1)), 0);
	/* ...after the CPU took the page back and the device page was freed. */
	check_pages(mm, TBASE, 1, 25);
	ASSERT_UEQ(mirror_device_pages(m), 0);
	ASSERT_EQ(mirror_read(m, TBASE, &b, 1), -EIO);
	ASSERT_UEQ(mirror_nr_stale(m), 1);
	mirror_destroy(m);
	mmput(mm);
}
