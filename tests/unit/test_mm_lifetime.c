// SPDX-License-Identifier: MIT
/*
 * mm_users / mm_count lifetime, underflow BUGs, arch hooks, context slots.
 */
#include "mm/internal.h"
#include "testutil.h"

TEST(mm_alloc_counts)
{
	struct mm_struct *mm, *mm2;
	int users, count;

	MM_TEST_SETUP();
	mm = mm_alloc();
	ASSERT_NOT_NULL(mm);
	ASSERT_EQ(mm_users_read(mm), 1);
	ASSERT_EQ(mm_count_read(mm), 1);
	ASSERT_UEQ(mm_live_count(), 1);
	ASSERT_EQ(mm_query_refs(mm_id(mm), &users, &count), 0);
	ASSERT_EQ(users, 1);
	ASSERT_EQ(count, 1);
	mm2 = mm_alloc();
	ASSERT_UNE(mm_id(mm2), mm_id(mm));
	ASSERT_UEQ(mm_live_count(), 2);
	mmget(mm);
	ASSERT_EQ(mm_users_read(mm), 2);
	ASSERT_EQ(mm_count_read(mm), 1); /* all users share one count */
	mmput(mm);
	mmput(mm2);
	mmput(mm);
	ASSERT_UEQ(mm_live_count(), 0);
}

TEST(mm_alloc_without_phys_fails)
{
	ASSERT_NULL(mm_alloc());
}

TEST(mm_alloc_failure_leaks_nothing)
{
	MM_TEST_SETUP();
	fault_inject_alloc(1);
	ASSERT_NULL(mm_alloc());
	ASSERT_UEQ(fault_inject_alloc_hits(), 1);
	ASSERT_UEQ(mm_live_count(), 0);
}

TEST(mmgrab_keeps_struct_after_last_mmput)
{
	struct mm_struct *mm;
	unsigned long id;
	int users, count;

	MM_TEST_SETUP();
	mm = mm_alloc();
	id = mm_id(mm);
	map_anon(mm, TBASE, 4, PROT_RW, false);
	write_pages(mm, TBASE, 4, 1);
	mmgrab(mm);
	ASSERT_EQ(mm_count_read(mm), 2);
	mmput(mm);
	/* The address space is gone, the struct is not. */
	ASSERT_UEQ(phys_used_frames(), 0);
	ASSERT_EQ(mm_query_refs(id, &users, &count), 0);
	ASSERT_EQ(users, 0);
	ASSERT_EQ(count, 1);
	ASSERT_UEQ(mm_live_count(), 1);
	ASSERT(!mmget_not_zero(mm));
	ASSERT_EQ(mm_users_read(mm), 0);
	mmap_read_lock(mm);
	ASSERT_NULL(vma_first(mm));
	mmap_read_unlock(mm);
	mmdrop(mm);
	ASSERT_EQ(mm_query_refs(id, &users, &count), -ESRCH);
	ASSERT_UEQ(mm_live_count(), 0);
}

TEST(mmget_not_zero_succeeds_while_users)
{
	struct mm_struct *mm;

	MM_TEST_SETUP();
	mm = mm_alloc();
	mmgrab(mm);
	ASSERT(mmget_not_zero(mm));
	ASSERT_EQ(mm_users_read(mm), 2);
	mmput(mm);
	mmput(mm);
	ASSERT(!mmget_not_zero(mm));
	ASSERT_EQ(mm_users_read(mm), 0);
	mmdrop(mm);
}

TEST(mmput_underflow_is_a_bug)
{
	struct mm_struct *mm;

	MM_TEST_SETUP();
	mm = mm_alloc();
	mmgrab(mm);
	mmput(mm);
	harness_expect_crash();
	mmput(mm);
	FAIL("mm_users underflow not caught");
}

