// SPDX-License-Identifier: MIT
/*
 * Fault injection: walk N over every kzalloc() site of a path
 * (fault_inject_alloc(N), N = 1, 2, ... until the path succeeds without a
 * hit). Each failure must return a clean negative errno and leave nothing
 * behind: kzalloc_live(), the frames in use, mm_live_count(), file count and
 * the mm's mm_users/mm_count back to where they were. Also: the -EAGAIN
 * non-blockable invalidation path.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>

#include "base/rcu.h"
#include "harness.h"
#include "secmmu/err.h"
#include "secmmu/gru.h"
#include "secmmu/iommu.h"
#include "secmmu/kvm.h"
#include "secmmu/mirror.h"
#include "secmmu/mmu_notifier.h"
#include "secmmu/mmu_notifier_hooks.h"
#include "secmmu/sched.h"
#include "secmmu/swap.h"
#include "secmmu/vfio.h"
#include "secmmu/check.h"
#include "secmmu/migrate.h"
#include "secmmu/xpmem.h"
#include "testutil.h"

struct snap {
	long live, files;
	unsigned long frames, mms;
	int users, count;
};

static struct mm_struct *g_mm; /* the mm whose counters are watched */

static void take(struct snap *s)
{
	sm_rcu_barrier();
	s->live = kzalloc_live();
	s->files = file_live_count();
	s->frames = phys_used_frames();
	s->mms = mm_live_count();
	s->users = g_mm ? mm_users_read(g_mm) : 0;
	s->count = g_mm ? mm_count_read(g_mm) : 0;
}

static void same(const struct snap *a, const struct snap *b, const char *what, unsigned long n)
{
	if (a->live != b->live || a->files != b->files || a->frames != b->frames ||
	    a->mms != b->mms || a->users != b->users || a->count != b->count)
		FAIL("%s with allocation %lu failing: left behind kzalloc %ld->%ld files %ld->%ld "
		     "frames %lu->%lu mms %lu->%lu users %d->%d count %d->%d",
		     what, n, a->live, b->live, a->files, b->files, a->frames, b->frames, a->mms,
		     b->mms, a->users, b->users, a->count, b->count);
}

/*
 * Walk: @op returns 0 on success (then @undo is called) or a negative errno.
 * Return: the number of allocation sites found.
 */
static unsigned long walk(const char *what, long (*op)(void), void (*undo)(void))
{
	/*
	 * Warm-up: state that legitimately outlives one op+undo (the mm's
	 * notifier subscriptions container, a VFIO container's mm) exists first.
	 */
	if (op() != 0)
		FAIL("%s: warm-up call failed", what);
	undo();
	for (unsigned long n = 1; n < 10000; n++) {
		struct snap a, b;
		unsigned long hits;
		long r;

		take(&a);
		hits = fault_inject_alloc_hits();
		fault_inject_alloc(n);
		r = op();
		fault_inject_alloc(0);
		if (fault_inject_alloc_hits() == hits) {
			if (r != 0)
				FAIL("%s: failed with %ld without an injected failure", what, r);
			undo();
			take(&b);
			same(&a, &b, what, 0);
			return n - 1;
		}
		if (r == 0)
			FAIL("%s: allocation %lu failed but the call returned success", what, n);
		if (r != -ENOMEM && r != -EINTR && r != -EAGAIN)
			FAIL("%s: allocation %lu failed: unexpected errno %ld", what, n, r);
		take(&b);
		same(&a, &b, what, n);
	}
	FAIL("%s: more than 10000 allocation sites?", what);
	return 0;
}

/* ---- the paths ---- */

static struct task_struct *g_task, *g_child;
static struct mm_struct *g_dup;
static struct mirror *g_mirror;
static struct iommu_device *g_dev;
static struct iommu_sva *g_bond;
static struct tce_container *g_cont;

static int nop_start(struct mmu_notifier *mn, const struct mmu_notifier_range *r)
{
	(void)mn;
	(void)r;
	return 0;
}
static const struct mmu_notifier_ops nop_ops = {.invalidate_range_start = nop_start};
static struct mmu_notifier g_mn;

