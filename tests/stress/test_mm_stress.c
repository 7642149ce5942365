// SPDX-License-Identifier: MIT
/*
 * mm stress: writer threads keep writing and reading back their own pages
 * while a mutator thread changes the address space under them (mprotect,
 * munmap/mmap, MADV_DONTNEED, fork + child exit).
 *
 * Layout (pages from TBASE):
 *   [0, NR_WRITERS * STRICT_PER)   "strict" pages, STRICT_PER per writer. The
 *                                  mutator only mprotects them and forks:
 *                                  no data may ever be lost; a read returns
 *                                  the last successful write or -EFAULT.
 *   [LOOSE_BASE, + NR_WRITERS)     one "loose" page per writer. The mutator
 *                                  also unmaps, remaps and DONTNEEDs these:
 *                                  a read right after a write returns the
 *                                  last successful write, zeroes, or -EFAULT
 *                                  -- never older or torn data.
 * Every page carries a header (writer, seq) and a body derived from it, so a
 * torn or mixed page is detected anywhere, including in fork children.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "mm/internal.h"
#include "sync_util.h"
#include "testutil.h"

#define NR_WRITERS 2
#define STRICT_PER 4
#define LOOSE_BASE 16
#define RUN_NS	   (2500ull * 1000 * 1000)

struct hdr {
	uint64_t magic;
	uint64_t writer;
	uint64_t seq;
};

#define MAGIC 0x5ec33a11c0ffee00ull

static struct mm_struct *mm;
static atomic_bool stop;
static atomic_ulong nr_writes, nr_efaults, nr_forks, nr_mutations;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static unsigned long seed_of(uint64_t writer, uint64_t seq, unsigned long page)
{
	return (unsigned long)((writer << 48) ^ (seq << 8) ^ page);
}

static void make_page(uint8_t *buf, uint64_t writer, uint64_t seq, unsigned long page)
{
	struct hdr h = {MAGIC, writer, seq};

	fill_pattern(buf, PAGE_SIZE, seed_of(writer, seq, page));
	memcpy(buf, &h, sizeof(h));
}

/* 0 if @buf is all zero, 1 if a consistent page, -1 if torn/garbage. */
static int classify(const uint8_t *buf, unsigned long page, struct hdr *out)
{
	struct hdr h;

	if (mem_is_byte(buf, PAGE_SIZE, 0))
		return 0;
	memcpy(&h, buf, sizeof(h));
	if (h.magic != MAGIC)
		return -1;
	uint8_t ref[PAGE_SIZE];

	make_page(ref, h.writer, h.seq, page);
	if (memcmp(ref, buf, PAGE_SIZE))
		return -1;
	if (out)
		*out = h;
	return 1;
}

struct writer_arg {
	uint64_t id;
	uint64_t last_ok[STRICT_PER]; /* seq of the last successful write, 0 = none */
	char failure[160];
};