TEST(mmdrop_underflow_is_a_bug)
{
	struct mm_struct *mm;

	MM_TEST_SETUP();
	mm = mm_alloc();
	mmgrab(mm);
	mmput(mm);
	ASSERT_EQ(mm_count_read(mm), 1);
	/*
	 * A real second mmdrop would be a use after free (the first frees the
	 * struct); model the underflow on a live struct instead: a count that
	 * some path already dropped to zero must not be dropped again.
	 */
	atomic_store(&mm->mm_count, 0);
	harness_expect_crash();
	mmdrop(mm);
	FAIL("mm_count underflow not caught");
}

TEST(mmgrab_on_zero_count_is_a_bug)
{
	struct mm_struct *mm;

	MM_TEST_SETUP();
	mm = mm_alloc();
	mmgrab(mm);
	mmput(mm);
	atomic_store(&mm->mm_count, 0);
	harness_expect_crash();
	mmgrab(mm);
	FAIL("mmgrab of a dead struct not caught");
}

TEST(mmget_on_exited_mm_is_a_bug)
{
	struct mm_struct *mm;

	MM_TEST_SETUP();
	mm = mm_alloc();
	mmgrab(mm);
	mmput(mm);
	harness_expect_crash();
	mmget(mm);
	FAIL("mmget with mm_users == 0 not caught");
}

/* ---- arch hooks ---- */

static struct mm_struct *hook_mm;
static int exit_calls, destroy_calls;
static int exit_users_seen = -1, exit_count_seen = -1;
static unsigned long exit_frames_seen;
static int destroy_users_seen = -1;

static void hook_exit_mmap(struct mm_struct *mm)
{
	if (mm != hook_mm)
		return;
	exit_calls++;
	exit_users_seen = mm_users_read(mm);
	exit_count_seen = mm_count_read(mm);
	exit_frames_seen = phys_used_frames();
}

static void hook_destroy(struct mm_struct *mm)
{
	if (mm != hook_mm)
		return;
	destroy_calls++;
	destroy_users_seen = mm_users_read(mm);
	ASSERT_EQ(mm_count_read(mm), 0);
}

static const struct mm_arch_hooks test_hooks = {
	.name = "test",
	.exit_mmap = hook_exit_mmap,
	.destroy_context = hook_destroy,
};

TEST(arch_hooks_run_at_last_mmput_and_last_mmdrop)
{
	struct mm_struct *mm;

	MM_TEST_SETUP();
	ASSERT_EQ(mm_register_arch_hooks(&test_hooks), 0);
	mm = mm_alloc();
	hook_mm = mm;
	map_anon(mm, TBASE, 3, PROT_RW, false);
	write_pages(mm, TBASE, 3, 1);
	mmget(mm);
	mmgrab(mm);
	mmput(mm);
	ASSERT_EQ(exit_calls, 0); /* not the last user */
	mmput(mm);
	ASSERT_EQ(exit_calls, 1);
	ASSERT_EQ(exit_users_seen, 0);
	ASSERT_EQ(exit_count_seen, 2);
	ASSERT_UEQ(exit_frames_seen, 3); /* pages still mapped in the hook */
	ASSERT_UEQ(phys_used_frames(), 0);
	ASSERT_EQ(destroy_calls, 0);
	mmdrop(mm);
	ASSERT_EQ(destroy_calls, 1);
	ASSERT_EQ(destroy_users_seen, 0);
	ASSERT_EQ(exit_calls, 1);
	mm_unregister_arch_hooks(&test_hooks);
	/* Unregistered: not called any more. */
	mm = mm_alloc();
	hook_mm = mm;
	mmput(mm);
	ASSERT_EQ(exit_calls, 1);
	ASSERT_EQ(destroy_calls, 1);
}

/*
 * The order include/secmmu/mm.h and exit_mmap() promise: MMU-notifier
 * release first, then the arch exit hooks, then the teardown.
 */
static int order_seq, release_at, arch_exit_at;
static struct mm_struct *order_mm;

static void order_release(struct mmu_notifier *sub, struct mm_struct *mm)
{
	(void)sub;
	if (mm == order_mm)
		release_at = ++order_seq;
}

static void order_exit_mmap(struct mm_struct *mm)
{
	if (mm == order_mm)
		arch_exit_at = ++order_seq;
}