static long op_register(void)
{
	memset(&g_mn, 0, sizeof(g_mn));
	g_mn.ops = &nop_ops;
	return mmu_notifier_register(&g_mn, g_mm);
}
static void undo_register(void)
{
	mmu_notifier_unregister(&g_mn, g_mm);
}

static bool inv_ok(struct mmu_interval_notifier *s, const struct mmu_notifier_range *r,
		   unsigned long seq)
{
	(void)r;
	mmu_interval_set_seq(s, seq);
	return true;
}
static const struct mmu_interval_notifier_ops iops = {.invalidate = inv_ok};
static struct mmu_interval_notifier g_isub;

static long op_interval(void)
{
	memset(&g_isub, 0, sizeof(g_isub));
	return mmu_interval_notifier_insert(&g_isub, g_mm, TBASE, PG(4), &iops);
}
static void undo_interval(void)
{
	mmu_interval_notifier_remove(&g_isub);
}

static long op_mirror(void)
{
	g_mirror = mirror_create(g_mm, 0);
	return IS_ERR(g_mirror) ? PTR_ERR(g_mirror) : 0;
}
static void undo_mirror(void)
{
	mirror_destroy(g_mirror);
}

static long op_dup_mm(void)
{
	g_dup = dup_mm(g_mm);
	return IS_ERR_OR_NULL(g_dup) ? (g_dup ? PTR_ERR(g_dup) : -ENOMEM) : 0;
}
static void undo_dup_mm(void)
{
	mmput(g_dup);
}

static long op_fork(void)
{
	return task_fork(g_task, "child", &g_child);
}
static void undo_fork(void)
{
	ASSERT_EQ(task_exit(g_child), 0);
	task_free(g_child);
}

static long op_mmap(void)
{
	long r = mm_mmap(g_mm, TBASE + PG(64), PG(8), PROT_READ | PROT_WRITE, MAP_PRIVATE, NULL, 0);
	unsigned char b;

	if (r < 0) /* nothing half-made: the range is still unmapped */
		ASSERT_EQ(mm_read(g_mm, TBASE + PG(64), &b, 1), -EFAULT);
	return r < 0 ? r : 0;
}
static void undo_mmap(void)
{
	ASSERT_EQ(mm_munmap(g_mm, TBASE + PG(64), PG(8)), 0);
}

/* mmap that splits an existing VMA in the middle (more allocation sites) */
static long op_mmap_split(void)
{
	long r = mm_mmap(g_mm, TBASE + PG(1), PG(1), PROT_READ, MAP_PRIVATE, NULL, 0);

	return r < 0 ? r : 0;
}
static void undo_mmap_split(void)
{
	/* MAP_FIXED replaced the page with a zero page: restore the pattern too. */
	ASSERT_EQ(mm_mprotect(g_mm, TBASE + PG(1), PG(1), PROT_READ | PROT_WRITE), 0);
	write_pages(g_mm, TBASE + PG(1), 1, 8);
}

static long op_vfio_open(void)
{
	return vfio_spapr_tce_open(g_task, &g_cont);
}
static void undo_vfio_open(void)
{
	ASSERT_EQ(vfio_container_close(g_cont, g_task), 0);
	vfio_container_put(g_cont);
}

static long op_vfio_register(void)
{
	return tce_iommu_register_pages(g_cont, g_mm, TBASE, PG(4));
}
static void undo_vfio_register(void)
{
	ASSERT_EQ(tce_iommu_unregister_pages(g_cont, g_mm, TBASE, PG(4)), 0);
}

static long op_sva_bind(void)
{
	g_bond = iommu_sva_bind_device(g_dev, g_mm);
	return IS_ERR(g_bond) ? PTR_ERR(g_bond) : 0;
}
static void undo_sva_bind(void)
{
	iommu_sva_unbind_device(g_bond);
}

/*
 * Page tables: a fresh mm, an area far from the others (every level of the
 * page table to allocate), written: a failing table allocation is -ENOMEM
 * from the write, and the mm's teardown frees what was built.
 */
