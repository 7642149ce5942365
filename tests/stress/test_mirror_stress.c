// SPDX-License-Identifier: MIT
/*
 * Device threads DMA through mirrors while a mutator unmaps, remaps,
 * protects, forks and discards under them.
 *
 * Oracle: every page of the window holds a fill byte equal to its version,
 * published (with release) by the mutator after it wrote the page. A DMA read
 * that starts after version v was published must return v or a later
 * version -- or 0 / -EFAULT while the page is being replaced. A device that
 * keeps a translation past its invalidation returns an older version (or
 * trips the generation check): both fail the test.
 */
#include <stdatomic.h>
#include <stdlib.h>

#include "secmmu/migrate.h"
#include "secmmu/mirror.h"
#include "secmmu/swap.h"
#include "base/thread.h"
#include "testutil.h"

#define NPAGES	16
#define DEVICES 2
#define ROUNDS	20000

static struct mm_struct *mm;
static _Atomic unsigned int version[NPAGES];
static _Atomic bool stop;
static _Atomic unsigned long stale_reads;
static _Atomic unsigned long good_reads;

static void *device_thread(void *arg)
{
	struct mirror *m = arg;
	unsigned int seed = 12345;

	while (!atomic_load(&stop)) {
		unsigned int p = rand_r(&seed) % NPAGES;
		unsigned char buf[64];
		unsigned int before = atomic_load_explicit(&version[p], memory_order_acquire);
		int ret = mirror_read(m, TBASE + PG(p) + 128, buf, sizeof(buf));

		if (ret == -EFAULT)
			continue; /* the mutator has it unmapped right now */
		ASSERT_EQ(ret, 0);
		for (size_t i = 1; i < sizeof(buf); i++)
			ASSERT_EQ(buf[i], buf[0]); /* torn: a DMA raced a free */
		if (buf[0] == 0)
			continue; /* freshly mapped, not yet written */
		if ((unsigned int)buf[0] < (before & 0xff) && before < 255)
			atomic_fetch_add(&stale_reads, 1);
		else
			atomic_fetch_add(&good_reads, 1);
	}
	return NULL;
}

static void publish(unsigned int p, unsigned int v)
{
	unsigned char fill[PAGE_SIZE];

	memset(fill, (int)v, sizeof(fill));
	ASSERT_EQ(mm_write(mm, TBASE + PG(p), fill, sizeof(fill)), 0);
	atomic_store_explicit(&version[p], v, memory_order_release);
}

static void mutate(unsigned int round, unsigned int p)
{
	unsigned int v = (round % 250) + 1;
	struct mm_struct *child;

	switch (round % 9) {
	case 0: /* replace the page: the old frame is freed */
		ASSERT_EQ(mm_munmap(mm, TBASE + PG(p), PG(1)), 0);
		ASSERT_EQ(mm_mmap(mm, TBASE + PG(p), PG(1), PROT_READ | PROT_WRITE, MAP_PRIVATE,
				  NULL, 0),
			  (long)(TBASE + PG(p)));
		break;
	case 1: /* discard: the next touch gets a new zero frame */
		ASSERT_EQ(mm_madvise(mm, TBASE + PG(p), PG(1), MADV_DONTNEED), 0);
		break;
	case 2: /* fork + COW: the parent's next write copies */
		child = dup_mm(mm);
		ASSERT(!IS_ERR(child));
		mmput(child);
		break;
	case 3:
		ASSERT_EQ(mm_mprotect(mm, TBASE + PG(p), PG(1), PROT_READ), 0);
		ASSERT_EQ(mm_mprotect(mm, TBASE + PG(p), PG(1), PROT_READ | PROT_WRITE), 0);
		break;
	case 5: /* swap it out: the frame is freed, the next access swaps in */
		ASSERT_EQ(mm_madvise(mm, TBASE + PG(p), PG(1), MADV_PAGEOUT), 0);
		break;
	case 6: /* move it to another frame */
		ASSERT_EQ(migrate_range(mm, TBASE + PG(p), PG(1)), 0);
		break;
	case 7: /* merge identical pages (same version) into one KSM frame */
		ksm_scan_all();
		break;
	case 8:
		try_to_free_pages(4);
		break;
	default:
		break;
	}
	/* Monotonic per page: never publish a lower version than before. */
	if (v <= atomic_load(&version[p]))
		v = atomic_load(&version[p]) < 250 ? atomic_load(&version[p]) + 1 : 250;
	publish(p, v);
}

