// SPDX-License-Identifier: MIT
/*
 * API misuse is caught where it happens (issue 19): each case used to hang
 * (a looping list or tree, a remove waiting for its own invalidation) or
 * corrupt memory later (mm_count dropped twice, a NULL function called on
 * the RCU thread, a freed device or bond used again). Now each WARNs once
 * (sm_warn_count() goes up), returns an error or does nothing, and leaves
 * the state as it was: every test ends with the normal teardown and the
 * leak check, so a reference dropped or taken too many shows.
 */
#include <errno.h>
#include <string.h>

#include "../harness.h"
#include "base/debug.h"
#include "secmmu/err.h"
#include "secmmu/gup.h"
#include "secmmu/iommu.h"
#include "secmmu/mirror.h"
#include "secmmu/mmu_notifier.h"
#include "testutil.h"

/* @expr warns (once) and the counter shows it. */
#define ASSERT_WARNS(expr)                                                                         \
	do {                                                                                       \
		unsigned long __w0 = sm_warn_count();                                              \
		expr;                                                                              \
		ASSERT_UEQ(sm_warn_count(), __w0 + 1);                                             \
	} while (0)

static int invalidate_nop_start(struct mmu_notifier *sub, const struct mmu_notifier_range *r)
{
	(void)sub;
	(void)r;
	return 0;
}

static const struct mmu_notifier_ops classic_ops = {
	.invalidate_range_start = invalidate_nop_start,
};

static struct mm_struct *new_mm(void)
{
	struct mm_struct *mm = mm_alloc();

	ASSERT_NOT_NULL(mm);
	map_anon(mm, TBASE, 4, PROT_RW, false);
	write_pages(mm, TBASE, 4, 3);
	return mm;
}

static int refs_count(struct mm_struct *mm)
{
	int users, count;

	ASSERT_EQ(mm_query_refs(mm_id(mm), &users, &count), 0);
	return count;
}

/* ---- classic subscriptions ---- */

TEST(misuse_register_twice_is_ebusy)
{
	struct mmu_notifier sub = {.ops = &classic_ops};
	struct mm_struct *mm;
	int count;

	MM_TEST_SETUP();
	mm = new_mm();
	ASSERT_EQ(mmu_notifier_register(&sub, mm), 0);
	count = refs_count(mm);
	ASSERT_WARNS(ASSERT_EQ(mmu_notifier_register(&sub, mm), -EBUSY));
	ASSERT_EQ(refs_count(mm), count); /* no second mm_count taken */
	/* The list did not become a loop: an invalidation and exit finish. */
	ASSERT_EQ(mm_madvise(mm, TBASE, PG(4), MADV_DONTNEED), 0);
	mmu_notifier_unregister(&sub, mm);
	mmput(mm);
}

TEST(misuse_register_null_ops_is_einval)
{
	struct mmu_notifier sub = {.ops = NULL};
	struct mm_struct *mm;

	MM_TEST_SETUP();
	mm = new_mm();
	ASSERT_WARNS(ASSERT_EQ(mmu_notifier_register(&sub, mm), -EINVAL));
	mmput(mm);
}

TEST(misuse_unregister_twice_keeps_mm_count)
{
	struct mmu_notifier sub = {.ops = &classic_ops};
	struct mm_struct *mm;
	int count;

	MM_TEST_SETUP();
	mm = new_mm();
	ASSERT_EQ(mmu_notifier_register(&sub, mm), 0);
	mmu_notifier_unregister(&sub, mm);
	count = refs_count(mm);
	ASSERT_WARNS(mmu_notifier_unregister(&sub, mm));
	ASSERT_EQ(refs_count(mm), count); /* mm_count not dropped again */
	/* Never registered at all. */
	struct mmu_notifier other = {.ops = &classic_ops};
	mmu_notifier_unregister(&other, mm); /* once: no second warning */
	ASSERT_EQ(refs_count(mm), count);
	mmput(mm);
}

TEST(misuse_put_of_registered_subscription)
{
	struct mmu_notifier sub = {.ops = &classic_ops}; /* no free_notifier */
	struct mm_struct *mm;
	int count;

	MM_TEST_SETUP();
	mm = new_mm();
	ASSERT_EQ(mmu_notifier_register(&sub, mm), 0);
	count = refs_count(mm);
	ASSERT_WARNS(mmu_notifier_put(&sub));
	mmu_notifier_synchronize(); /* nothing was queued to call NULL */
	ASSERT_EQ(refs_count(mm), count);
	/* Still registered and working. */
	ASSERT_EQ(mm_madvise(mm, TBASE, PG(4), MADV_DONTNEED), 0);
	mmu_notifier_unregister(&sub, mm);
	mmput(mm);
}

TEST(misuse_get_without_alloc_notifier)
{
	struct mm_struct *mm;
	struct mmu_notifier *sub;

	MM_TEST_SETUP();
	mm = new_mm();
	ASSERT_WARNS(sub = mmu_notifier_get(&classic_ops, mm));
	ASSERT(IS_ERR(sub));
	ASSERT_EQ(PTR_ERR(sub), -EINVAL);
	mmput(mm);
}

/* ---- interval subscriptions ---- */

static bool interval_invalidate(struct mmu_interval_notifier *isub,
				const struct mmu_notifier_range *range, unsigned long cur_seq)
{
	(void)range;
	mmu_interval_set_seq(isub, cur_seq);
	return true;
}

static const struct mmu_interval_notifier_ops interval_ops = {
	.invalidate = interval_invalidate,
};