static long op_fault_tables(void)
{
	struct mm_struct *mm = mm_alloc();
	unsigned char b = 0x42;
	long r;

	if (!mm)
		return -ENOMEM;
	r = mm_mmap(mm, 0x7f0000000000UL, PG(2), PROT_READ | PROT_WRITE, MAP_PRIVATE, NULL, 0);
	if (r >= 0)
		r = mm_write(mm, 0x7f0000000000UL + PG(1), &b, 1);
	mmput(mm);
	return r < 0 ? r : 0;
}
static void undo_nothing(void)
{
}

/*
 * mremap moving populated pages to where no page table exists yet: a failure
 * leaves the old range mapped with its data and nothing at the new address.
 */
#define MREMAP_DST 0x7e0000000000UL
static long op_mremap_move(void)
{
	struct mm_struct *mm = mm_alloc();
	unsigned char b;
	long r;

	if (!mm)
		return -ENOMEM;
	r = mm_mmap(mm, TBASE, PG(4), PROT_READ | PROT_WRITE, MAP_PRIVATE, NULL, 0);
	if (r < 0)
		goto out;
	for (int i = 0; i < 4 && r >= 0; i++) {
		b = (unsigned char)(0x30 + i);
		r = mm_write(mm, TBASE + PG(i), &b, 1);
	}
	if (r < 0)
		goto out;
	r = mm_mremap(mm, TBASE, PG(4), PG(4), MREMAP_MAYMOVE | MREMAP_FIXED, MREMAP_DST);
	if (r < 0) {
		/* Nothing half-moved: the old range is intact, the new one empty. */
		for (int i = 0; i < 4; i++) {
			ASSERT_EQ(mm_read(mm, TBASE + PG(i), &b, 1), 0);
			ASSERT_EQ(b, 0x30 + i);
			ASSERT_EQ(mm_read(mm, MREMAP_DST + PG(i), &b, 1), -EFAULT);
		}
	} else {
		ASSERT_EQ(r, (long)MREMAP_DST);
		for (int i = 0; i < 4; i++) {
			ASSERT_EQ(mm_read(mm, MREMAP_DST + PG(i), &b, 1), 0);
			ASSERT_EQ(b, 0x30 + i);
		}
	}
out:
	mmput(mm);
	return r < 0 ? r : 0;
}

/*
 * mremap of the middle of a VMA: the unmap of the old range must split the
 * old VMA (an allocation) AFTER the pages moved. A failure there used to
 * leave the move half done (pages at the new place, the old VMA mapping an
 * empty hole); now the pages move back and nothing has changed.
 */
static long op_mremap_middle(void)
{
	struct mm_struct *mm = mm_alloc();
	unsigned char b;
	long r;

	if (!mm)
		return -ENOMEM;
	r = mm_mmap(mm, TBASE, PG(6), PROT_READ | PROT_WRITE, MAP_PRIVATE, NULL, 0);
	if (r < 0)
		goto out;
	for (int i = 0; i < 6 && r >= 0; i++) {
		b = (unsigned char)(0x40 + i);
		r = mm_write(mm, TBASE + PG(i), &b, 1);
	}
	if (r < 0)
		goto out;
	r = mm_mremap(mm, TBASE + PG(2), PG(2), PG(2), MREMAP_MAYMOVE | MREMAP_FIXED, MREMAP_DST);
	if (r < 0) {
		for (int i = 0; i < 6; i++) {
			ASSERT_EQ(mm_read(mm, TBASE + PG(i), &b, 1), 0);
			ASSERT_EQ(b, 0x40 + i);
		}
		for (int i = 0; i < 2; i++)
			ASSERT_EQ(mm_read(mm, MREMAP_DST + PG(i), &b, 1), -EFAULT);
	} else {
		ASSERT_EQ(r, (long)MREMAP_DST);
		for (int i = 0; i < 2; i++) {
			ASSERT_EQ(mm_read(mm, MREMAP_DST + PG(i), &b, 1), 0);
			ASSERT_EQ(b, 0x42 + i);
			ASSERT_EQ(mm_read(mm, TBASE + PG(2 + i), &b, 1), -EFAULT);
		}
		ASSERT_EQ(mm_read(mm, TBASE + PG(5), &b, 1), 0);
		ASSERT_EQ(b, 0x45);
	}
out:
	mmput(mm);
	return r < 0 ? r : 0;
}