static void *writer_fn(void *p)
{
	struct writer_arg *w = p;
	static _Thread_local uint8_t buf[PAGE_SIZE], rd[PAGE_SIZE];
	uint64_t seq = 0, loose_ok = 0;

	while (!atomic_load(&stop)) {
		for (unsigned long i = 0; i < STRICT_PER; i++) {
			unsigned long page = w->id * STRICT_PER + i;
			unsigned long addr = TBASE + PG(page);
			struct hdr h;
			int r, c;

			seq++;
			make_page(buf, w->id, seq, page);
			r = mm_write(mm, addr, buf, PAGE_SIZE);
			if (r == 0) {
				w->last_ok[i] = seq;
				atomic_fetch_add(&nr_writes, 1);
			} else if (r == -EFAULT) {
				atomic_fetch_add(&nr_efaults, 1);
			} else {
				snprintf(w->failure, sizeof(w->failure), "strict write: %d", r);
				return NULL;
			}
			r = mm_read(mm, addr, rd, PAGE_SIZE);
			if (r == -EFAULT)
				continue;
			if (r) {
				snprintf(w->failure, sizeof(w->failure), "strict read: %d", r);
				return NULL;
			}
			c = classify(rd, page, &h);
			if (w->last_ok[i] == 0
				    ? c != 0
				    : (c != 1 || h.writer != w->id || h.seq != w->last_ok[i])) {
				snprintf(w->failure, sizeof(w->failure),
					 "strict page %lu: class %d seq %llu, want seq %llu", page,
					 c, c == 1 ? (unsigned long long)h.seq : 0ull,
					 (unsigned long long)w->last_ok[i]);
				return NULL;
			}
		}
		/* The loose page. */
		{
			unsigned long page = LOOSE_BASE + w->id;
			unsigned long addr = TBASE + PG(page);
			struct hdr h;
			int r, c;

			seq++;
			make_page(buf, w->id, seq, page);
			r = mm_write(mm, addr, buf, PAGE_SIZE);
			if (r && r != -EFAULT) {
				snprintf(w->failure, sizeof(w->failure), "loose write: %d", r);
				return NULL;
			}
			if (!r)
				loose_ok = seq;
			r = mm_read(mm, addr, rd, PAGE_SIZE);
			if (r == -EFAULT)
				continue;
			if (r) {
				snprintf(w->failure, sizeof(w->failure), "loose read: %d", r);
				return NULL;
			}
			c = classify(rd, page, &h);
			/*
			 * Zero (dropped or remapped), or exactly the last successful
			 * write (this one, unless it hit a read-only or missing page).
			 */
			if (c < 0 || (c == 1 && (h.writer != w->id || h.seq != loose_ok))) {
				snprintf(w->failure, sizeof(w->failure),
					 "loose page %lu: class %d seq %llu (wrote %llu)", page, c,
					 c == 1 ? (unsigned long long)h.seq : 0ull,
					 (unsigned long long)seq);
				return NULL;
			}
		}
	}
	return NULL;
}

static char mutator_failure[160];

/* A fork child: every readable strict page must be zero or consistent. */
static bool check_child(struct mm_struct *child)
{
	static uint8_t rd[PAGE_SIZE];

	for (unsigned long page = 0; page < NR_WRITERS * STRICT_PER; page++) {
		int r = mm_read(child, TBASE + PG(page), rd, PAGE_SIZE);

		if (r == -EFAULT)
			continue;
		if (r || classify(rd, page, NULL) < 0) {
			snprintf(mutator_failure, sizeof(mutator_failure),
				 "fork child page %lu: read %d, torn", page, r);
			return false;
		}
	}
	/* The child's writes must not reach the parent: write, then let it go. */
	static uint8_t junk[PAGE_SIZE];

	memset(junk, 0xcd, sizeof(junk));
	for (unsigned long page = 0; page < NR_WRITERS * STRICT_PER; page++)
		(void)mm_write(child, TBASE + PG(page), junk, PAGE_SIZE);
	return true;
}

static void *mutator_fn(void *p)
{
	static const int prots[] = {PROT_NONE, PROT_READ, PROT_RW};
	unsigned int seed = 4242;

	(void)p;
	while (!atomic_load(&stop)) {
		int op = rand_r(&seed) % 8;
		unsigned long sp = (unsigned long)rand_r(&seed) % (NR_WRITERS * STRICT_PER);
		unsigned long lp = LOOSE_BASE + (unsigned long)rand_r(&seed) % NR_WRITERS;
		int r = 0;

		switch (op) {
		case 0: /* protect a strict page for a moment */
			r = mm_mprotect(mm, TBASE + PG(sp), PAGE_SIZE, prots[rand_r(&seed) % 3]);
			break;
		case 1: /* and give it back */
			r = mm_mprotect(mm, TBASE + PG(sp), PAGE_SIZE, PROT_RW);
			break;
		case 2: {
			struct mm_struct *child = dup_mm(mm);

			if (IS_ERR(child)) {
				r = (int)PTR_ERR(child);
				break;
			}
			atomic_fetch_add(&nr_forks, 1);
			if (!check_child(child))
				r = -EIO;
			mmput(child);
			break;
		}
		case 3:
			r = mm_munmap(mm, TBASE + PG(lp), PAGE_SIZE);
			break;
		case 4:
			r = mm_mmap(mm, TBASE + PG(lp), PAGE_SIZE, PROT_RW, MAP_PRIVATE, NULL, 0);
			r = r == (long)(TBASE + PG(lp)) ? 0 : r;
			break;
		case 5:
			r = mm_madvise(mm, TBASE + PG(lp), PAGE_SIZE, MADV_DONTNEED);
			if (r == -ENOMEM) /* currently unmapped */
				r = 0;
			break;
		case 6:
			r = mm_mprotect(mm, TBASE + PG(lp), PAGE_SIZE, prots[rand_r(&seed) % 3]);
			if (r == -ENOMEM)
				r = 0;
			break;
		case 7: /* DONTNEED over the whole loose window, holes included */
			r = mm_madvise(mm, TBASE + PG(LOOSE_BASE), PG(NR_WRITERS), MADV_DONTNEED);
			if (r == -ENOMEM)
				r = 0;
			break;
		}
		if (r) {
			if (!mutator_failure[0])
				snprintf(mutator_failure, sizeof(mutator_failure), "op %d: %d", op,
					 r);
			return NULL;
		}
		atomic_fetch_add(&nr_mutations, 1);
	}
	/* Leave the strict pages accessible for the final check. */
	if (mm_mprotect(mm, TBASE, PG(NR_WRITERS * STRICT_PER), PROT_RW))
		snprintf(mutator_failure, sizeof(mutator_failure), "final mprotect failed");
	return NULL;
}