TEST(mirror_dma_vs_mutations_no_stale_data)
{
	struct sm_thread threads[DEVICES];
	struct mirror *m[DEVICES];
	unsigned int seed = 777;

	MM_TEST_SETUP();
	ASSERT_EQ(swap_on(4 << 20, NULL), 0);
	mm = mm_alloc();
	ASSERT_NOT_NULL(mm);
	ASSERT_EQ(mm_mmap(mm, TBASE, PG(NPAGES), PROT_READ | PROT_WRITE, MAP_PRIVATE, NULL, 0),
		  (long)TBASE);
	ASSERT_EQ(mm_madvise(mm, TBASE, PG(NPAGES), MADV_MERGEABLE), 0);
	for (unsigned int p = 0; p < NPAGES; p++)
		publish(p, 1);
	for (int i = 0; i < DEVICES; i++) {
		m[i] = mirror_create(mm, 0);
		ASSERT(!IS_ERR(m[i]));
		ASSERT_EQ(sm_thread_create(&threads[i], device_thread, m[i], "device %d", i), 0);
	}
	for (unsigned int r = 0; r < ROUNDS; r++)
		mutate(r, (unsigned int)rand_r(&seed) % NPAGES);
	atomic_store(&stop, true);
	for (int i = 0; i < DEVICES; i++) {
		sm_thread_join(&threads[i]);
		ASSERT_UEQ(mirror_nr_stale(m[i]), 0);
		mirror_destroy(m[i]);
	}
	ASSERT_UEQ(atomic_load(&stale_reads), 0);
	ASSERT_UGT(atomic_load(&good_reads), 0);
	ASSERT_UEQ(phys_stale_count(), 0);
	mmput(mm);
	ASSERT_UEQ(swap_slots_used(), 0);
	ASSERT_EQ(swap_off(), 0);
}

/*
 * No lost device write: a device thread writes increasing values into its
 * pages and, holding mm_users, checks each one with a CPU read right away,
 * while the mutator forks (COW), write-protects, pages out, migrates and
 * merges those pages. A write that landed in a frame the process no longer
 * maps (a missed COW or migration) is read back as an older value. Then the
 * process exits while the device is still writing: the device must stop
 * with -ESRCH, never write into freed memory.
 */
#define WPAGES 4
#define WBASE  (TBASE + PG(64))

static _Atomic unsigned long lost_writes, checked_writes;

static void *device_writer(void *arg)
{
	struct mirror *m = arg;

	for (uint64_t v = 1;; v++) {
		unsigned long addr = WBASE + PG(v % WPAGES) + 8 * (v % 16);
		uint64_t back = 0;
		int ret;

		if (!mmget_not_zero(mm))
			break; /* the process has exited */
		ret = mirror_write(m, addr, &v, sizeof(v));
		if (ret == 0) {
			ASSERT_EQ(mm_read(mm, addr, &back, sizeof(back)), 0);
			if (back != v)
				atomic_fetch_add(&lost_writes, 1);
			atomic_fetch_add(&checked_writes, 1);
		} else {
			/* write-protected (-EPERM; -EFAULT if unmapped), or exiting */
			ASSERT(ret == -EPERM || ret == -EFAULT || ret == -ESRCH);
		}
		mmput(mm); /* maybe the last user: then this thread runs the exit */
	}
	ASSERT_EQ(mirror_write(m, WBASE, "x", 1), -ESRCH);
	return NULL;
}

static void mutate_writer_pages(unsigned int round)
{
	unsigned long addr = WBASE + PG(round % WPAGES);
	struct mm_struct *child;

	switch (round % 6) {
	case 0:
		child = dup_mm(mm);
		ASSERT(!IS_ERR(child));
		mmput(child);
		break;
	case 1:
		ASSERT_EQ(mm_mprotect(mm, addr, PG(1), PROT_READ), 0);
		ASSERT_EQ(mm_mprotect(mm, addr, PG(1), PROT_READ | PROT_WRITE), 0);
		break;
	case 2:
		ASSERT_EQ(mm_madvise(mm, addr, PG(1), MADV_PAGEOUT), 0);
		break;
	case 3:
		ASSERT_EQ(migrate_range(mm, addr, PG(1)), 0);
		break;
	case 4:
		ksm_scan_all();
		break;
	default:
		try_to_free_pages(2);
		break;
	}
}

TEST(mirror_device_writes_never_lost_and_exit_stops_dma)
{
	struct mirror *m;
	struct sm_thread t;

	MM_TEST_SETUP();
	ASSERT_EQ(swap_on(4 << 20, NULL), 0);
	mm = mm_alloc();
	ASSERT_NOT_NULL(mm);
	ASSERT_EQ(mm_mmap(mm, WBASE, PG(WPAGES), PROT_READ | PROT_WRITE, MAP_PRIVATE, NULL, 0),
		  (long)WBASE);
	ASSERT_EQ(mm_madvise(mm, WBASE, PG(WPAGES), MADV_MERGEABLE), 0);
	m = mirror_create(mm, 0);
	ASSERT(!IS_ERR(m));
	ASSERT_EQ(sm_thread_create(&t, device_writer, m, "device writer"), 0);
	/* Keep mutating until the device has made real progress too. */
	for (unsigned int r = 0; r < ROUNDS / 4 || atomic_load(&checked_writes) < 200; r++) {
		ASSERT_ULT(r, 100 * ROUNDS); /* a device that never completes a write */
		mutate_writer_pages(r);
	}
	mmput(mm); /* exit with the device running */
	sm_thread_join(&t);
	ASSERT_UEQ(atomic_load(&lost_writes), 0);
	ASSERT_UGT(atomic_load(&checked_writes), 0);
	ASSERT_UEQ(mirror_nr_stale(m), 0);
	mirror_destroy(m);
	ASSERT_UEQ(phys_stale_count(), 0);
	ASSERT_UEQ(swap_slots_used(), 0);
	ASSERT_EQ(swap_off(), 0);
}