/* MADV_REMOVE of shared memory (the punch list is a resized array). */
static long op_madv_remove(void)
{
	struct mm_struct *mm = mm_alloc();
	unsigned char b = 1;
	long r;

	if (!mm)
		return -ENOMEM;
	r = mm_mmap(mm, TBASE, PG(4), PROT_READ | PROT_WRITE, MAP_SHARED, NULL, 0);
	for (int i = 0; i < 4 && r >= 0; i++)
		r = mm_write(mm, TBASE + PG(i), &b, 1);
	if (r >= 0)
		r = mm_madvise(mm, TBASE, PG(4), MADV_REMOVE);
	if (r >= 0) {
		ASSERT_EQ(mm_read(mm, TBASE, &b, 1), 0);
		ASSERT_EQ(b, 0); /* the hole reads zeroes */
	}
	mmput(mm);
	return r < 0 ? r : 0;
}

/*
 * Paths that cannot fail (best effort): a KSM pass and the checker. A
 * failed allocation inside must leave nothing behind; the checker must say
 * it could not check instead of reporting problems that are not there (or
 * none). They "fail" (-ENOMEM) when an allocation failed inside.
 */
static unsigned long check_problems;
static char check_first[160];

static void check_report(void *arg, const char *fmt, va_list ap)
{
	(void)arg;
	if (!check_problems++)
		vsnprintf(check_first, sizeof(check_first), fmt, ap);
}

static long op_check(void)
{
	unsigned long hits = fault_inject_alloc_hits();

	check_problems = 0;
	mm_check_invariants(check_report, NULL);
	if (fault_inject_alloc_hits() != hits) {
		ASSERT_UEQ(check_problems, 1);
		ASSERT(strstr(check_first, "out of memory"));
		return -ENOMEM;
	}
	ASSERT_UEQ(check_problems, 0);
	return 0;
}

static long op_ksm(void)
{
	unsigned long hits = fault_inject_alloc_hits();

	ASSERT_UEQ(ksm_scan_all(), 0); /* distinct pages: nothing to merge */
	return fault_inject_alloc_hits() != hits ? -ENOMEM : 0;
}

static long op_phys_init(void)
{
	return phys_init(PG(64));
}
static void undo_phys_init(void)
{
	ASSERT_UEQ(phys_exit(), 0);
}

static long op_swap_on(void)
{
	return swap_on(PG(64), NULL);
}
static void undo_swap_on(void)
{
	ASSERT_EQ(swap_off(), 0);
}

static struct gru *g_gru;
static long op_gru(void)
{
	unsigned char b;

	g_gru = gru_create(g_mm, 0);
	if (IS_ERR(g_gru))
		return PTR_ERR(g_gru);
	ASSERT_EQ(gru_read(g_gru, TBASE, &b, 1), 0); /* a TLB entry */
	return 0;
}
static void undo_gru(void)
{
	gru_destroy(g_gru);
}

static struct kvm *g_kvm;
static long op_kvm(void)
{
	struct kvm_vcpu *vcpu;
	unsigned char b;
	int r;

	g_kvm = kvm_create_vm(g_mm, 0);
	if (IS_ERR(g_kvm))
		return PTR_ERR(g_kvm);
	vcpu = kvm_create_vcpu(g_kvm);
	if (IS_ERR(vcpu)) {
		kvm_destroy_vm(g_kvm);
		return PTR_ERR(vcpu);
	}
	r = kvm_vcpu_read(vcpu, TBASE, &b, 1); /* a shadow PTE */
	if (r) {
		kvm_destroy_vm(g_kvm);
		return r;
	}
	return 0;
}
static void undo_kvm(void)
{
	kvm_destroy_vm(g_kvm);
}