TEST(misuse_interval_insert_twice_is_ebusy)
{
	struct mmu_interval_notifier isub;
	struct mm_struct *mm;
	int count;

	MM_TEST_SETUP();
	memset(&isub, 0x5a, sizeof(isub)); /* garbage is not "inserted" */
	mm = new_mm();
	ASSERT_EQ(mmu_interval_notifier_insert(&isub, mm, TBASE, PG(4), &interval_ops), 0);
	count = refs_count(mm);
	ASSERT_WARNS(ASSERT_EQ(mmu_interval_notifier_insert(&isub, mm, TBASE, PG(4), &interval_ops),
			       -EBUSY));
	ASSERT_EQ(refs_count(mm), count);
	ASSERT_EQ(mm_madvise(mm, TBASE, PG(4), MADV_DONTNEED), 0); /* the tree walk ends */
	mmu_interval_notifier_remove(&isub);
	mmput(mm);
}

TEST(misuse_interval_null_ops_is_einval)
{
	static const struct mmu_interval_notifier_ops no_invalidate;
	struct mmu_interval_notifier isub = {0};
	struct mm_struct *mm;

	MM_TEST_SETUP();
	mm = new_mm();
	ASSERT_WARNS(
		ASSERT_EQ(mmu_interval_notifier_insert(&isub, mm, TBASE, PG(4), NULL), -EINVAL));
	ASSERT_EQ(mmu_interval_notifier_insert(&isub, mm, TBASE, PG(4), &no_invalidate), -EINVAL);
	mmput(mm);
}

TEST(misuse_interval_remove_twice_keeps_mm_count)
{
	struct mmu_interval_notifier isub;
	struct mm_struct *mm;
	int count;

	MM_TEST_SETUP();
	mm = new_mm();
	ASSERT_EQ(mmu_interval_notifier_insert(&isub, mm, TBASE, PG(4), &interval_ops), 0);
	mmu_interval_notifier_remove(&isub);
	count = refs_count(mm);
	ASSERT_WARNS(mmu_interval_notifier_remove(&isub));
	ASSERT_EQ(refs_count(mm), count);
	mmput(mm);
}

static struct mmu_interval_notifier self_isub;
static int self_removes;

static bool self_removing_invalidate(struct mmu_interval_notifier *isub,
				     const struct mmu_notifier_range *range, unsigned long cur_seq)
{
	(void)range;
	mmu_interval_set_seq(isub, cur_seq);
	if (!self_removes++)
		mmu_interval_notifier_remove(isub); /* would wait for itself */
	return true;
}

static const struct mmu_interval_notifier_ops self_removing_ops = {
	.invalidate = self_removing_invalidate,
};

TEST(misuse_interval_remove_from_own_callback_returns)
{
	struct mm_struct *mm;
	unsigned long w0;

	MM_TEST_SETUP();
	mm = new_mm();
	ASSERT_EQ(mmu_interval_notifier_insert(&self_isub, mm, TBASE, PG(4), &self_removing_ops),
		  0);
	w0 = sm_warn_count();
	ASSERT_EQ(mm_madvise(mm, TBASE, PG(4), MADV_DONTNEED), 0); /* returns: no deadlock */
	ASSERT_UEQ(sm_warn_count(), w0 + 1);
	ASSERT_EQ(self_removes, 1);
	mmu_interval_notifier_remove(&self_isub); /* the real remove still works */
	mmput(mm);
}

/* ---- the rest of the API ---- */

TEST(misuse_pin_null_pages_is_einval)
{
	struct mm_struct *mm;

	MM_TEST_SETUP();
	mm = new_mm();
	ASSERT_WARNS(ASSERT_EQ(pin_user_pages_unlocked(mm, TBASE, 1, 0, NULL), -EINVAL));
	ASSERT_UEQ(phys_total_pins(), 0);
	mmput(mm);
}

TEST(misuse_mm_query_refs_null_outputs)
{
	struct mm_struct *mm;
	int users;

	MM_TEST_SETUP();
	mm = new_mm();
	ASSERT_WARNS(ASSERT_EQ(mm_query_refs(mm_id(mm), &users, NULL), -EINVAL));
	ASSERT_EQ(mm_query_refs(mm_id(mm), NULL, NULL), -EINVAL);
	mmput(mm);
}

TEST(misuse_mirror_destroy_twice)
{
	struct mm_struct *mm;
	struct mirror *m;

	MM_TEST_SETUP();
	mm = new_mm();
	m = mirror_create(mm, 0);
	ASSERT(!IS_ERR(m));
	mirror_destroy(m);
	ASSERT_WARNS(mirror_destroy(m)); /* m is freed: must not be touched (ASan) */
	mmput(mm);
}

TEST(misuse_sva_unbind_twice)
{
	struct iommu_device *dev;
	struct iommu_sva *bond, *other;
	struct mm_struct *mm;

	MM_TEST_SETUP();
	mm = new_mm();
	dev = iommu_device_create("t", 0);
	ASSERT(!IS_ERR(dev));
	bond = iommu_sva_bind_device(dev, mm);
	ASSERT(!IS_ERR(bond));
	other = iommu_sva_bind_device(dev, mm); /* the same bond, twice bound */
	ASSERT(other == bond);
	iommu_sva_unbind_device(bond);
	iommu_sva_unbind_device(bond);
	mmu_notifier_synchronize();
	ASSERT_WARNS(iommu_sva_unbind_device(bond)); /* freed: must not be touched */
	ASSERT_EQ(iommu_device_destroy(dev), 0);
	mmput(mm);
	mmu_notifier_synchronize();
}