static const struct mmu_notifier_ops order_ops = {.release = order_release};
static const struct mm_arch_hooks order_hooks = {.name = "order", .exit_mmap = order_exit_mmap};

TEST(arch_exit_hooks_run_after_notifier_release)
{
	struct mmu_notifier sub = {.ops = &order_ops};
	struct mm_struct *mm;

	MM_TEST_SETUP();
	ASSERT_EQ(mm_register_arch_hooks(&order_hooks), 0);
	mm = mm_alloc();
	ASSERT_NOT_NULL(mm);
	order_mm = mm;
	ASSERT_EQ(mmu_notifier_register(&sub, mm), 0);
	mmgrab(mm); /* for the unregister after the exit */
	mmput(mm);
	ASSERT_EQ(release_at, 1);
	ASSERT_EQ(arch_exit_at, 2);
	mmu_notifier_unregister(&sub, mm);
	mmdrop(mm);
	mm_unregister_arch_hooks(&order_hooks);
}

static void nop_hook(struct mm_struct *mm)
{
	(void)mm;
}

TEST(arch_hook_table_full)
{
	static struct mm_arch_hooks h[17];
	int i;

	for (i = 0; i < 17; i++) {
		h[i].name = "h";
		h[i].exit_mmap = nop_hook;
		if (mm_register_arch_hooks(&h[i]))
			break;
	}
	ASSERT_EQ(i, 16);
	ASSERT_EQ(mm_register_arch_hooks(&h[16]), -ENOSPC);
	mm_unregister_arch_hooks(&h[3]);
	ASSERT_EQ(mm_register_arch_hooks(&h[16]), 0);
	for (i = 0; i < 17; i++)
		mm_unregister_arch_hooks(&h[i]);
}

TEST(mm_context_slots)
{
	struct mm_struct *mm;
	int slots[16], s;
	int x, y;

	MM_TEST_SETUP();
	for (int i = 0; i < 16; i++) {
		slots[i] = mm_context_slot_alloc();
		ASSERT_GE(slots[i], 0);
		ASSERT_LT(slots[i], 16);
		for (int j = 0; j < i; j++)
			ASSERT_NE(slots[i], slots[j]);
	}
	ASSERT_EQ(mm_context_slot_alloc(), -ENOSPC);
	ASSERT_EQ(mm_context_slot_alloc(), -ENOSPC);
	mm = mm_alloc();
	s = slots[5];
	for (int i = 0; i < 16; i++)
		ASSERT_NULL(mm_context_get(mm, slots[i]));
	mm_context_set(mm, s, &x);
	mm_context_set(mm, slots[6], &y);
	ASSERT_PTR_EQ(mm_context_get(mm, s), &x);
	ASSERT_PTR_EQ(mm_context_get(mm, slots[6]), &y);
	mmput(mm);
	/* A new mm starts with every slot clear. */
	mm = mm_alloc();
	ASSERT_NULL(mm_context_get(mm, s));
	mmput(mm);
}

TEST(mm_context_bad_slot_is_a_bug)
{
	struct mm_struct *mm;

	MM_TEST_SETUP();
	mm = mm_alloc();
	harness_expect_crash();
	mm_context_get(mm, 16);
	FAIL("bad slot not caught");
}

TEST(last_mmput_frees_struct_when_no_grab)
{
	struct mm_struct *mm;
	unsigned long id;
	int u, c;

	MM_TEST_SETUP();
	mm = mm_alloc();
	id = mm_id(mm);
	map_anon(mm, TBASE, 1, PROT_RW, true);
	write_pages(mm, TBASE, 1, 1);
	mmput(mm);
	ASSERT_EQ(mm_query_refs(id, &u, &c), -ESRCH);
}

/* The holder of @owner/@kind in @h[0..n), or NULL. */
static const struct mm_holder *find_holder(const struct mm_holder *h, int n, const void *owner,
					   const char *kind)
{
	for (int i = 0; i < n; i++)
		if (h[i].owner == owner &&
		    (h[i].kind == kind || (h[i].kind && kind && !strcmp(h[i].kind, kind))))
			return &h[i];
	return NULL;
}