static struct xpmem_segment *g_seg;
static struct mm_struct *g_imp;
static long op_xpmem(void)
{
	unsigned char b;
	int r;

	g_seg = xpmem_make(g_mm, TBASE, PG(4), 0);
	if (IS_ERR(g_seg))
		return PTR_ERR(g_seg);
	r = xpmem_attach(g_seg, g_imp, 0x20000000UL);
	if (!r)
		r = mm_read(g_imp, 0x20000000UL, &b, 1); /* an importer fault */
	if (r) {
		xpmem_detach(g_imp, 0x20000000UL);
		xpmem_remove(g_seg);
		return r;
	}
	return 0;
}
static void undo_xpmem(void)
{
	ASSERT_EQ(xpmem_detach(g_imp, 0x20000000UL), 0);
	xpmem_remove(g_seg);
}

static struct iommu_device *g_newdev;
static long op_iommu_device(void)
{
	g_newdev = iommu_device_create("fi", 0);
	return IS_ERR(g_newdev) ? PTR_ERR(g_newdev) : 0;
}
static void undo_iommu_device(void)
{
	iommu_device_destroy(g_newdev);
}

static void world_up(void)
{
	MM_TEST_SETUP();
	g_mm = mm_alloc();
	ASSERT_NOT_NULL(g_mm);
	map_anon(g_mm, TBASE, 4, PROT_RW, false);
	write_pages(g_mm, TBASE, 4, 7);
	g_task = task_create("p", g_mm);
	ASSERT_NOT_NULL(g_task);
}

static void world_down(void)
{
	ASSERT_EQ(task_exit(g_task), 0);
	task_free(g_task);
	g_mm = NULL;
}

#define WALK(what, op, undo)                                                                       \
	do {                                                                                       \
		unsigned long sites_ = walk(what, op, undo);                                       \
		printf("%s: %lu allocation sites\n", what, sites_);                                \
	} while (0)

TEST(faultinject_mmu_notifier_register)
{
	world_up();
	WALK("mmu_notifier_register", op_register, undo_register);
	world_down();
}

TEST(faultinject_interval_notifier_insert)
{
	world_up();
	WALK("mmu_interval_notifier_insert", op_interval, undo_interval);
	world_down();
}

TEST(faultinject_mirror_create)
{
	world_up();
	WALK("mirror_create", op_mirror, undo_mirror);
	world_down();
}

TEST(faultinject_dup_mm_and_task_fork)
{
	world_up();
	WALK("dup_mm", op_dup_mm, undo_dup_mm);
	WALK("task_fork", op_fork, undo_fork);
	check_pages(g_mm, TBASE, 4, 7);
	world_down();
}

TEST(faultinject_mm_mmap)
{
	world_up();
	WALK("mm_mmap", op_mmap, undo_mmap);
	WALK("mm_mmap (split)", op_mmap_split, undo_mmap_split);
	check_pages(g_mm, TBASE, 4, 7);
	world_down();
}

TEST(faultinject_vfio_register)
{
	world_up();
	WALK("vfio_spapr_tce_open", op_vfio_open, undo_vfio_open);
	ASSERT_EQ(vfio_spapr_tce_open(g_task, &g_cont), 0);
	WALK("tce_iommu_register_pages", op_vfio_register, undo_vfio_register);
	ASSERT_EQ(vfio_container_close(g_cont, g_task), 0);
	vfio_container_put(g_cont);
	world_down();
}

TEST(faultinject_sva_bind)
{
	g_dev = NULL;
	world_up();
	g_dev = iommu_device_create("fi", 0);
	ASSERT(!IS_ERR(g_dev));
	WALK("iommu_sva_bind_device", op_sva_bind, undo_sva_bind);
	ASSERT_EQ(iommu_device_destroy(g_dev), 0);
	world_down();
}

/* ---- -EAGAIN: a non-blockable invalidation with a subscriber that must sleep ---- */

