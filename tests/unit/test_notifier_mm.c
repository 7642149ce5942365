// SPDX-License-Identifier: MIT
/*
 * The primary MMU calls the notifiers right: every path that clears,
 * replaces or write-protects PTEs is bracketed by invalidate_range_start/end
 * with the exact range and event; at start the pages are still mapped to the
 * same frames; ->release runs at exit before any frame is freed.
 */
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "../harness.h"
#include "base/alloc.h"
#include "base/debug.h"
#include "base/rcu.h"
#include "secmmu/err.h"
#include "secmmu/mmu_notifier.h"
#include "testutil.h"

#define BASE 0x200000UL

/* Physical memory and the leak check at teardown (tests/testutil.h). */
static void setup(void)
{
	MM_TEST_SETUP_BYTES(64 << 20);
}

struct ev {
	bool start;
	bool blockable;
	unsigned long s, e;
	enum mmu_notifier_event event;
};

#define NPROBE 8

struct recorder {
	struct mmu_notifier mn;
	struct ev log[64];
	int n;
	/* pages whose (pfn, gen) must be intact at the next start */
	unsigned long probe_addr[NPROBE];
	unsigned long probe_pfn[NPROBE];
	uint32_t probe_gen[NPROBE];
	int nprobe;
	int probe_failures;
	int releases;
	unsigned long frames_before_exit, frames_at_release;
};

static struct recorder *to_recorder(struct mmu_notifier *mn)
{
	return container_of(mn, struct recorder, mn);
}

static int rec_start(struct mmu_notifier *mn, const struct mmu_notifier_range *range)
{
	struct recorder *r = to_recorder(mn);

	if (r->n < 64)
		r->log[r->n++] = (struct ev){true, mmu_notifier_range_blockable(range),
					     range->start, range->end, range->event};
	/*
	 * The frames must still be the ones probed: not freed, not reused. (No
	 * PTE lookup here: a start need not come with mmap_lock held -- a COW
	 * fault under its per-VMA lock, reclaim -- and follow_pfn_pte() needs it.)
	 */
	for (int i = 0; i < r->nprobe; i++) {
		if (r->probe_addr[i] < range->start || r->probe_addr[i] >= range->end)
			continue;
		if (!page_gen_valid(r->probe_pfn[i], r->probe_gen[i]))
			r->probe_failures++;
	}
	r->nprobe = 0;
	return 0;
}

static void rec_end(struct mmu_notifier *mn, const struct mmu_notifier_range *range)
{
	struct recorder *r = to_recorder(mn);

	if (r->n < 64)
		r->log[r->n++] = (struct ev){false, mmu_notifier_range_blockable(range),
					     range->start, range->end, range->event};
}

static void rec_release(struct mmu_notifier *mn, struct mm_struct *mm)
{
	struct recorder *r = to_recorder(mn);

	(void)mm;
	r->releases++;
	r->frames_at_release = phys_used_frames();
}

static const struct mmu_notifier_ops rec_ops = {
	.release = rec_release,
	.invalidate_range_start = rec_start,
	.invalidate_range_end = rec_end,
};

/* Remember the frames of [addr, addr+len) to check them at the next start. */
static void probe(struct recorder *r, struct mm_struct *mm, unsigned long addr, unsigned long len)
{
	r->nprobe = 0;
	mmap_read_lock(mm);
	for (unsigned long a = addr; a < addr + len && r->nprobe < NPROBE; a += PAGE_SIZE) {
		int i = r->nprobe++;

		r->probe_addr[i] = a;
		ASSERT_EQ(follow_pfn_pte(mm, a, &r->probe_pfn[i], &(bool){0}, &r->probe_gen[i]), 0);
	}
	mmap_read_unlock(mm);
}

/* Exactly one start/end pair, with this range and event, and nothing else. */
static void expect_one(struct recorder *r, unsigned long s, unsigned long e,
		       enum mmu_notifier_event event)
{
	ASSERT_EQ(r->n, 2);
	ASSERT(r->log[0].start);
	ASSERT(!r->log[1].start);
	for (int i = 0; i < 2; i++) {
		ASSERT_UEQ(r->log[i].s, s);
		ASSERT_UEQ(r->log[i].e, e);
		ASSERT_STR_EQ(mmu_notifier_event_name(r->log[i].event),
			      mmu_notifier_event_name(event));
	}
	ASSERT_EQ(r->probe_failures, 0);
	r->n = 0;
}