TEST(writers_vs_mutator)
{
	static struct writer_arg args[NR_WRITERS];
	struct sm_thread wt[NR_WRITERS], mt;
	static uint8_t rd[PAGE_SIZE];
	uint64_t end;

	MM_TEST_SETUP();
	mm = mm_alloc();
	ASSERT_NOT_NULL(mm);
	map_anon(mm, TBASE, NR_WRITERS * STRICT_PER, PROT_RW, false);
	map_anon(mm, TBASE + PG(LOOSE_BASE), NR_WRITERS, PROT_RW, false);
	for (int i = 0; i < NR_WRITERS; i++) {
		args[i].id = (uint64_t)i;
		ASSERT_EQ(sm_thread_create(&wt[i], writer_fn, &args[i], "writer %d", i), 0);
	}
	ASSERT_EQ(sm_thread_create(&mt, mutator_fn, NULL, "mutator"), 0);
	end = now_ns() + RUN_NS;
	/* The run's length, checked every 20 ms: a mutator failure ends it early. */
	while (now_ns() < end && !mutator_failure[0])
		sm_delay_us(20000);
	atomic_store(&stop, true);
	for (int i = 0; i < NR_WRITERS; i++)
		sm_thread_join(&wt[i]);
	sm_thread_join(&mt);

	if (mutator_failure[0])
		FAIL("mutator: %s", mutator_failure);
	for (int i = 0; i < NR_WRITERS; i++)
		if (args[i].failure[0])
			FAIL("writer %d: %s", i, args[i].failure);
	/* Everything ran. */
	ASSERT_UGT(atomic_load(&nr_writes), 100);
	ASSERT_UGT(atomic_load(&nr_forks), 5);
	ASSERT_UGT(atomic_load(&nr_mutations), 100);
	/* Final state: each strict page holds its writer's last successful write. */
	for (int i = 0; i < NR_WRITERS; i++) {
		for (unsigned long j = 0; j < STRICT_PER; j++) {
			unsigned long page = (unsigned long)i * STRICT_PER + j;
			struct hdr h;

			ASSERT_EQ(mm_read(mm, TBASE + PG(page), rd, PAGE_SIZE), 0);
			if (!args[i].last_ok[j]) {
				ASSERT(mem_is_byte(rd, PAGE_SIZE, 0));
				continue;
			}
			ASSERT_EQ(classify(rd, page, &h), 1);
			ASSERT_UEQ(h.seq, args[i].last_ok[j]);
		}
	}
	/* rss agrees with the frames in use (nothing else holds frames). */
	struct mm_stats st;

	mm_get_stats(mm, &st);
	ASSERT_UEQ(st.rss, phys_used_frames());
	mmput(mm);
	printf("writes=%lu efaults=%lu forks=%lu mutations=%lu\n", atomic_load(&nr_writes),
	       atomic_load(&nr_efaults), atomic_load(&nr_forks), atomic_load(&nr_mutations));
}
