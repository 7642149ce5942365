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
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "secmmu/migrate.h"
#include "secmmu/mirror.h"
#include "secmmu/swap.h"
#include "testutil.h"

#define NPAGES 16
#define DEVICES 2
#define ROUNDS 20000

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
	pthread_t threads[DEVICES];
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
		ASSERT_EQ(pthread_create(&threads[i], NULL, device_thread, m[i]), 0);
	}
	for (unsigned int r = 0; r < ROUNDS; r++)
		mutate(r, (unsigned int)rand_r(&seed) % NPAGES);
	atomic_store(&stop, true);
	for (int i = 0; i < DEVICES; i++) {
		pthread_join(threads[i], NULL);
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