TEST(holders_record_every_get_and_put_by_owner_and_kind)
{
	struct mm_holder h[8];
	const struct mm_holder *x;
	struct mm_struct *mm;
	unsigned long id;
	int a, b, n;

	MM_TEST_SETUP();
	mm = mm_alloc_tracked(&a, "owner a");
	ASSERT_NOT_NULL(mm);
	mmgrab_tracked(mm, &b, "owner b");
	mmgrab_tracked(mm, &b, "owner b");
	ASSERT(mmget_not_zero_tracked(mm, &b, "owner b"));
	mmgrab(mm); /* untracked */
	n = mm_query_holders(mm_id(mm), h, 8);
	ASSERT_EQ(n, 4);
	/* In the order of their first reference. */
	ASSERT(h[0].owner == &a && !strcmp(h[0].kind, "owner a") && h[0].users == 1 && !h[0].count);
	ASSERT(h[1].owner == mm && !strcmp(h[1].kind, MM_HOLDER_USERS_KIND) && h[1].count == 1);
	x = find_holder(h, n, &b, "owner b");
	ASSERT_NOT_NULL(x);
	ASSERT_EQ(x->users, 1);
	ASSERT_EQ(x->count, 2);
	x = find_holder(h, n, NULL, NULL);
	ASSERT_NOT_NULL(x);
	ASSERT_EQ(x->count, 1);
	/* Only @max filled, the number of holders returned. */
	ASSERT_EQ(mm_query_holders(mm_id(mm), h, 1), 4);
	ASSERT_EQ(mm_query_holders(mm_id(mm), NULL, 0), 4);

	/* A holder with nothing left drops out of the list. */
	mmdrop(mm);
	mmput_tracked(mm, &b, "owner b");
	mmdrop_tracked(mm, &b, "owner b");
	mmdrop_tracked(mm, &b, "owner b");
	ASSERT_EQ(mm_query_holders(mm_id(mm), h, 8), 2);
	/* A hand-over moves the reference. */
	mm_holder_move(mm, true, &a, "owner a", &b, "owner b");
	n = mm_query_holders(mm_id(mm), h, 8);
	ASSERT_EQ(n, 2);
	ASSERT_NULL(find_holder(h, n, &a, "owner a"));
	ASSERT_EQ(find_holder(h, n, &b, "owner b")->users, 1);
	id = mm_id(mm);
	mmput_tracked(mm, &b, "owner b"); /* the last: @mm is freed */
	ASSERT_EQ(mm_query_holders(id, h, 8), -ESRCH);
}

/* More holders at once than one table has slots: all listed, none in the overflow. */
TEST(holders_beyond_one_table_are_all_listed)
{
	static char owners[MM_HOLDER_SLOTS + 8];
	struct mm_holder h[MM_HOLDER_SLOTS + 16];
	struct mm_struct *mm;
	int n, sum = 0;

	MM_TEST_SETUP();
	mm = mm_alloc();
	ASSERT_NOT_NULL(mm);
	for (int i = 0; i < MM_HOLDER_SLOTS + 8; i++)
		mmgrab_tracked(mm, &owners[i], "many");
	n = mm_query_holders(mm_id(mm), h, MM_HOLDER_SLOTS + 16);
	ASSERT_EQ(n, MM_HOLDER_SLOTS + 8 + 2);
	for (int i = 0; i < n; i++) {
		ASSERT(!h[i].kind || strcmp(h[i].kind, MM_HOLDER_OVERFLOW_KIND));
		sum += h[i].count;
	}
	ASSERT_EQ(sum, mm_count_read(mm)); /* every reference still counted */
	for (int i = 0; i < MM_HOLDER_SLOTS + 8; i++)
		mmdrop_tracked(mm, &owners[i], "many");
	ASSERT_EQ(mm_count_read(mm), 1);
	mmput(mm);
}