static atomic_int ends, starts;
static int eagain_start(struct mmu_notifier *mn, const struct mmu_notifier_range *r)
{
	(void)mn;
	return mmu_notifier_range_blockable(r) ? 0 : -EAGAIN;
}
static void count_end(struct mmu_notifier *mn, const struct mmu_notifier_range *r)
{
	(void)mn;
	(void)r;
	atomic_fetch_add(&ends, 1);
}
static const struct mmu_notifier_ops eagain_ops = {.invalidate_range_start = eagain_start};
static int count_start(struct mmu_notifier *mn, const struct mmu_notifier_range *r)
{
	(void)mn;
	(void)r;
	atomic_fetch_add(&starts, 1);
	return 0;
}
static const struct mmu_notifier_ops ok_ops = {.invalidate_range_start = count_start,
					       .invalidate_range_end = count_end};

TEST(faultinject_nonblock_start_eagain)
{
	struct mmu_notifier bad = {.ops = &eagain_ops}, good = {.ops = &ok_ops};
	struct mmu_notifier_range range;
	unsigned long seq;

	world_up();
	memset(&g_isub, 0, sizeof(g_isub));
	ASSERT_EQ(mmu_interval_notifier_insert(&g_isub, g_mm, TBASE, PG(4), &iops), 0);
	ASSERT_EQ(mmu_notifier_register(&good, g_mm), 0);
	ASSERT_EQ(mmu_notifier_register(&bad, g_mm), 0);

	mmu_notifier_range_init(&range, MMU_NOTIFY_CLEAR, 0, g_mm, TBASE, TBASE + PG(4));
	range.flags &= ~MMU_NOTIFIER_RANGE_BLOCKABLE;
	ASSERT_EQ(mmu_notifier_invalidate_range_start_nonblock(&range), -EAGAIN);
	/* No _end after a failed start, and the interval sequence is not left odd. */
	seq = mmu_interval_read_begin(&g_isub); /* would wait forever if left invalidating */
	/* A subscriber that had started is backed out with its _end (as Linux does). */
	ASSERT_EQ(atomic_load(&ends), atomic_load(&starts));
	atomic_store(&ends, 0);
	atomic_store(&starts, 0);

	/* A blockable invalidation still works and ends. */
	mmu_notifier_range_init(&range, MMU_NOTIFY_CLEAR, 0, g_mm, TBASE, TBASE + PG(4));
	mmu_notifier_invalidate_range_start(&range);
	mmu_notifier_invalidate_range_end(&range);
	ASSERT_EQ(atomic_load(&ends), 1);
	ASSERT(mmu_interval_read_retry(&g_isub, seq));
	check_pages(g_mm, TBASE, 4, 7);

	mmu_notifier_unregister(&bad, g_mm);
	mmu_notifier_unregister(&good, g_mm);
	mmu_interval_notifier_remove(&g_isub);
	world_down();
}

/* ---- swap write failure: the Nth write fails, the page is kept ---- */

TEST(faultinject_swap_write_failure_keeps_page)
{
	struct mm_stats st;

	world_up();
	ASSERT_EQ(swap_on(PG(64), NULL), 0);
	for (unsigned long n = 1; n <= 4; n++) {
		unsigned long hits = swap_inject_write_hits();
		unsigned long frames = phys_used_frames();

		swap_inject_write_failure(n);
		ASSERT_EQ(mm_madvise(g_mm, TBASE, PG(4), MADV_PAGEOUT), 0);
		ASSERT_UEQ(swap_inject_write_hits(), hits + 1);
		/* The page whose write failed kept its frame (mapped or in the swap cache). */
		ASSERT_UEQ(phys_used_frames(), frames - 3);
		check_pages(g_mm, TBASE, 4, 7); /* nothing lost; swaps everything back in */
	}
	swap_inject_write_failure(0);
	/* Disarmed: every write succeeds. */
	ASSERT_EQ(mm_madvise(g_mm, TBASE, PG(4), MADV_PAGEOUT), 0);
	mm_get_stats(g_mm, &st);
	ASSERT_UEQ(st.swap, 4);
	check_pages(g_mm, TBASE, 4, 7);
	world_down();
	sm_rcu_barrier();
	ASSERT_UEQ(swap_slots_used(), 0);
	ASSERT_EQ(swap_off(), 0);
}