static struct mm_struct *populated_mm(unsigned long len)
{
	struct mm_struct *mm = mm_alloc();
	static char buf[16 * PAGE_SIZE];

	memset(buf, 0x33, sizeof(buf));
	ASSERT_EQ(mm_mmap(mm, BASE, len, PROT_READ | PROT_WRITE, MAP_PRIVATE, NULL, 0), (long)BASE);
	ASSERT_EQ(mm_write(mm, BASE, buf, len), 0);
	return mm;
}

/* A populated mm of @len bytes with a recorder registered on it (*@rp). */
static struct mm_struct *recorded_mm(struct recorder **rp, unsigned long len)
{
	struct recorder *r = kzalloc(sizeof(*r));
	struct mm_struct *mm = populated_mm(len);

	r->mn.ops = &rec_ops;
	ASSERT_EQ(mmu_notifier_register(&r->mn, mm), 0);
	*rp = r;
	return mm;
}

TEST(notifier_mm_munmap_mprotect_dontneed_mremap)
{
	struct recorder *r;
	struct mm_struct *mm = NULL;

	setup();
	mm = recorded_mm(&r, 16 * PAGE_SIZE);

	probe(r, mm, BASE + 2 * PAGE_SIZE, 2 * PAGE_SIZE);
	ASSERT_EQ(mm_munmap(mm, BASE + 2 * PAGE_SIZE, 2 * PAGE_SIZE), 0);
	expect_one(r, BASE + 2 * PAGE_SIZE, BASE + 4 * PAGE_SIZE, MMU_NOTIFY_UNMAP);

	probe(r, mm, BASE + 4 * PAGE_SIZE, 4 * PAGE_SIZE);
	ASSERT_EQ(mm_mprotect(mm, BASE + 4 * PAGE_SIZE, 4 * PAGE_SIZE, PROT_READ), 0);
	expect_one(r, BASE + 4 * PAGE_SIZE, BASE + 8 * PAGE_SIZE, MMU_NOTIFY_PROTECTION_VMA);

	probe(r, mm, BASE + 8 * PAGE_SIZE, PAGE_SIZE);
	ASSERT_EQ(mm_madvise(mm, BASE + 8 * PAGE_SIZE, PAGE_SIZE, MADV_DONTNEED), 0);
	/* As Linux's zap_page_range_single(): the mapping stays. */
	expect_one(r, BASE + 8 * PAGE_SIZE, BASE + 9 * PAGE_SIZE, MMU_NOTIFY_CLEAR);

	probe(r, mm, BASE + 12 * PAGE_SIZE, 2 * PAGE_SIZE);
	ASSERT_EQ(mm_mremap(mm, BASE + 12 * PAGE_SIZE, 2 * PAGE_SIZE, 2 * PAGE_SIZE,
			    MREMAP_MAYMOVE | MREMAP_FIXED, BASE + 64 * PAGE_SIZE),
		  (long)(BASE + 64 * PAGE_SIZE));
	ASSERT_GE(r->n, 2); /* the old range goes; the new one had nothing mapped */
	ASSERT_UEQ(r->log[0].s, BASE + 12 * PAGE_SIZE);
	ASSERT_UEQ(r->log[0].e, BASE + 14 * PAGE_SIZE);
	ASSERT_EQ(r->log[0].event, MMU_NOTIFY_UNMAP);
	ASSERT_EQ(r->probe_failures, 0);
	r->n = 0;

	mmu_notifier_unregister(&r->mn, mm);
	mmput(mm);
	kfree(r);
}

/*
 * The OOM reaper unmaps a victim's private anonymous VMA as
 * __oom_reap_task_mm(): one MMU_NOTIFY_UNMAP over the whole VMA, sent
 * non-blockable (the reaper must not wait on a subscriber), as
 * include/secmmu/mmu_notifier.h documents.
 */