/*
 * No "force the primary paths non-blockable" switch, on purpose: in Linux
 * only the OOM reaper calls mmu_notifier_invalidate_range_start_nonblock();
 * munmap, zap, madvise, mprotect, COW, reclaim, migration and exit must
 * invalidate and cannot back out once they decided to change the PTEs, so
 * they use the blockable start, which cannot fail. The -EAGAIN contract is
 * tested on the non-blockable entry point directly (above). This test pins
 * the other half: every invalidation a primary path issues is blockable.
 */
static atomic_int nonblockable_seen, blockable_seen;

static int record_start(struct mmu_notifier *mn, const struct mmu_notifier_range *r)
{
	(void)mn;
	atomic_fetch_add(mmu_notifier_range_blockable(r) ? &blockable_seen : &nonblockable_seen, 1);
	return 0;
}
static const struct mmu_notifier_ops record_ops = {.invalidate_range_start = record_start};

TEST(faultinject_primary_invalidations_are_blockable)
{
	struct mmu_notifier rec = {.ops = &record_ops};
	struct task_struct *child;
	struct mm_struct *mm;

	world_up();
	mm = g_mm;
	ASSERT_EQ(swap_on(PG(64), NULL), 0);
	ASSERT_EQ(mmu_notifier_register(&rec, mm), 0);
	ASSERT_EQ(task_fork(g_task, "c", &child), 0);		    /* COW write-protect */
	write_pages(g_mm, TBASE, 1, 9);				    /* COW break */
	ASSERT_EQ(mm_madvise(g_mm, TBASE, PG(4), MADV_PAGEOUT), 0); /* reclaim */
	ASSERT_EQ(mm_mprotect(g_mm, TBASE, PG(4), PROT_READ), 0);
	ASSERT_EQ(mm_madvise(g_mm, TBASE, PG(2), MADV_DONTNEED), 0);
	ASSERT_EQ(mm_munmap(g_mm, TBASE + PG(3), PG(1)), 0);
	ASSERT_EQ(task_exit(child), 0);
	task_free(child);
	world_down(); /* exit */
	ASSERT_GT(atomic_load(&blockable_seen), 4);
	ASSERT_EQ(atomic_load(&nonblockable_seen), 0);
	mmu_notifier_unregister(&rec, mm); /* its mm_count kept the struct */
	sm_rcu_barrier();
	ASSERT_EQ(swap_off(), 0);
}

TEST(faultinject_page_tables)
{
	world_up();
	WALK("page tables (fault in a fresh mm)", op_fault_tables, undo_nothing);
	WALK("mm_mremap (move to new page tables)", op_mremap_move, undo_nothing);
	WALK("mm_mremap (the middle of a VMA)", op_mremap_middle, undo_nothing);
	WALK("madvise MADV_REMOVE", op_madv_remove, undo_nothing);
	world_down();
}

TEST(faultinject_checker_and_ksm)
{
	world_up();
	ASSERT_EQ(mm_madvise(g_mm, TBASE, PG(4), MADV_MERGEABLE), 0);
	ASSERT_EQ(swap_on(PG(16), NULL), 0);
	WALK("mm_check_invariants", op_check, undo_nothing);
	WALK("ksm_scan_all", op_ksm, undo_nothing);
	world_down();
	sm_rcu_barrier();
	ASSERT_EQ(swap_off(), 0);
}

/* phys_init: its arrays (struct pages, free stack, block counts). */
TEST(faultinject_phys_init)
{
	WALK("phys_init", op_phys_init, undo_phys_init);
}

TEST(faultinject_swap_on)
{
	world_up();
	WALK("swap_on", op_swap_on, undo_swap_on);
	world_down();
}

TEST(faultinject_drivers)
{
	world_up();
	WALK("gru_create", op_gru, undo_gru);
	WALK("kvm_create_vm + vcpu", op_kvm, undo_kvm);
	g_imp = mm_alloc();
	ASSERT_NOT_NULL(g_imp);
	WALK("xpmem_make + attach", op_xpmem, undo_xpmem);
	mmput(g_imp);
	WALK("iommu_device_create", op_iommu_device, undo_iommu_device);
	world_down();
}