TEST(notifier_mm_oom_reap_unmaps_nonblockable)
{
	unsigned long reaped = 0;
	struct recorder *r;
	struct mm_struct *mm;

	setup();
	mm = recorded_mm(&r, 8 * PAGE_SIZE);
	probe(r, mm, BASE, 8 * PAGE_SIZE);
	ASSERT_EQ(mm_oom_reap(mm, &reaped), 0);
	ASSERT_UEQ(reaped, 8);
	ASSERT(!r->log[0].blockable);
	expect_one(r, BASE, BASE + 8 * PAGE_SIZE, MMU_NOTIFY_UNMAP);
	mmu_notifier_unregister(&r->mn, mm);
	mmput(mm);
	kfree(r);
}

TEST(notifier_mm_fork_wrprotects_parent_and_cow_break_clears)
{
	struct recorder *r;
	struct mm_struct *mm, *child;
	char c = 9;

	setup();
	mm = recorded_mm(&r, 4 * PAGE_SIZE);

	probe(r, mm, BASE, 4 * PAGE_SIZE);
	child = dup_mm(mm);
	ASSERT(!IS_ERR_OR_NULL(child));
	expect_one(r, BASE, BASE + 4 * PAGE_SIZE, MMU_NOTIFY_PROTECTION_PAGE);

	/* The parent writes a shared page: COW break replaces the PTE. */
	probe(r, mm, BASE + PAGE_SIZE, PAGE_SIZE);
	ASSERT_EQ(mm_write(mm, BASE + PAGE_SIZE, &c, 1), 0);
	expect_one(r, BASE + PAGE_SIZE, BASE + 2 * PAGE_SIZE, MMU_NOTIFY_CLEAR);

	mmput(child);
	ASSERT_EQ(r->n, 0); /* the child's exit is not the parent's business */
	mmu_notifier_unregister(&r->mn, mm);
	mmput(mm);
	kfree(r);
}

TEST(notifier_mm_exit_releases_before_freeing_frames)
{
	struct recorder *r;
	struct mm_struct *mm;

	setup();
	mm = recorded_mm(&r, 8 * PAGE_SIZE);
	mmgrab(mm);
	r->frames_before_exit = phys_used_frames();
	mmput(mm);
	ASSERT_EQ(r->releases, 1);
	ASSERT_UEQ(r->frames_at_release, r->frames_before_exit);
	ASSERT_EQ(r->n, 0); /* released: the teardown invalidation is not delivered */
	ASSERT_EQ(phys_used_frames(), 0);
	mmu_notifier_unregister(&r->mn, mm);
	ASSERT_EQ(r->releases, 1);
	mmdrop(mm);
	kfree(r);
}

/*
 * mprotect notifies only where page tables exist (change_pmd_range() starts
 * the invalidation at the first populated table): a range never touched gets
 * no invalidation at all; a range whose tables begin inside it is notified
 * from there.
 */
TEST(notifier_mm_mprotect_notifies_only_populated_tables)
{
	/* 2 MiB apart: the second range lies under its own page table. */
	const unsigned long far = BASE + (512UL << PAGE_SHIFT);
	struct recorder *r;
	struct mm_struct *mm;
	static char byte = 1;

	setup();
	r = kzalloc(sizeof(*r));
	mm = mm_alloc();
	ASSERT_EQ(mm_mmap(mm, BASE, 1024 * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE, NULL, 0),
		  (long)BASE);
	r->mn.ops = &rec_ops;
	ASSERT_EQ(mmu_notifier_register(&r->mn, mm), 0);

	r->n = 0;
	ASSERT_EQ(mm_mprotect(mm, BASE, 1024 * PAGE_SIZE, PROT_READ), 0);
	ASSERT_EQ(r->n, 0); /* nothing was ever mapped: no table, no notification */

	ASSERT_EQ(mm_mprotect(mm, BASE, 1024 * PAGE_SIZE, PROT_READ | PROT_WRITE), 0);
	ASSERT_EQ(mm_write(mm, far + 3 * PAGE_SIZE, &byte, 1), 0);
	r->n = 0;
	ASSERT_EQ(mm_mprotect(mm, BASE, 1024 * PAGE_SIZE, PROT_READ), 0);
	ASSERT_EQ(r->n, 2);
	ASSERT_UEQ(r->log[0].s, far); /* from the populated table on */
	ASSERT_UEQ(r->log[0].e, BASE + 1024 * PAGE_SIZE);
	ASSERT_EQ(r->log[0].event, MMU_NOTIFY_PROTECTION_VMA);

	mmu_notifier_unregister(&r->mn, mm);
	mmput(mm);
	kfree(r);
}
