// SPDX-License-Identifier: MIT
/*
 * The core's reference-holder tables (src/mm/mm_holders.c): slots are reused
 * by later holders once their holder holds nothing, so an mm may see any
 * number of distinct holders over its life and still list exactly the live
 * ones; a holder's slots lie in its probe window of each table (a hash of
 * the owner), the chain of tables doubles, so a get or put looks at a
 * bounded number of slots and n holders need O(log n) tables; concurrent
 * gets and puts of distinct and shared holders (slots reserved and
 * reclaimed all the time) keep every reference under its own holder, with
 * real threads (TSan) and under the interleaving explorer, which switches
 * inside the lock-free code (the ABA of a slot reused under a CAS, two
 * claimers racing for one FREE slot).
 */
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/sched_explore.h"
#include "base/thread.h"
#include "base/wait.h"
#include "mm/internal.h"
#include "explore_util.h"
#include "testutil.h"

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

/* ---- owners by window --------------------------------------------------- */

/*
 * Owners whose probe windows are known (mm_holder_window()): addresses in
 * owner_pool, indexed once per test process by the first slot of their
 * window in table 0. by_pair[h0]: owners whose window starts at h0 in
 * table 0 and at pair_h1[h0] in table 1 (the most common such slot);
 * by_start[h0]: other owners whose window starts at h0 in table 0.
 */
#define POOL	 (1 << 20)
#define BY_START 48
#define BY_PAIR	 (MM_HOLDER_WINDOW + 4)

static char owner_pool[POOL];
static const char *by_start[MM_HOLDER_SLOTS][BY_START];
static int by_start_n[MM_HOLDER_SLOTS];
static const char *by_pair[MM_HOLDER_SLOTS][BY_PAIR];
static int by_pair_n[MM_HOLDER_SLOTS];
static unsigned int pair_h1[MM_HOLDER_SLOTS];

static void owners_index(void)
{
	static unsigned short cnt[MM_HOLDER_SLOTS][2 * MM_HOLDER_SLOTS];
	static bool done;

	if (done)
		return;
	for (int i = 0; i < POOL; i++)
		cnt[mm_holder_window(&owner_pool[i], 0)][mm_holder_window(&owner_pool[i], 1)]++;
	for (int h0 = 0; h0 < MM_HOLDER_SLOTS; h0++)
		for (unsigned int h1 = 0; h1 < 2 * MM_HOLDER_SLOTS; h1++)
			if (cnt[h0][h1] > cnt[h0][pair_h1[h0]])
				pair_h1[h0] = h1;
	for (int i = 0; i < POOL; i++) {
		const char *o = &owner_pool[i];
		unsigned int h0 = mm_holder_window(o, 0);

		ASSERT(h0 < MM_HOLDER_SLOTS);
		if (mm_holder_window(o, 1) == pair_h1[h0]) {
			if (by_pair_n[h0] < BY_PAIR)
				by_pair[h0][by_pair_n[h0]++] = o;
		} else if (by_start_n[h0] < BY_START) {
			by_start[h0][by_start_n[h0]++] = o;
		}
	}
	for (int h0 = 0; h0 < MM_HOLDER_SLOTS; h0++) {
		ASSERT_EQ(by_start_n[h0], BY_START);
		ASSERT_EQ(by_pair_n[h0], BY_PAIR);
	}
	done = true;
}

/*
 * A window of table 0 that holds none of the slots @mm's two initial
 * holders took (owner NULL, and @mm itself: each at the start of its
 * window, or the slot after if both start there): the first slot of it.
 */
static unsigned int free_window(struct mm_struct *mm)
{
	unsigned int taken[3] = {mm_holder_window(NULL, 0), mm_holder_window(mm, 0),
				 mm_holder_window(mm, 0) + 1};

	for (unsigned int h = 0; h < MM_HOLDER_SLOTS; h++) {
		bool clear = true;

		for (int i = 0; i < 3; i++)
			if (((taken[i] - h) & (MM_HOLDER_SLOTS - 1)) < MM_HOLDER_WINDOW)
				clear = false;
		if (clear)
			return h;
	}
	BUG();
}

/*
 * Bound on the slots one get or put looks at, with @tables tables: its
 * windows (MM_HOLDER_WINDOW slots each) in the scan for its key, a put's
 * second scan, the claim's FREE scan and its reclaim scan, once more after
 * the chain grew. (Before the windows, a get scanned every slot of every
 * table.)
 */
#define SCAN_BOUND(tables) (6UL * MM_HOLDER_WINDOW * (unsigned long)((tables) + 1))

/* What a holder list should hold, in order. */
struct want {
	const void *owner;
	const char *kind;
	int users, count;
};

/*
 * The list of @mm is exactly: the untracked initial mm_users, the users'
 * mm_count, then @w[0..n) in that order (claim order); the sums are the
 * counters. @h has room for @cap holders.
 */
static void assert_list(struct mm_struct *mm, const struct want *w, int n, struct mm_holder *h,
			int cap)
{
	int got = mm_peek_holders(mm_id(mm), h, cap), sum_users = 0, sum_count = 0;

	ASSERT_EQ(got, n + 2);
	ASSERT(!h[0].owner && !h[0].kind && h[0].users == 1 && !h[0].count);
	ASSERT(h[1].owner == mm && !strcmp(h[1].kind, MM_HOLDER_USERS_KIND) && h[1].count == 1);
	for (int i = 0; i < n; i++) {
		const struct mm_holder *x = &h[2 + i];

		ASSERT_PTR_EQ(x->owner, w[i].owner);
		ASSERT_STR_EQ(x->kind, w[i].kind);
		ASSERT_EQ(x->users, w[i].users);
		ASSERT_EQ(x->count, w[i].count);
	}
	for (int i = 0; i < got; i++) {
		sum_users += h[i].users;
		sum_count += h[i].count;
	}
	ASSERT_EQ(sum_users, mm_users_read(mm));
	ASSERT_EQ(sum_count, mm_count_read(mm));
}

#define MANY   10000
#define WINDOW 5

static char many[MANY];

static const char *many_kind(int i)
{
	return i % 2 ? "transient users" : "transient count";
}

static void many_get(struct mm_struct *mm, int i)
{
	if (i % 2)
		mmget_tracked(mm, &many[i], many_kind(i));
	else
		mmgrab_tracked(mm, &many[i], many_kind(i));
}

static void many_put(struct mm_struct *mm, int i)
{
	if (i % 2)
		mmput_tracked(mm, &many[i], many_kind(i));
	else
		mmdrop_tracked(mm, &many[i], many_kind(i));
}

/*
 * The list is exactly: the untracked initial mm_users, the users' mm_count,
 * the two long-lived holders, then transient holders [lo, hi) in order.
 */
static void assert_exact(struct mm_struct *mm, const char *keep, int lo, int hi)
{
	static struct mm_holder h[MANY];
	int n = mm_peek_holders(mm_id(mm), h, MANY), sum_users = 0, sum_count = 0;

	ASSERT_EQ(n, 4 + hi - lo);
	ASSERT(!h[0].owner && !h[0].kind && h[0].users == 1 && !h[0].count);
	ASSERT(h[1].owner == mm && !strcmp(h[1].kind, MM_HOLDER_USERS_KIND) && h[1].count == 1);
	ASSERT(h[2].owner == &keep[0] && !strcmp(h[2].kind, "keep") && h[2].count == 2);
	ASSERT(h[3].owner == &keep[1] && !strcmp(h[3].kind, "keep") && h[3].users == 1);
	for (int i = lo; i < hi; i++) {
		const struct mm_holder *x = &h[4 + i - lo];

		ASSERT_PTR_EQ(x->owner, &many[i]);
		ASSERT_STR_EQ(x->kind, many_kind(i));
		ASSERT_EQ(x->users, i % 2);
		ASSERT_EQ(x->count, 1 - i % 2);
	}
	for (int i = 0; i < n; i++) {
		sum_users += h[i].users;
		sum_count += h[i].count;
	}
	ASSERT_EQ(sum_users, mm_users_read(mm));
	ASSERT_EQ(sum_count, mm_count_read(mm));
}

/*
 * 10,000 distinct holders over one mm's life, never more than WINDOW of them
 * at once: every one gets a slot (the table has MM_HOLDER_SLOTS), the list
 * is exactly the live ones, in the order they took their reference, and
 * nothing ever lands in the overflow. (Before slots were reused, holder 125
 * on went to the overflow: the list showed "(holder table full)".)
 */
TEST(holders_slots_reused_over_ten_thousand_holders)
{
	static char keep[2];
	struct mm_struct *mm;
	unsigned long id;

	MM_TEST_SETUP();
	mm = mm_alloc();
	ASSERT_NOT_NULL(mm);
	mmgrab_tracked(mm, &keep[0], "keep");
	mmget_tracked(mm, &keep[1], "keep");
	for (int i = 0; i < MANY; i++) {
		many_get(mm, i);
		if (i == 0)
			mmgrab_tracked(mm, &keep[0], "keep"); /* an old holder's second reference */
		if (i >= WINDOW)
			many_put(mm, i - WINDOW);
		if (i % 997 == 0 || i == MANY - 1)
			assert_exact(mm, keep, i >= WINDOW ? i - WINDOW + 1 : 0, i + 1);
	}
	for (int i = MANY - WINDOW; i < MANY; i++)
		many_put(mm, i);
	assert_exact(mm, keep, 0, 0);
	mmdrop_tracked(mm, &keep[0], "keep");
	mmdrop_tracked(mm, &keep[0], "keep");
	mmput_tracked(mm, &keep[1], "keep");
	id = mm_id(mm);
	mmput(mm);
	ASSERT_EQ(mm_query_holders(id, NULL, 0), -ESRCH);
}

/*
 * A holder whose slot went idle keeps it until the table runs out: it takes
 * its next reference in the same place (the list order does not change
 * under a device that faults again and again).
 */
TEST(holders_idle_slot_kept_by_its_holder)
{
	struct mm_holder h[8];
	struct mm_struct *mm;
	int a, b;

	MM_TEST_SETUP();
	mm = mm_alloc();
	mmgrab_tracked(mm, &a, "a");
	mmgrab_tracked(mm, &b, "b");
	mmdrop_tracked(mm, &a, "a");
	ASSERT_EQ(mm_peek_holders(mm_id(mm), h, 8), 3);
	mmgrab_tracked(mm, &a, "a");
	ASSERT_EQ(mm_peek_holders(mm_id(mm), h, 8), 4);
	ASSERT_PTR_EQ(h[2].owner, &a);
	ASSERT_PTR_EQ(h[3].owner, &b);
	mmdrop_tracked(mm, &a, "a");
	mmdrop_tracked(mm, &b, "b");
	mmput(mm);
}

/*
 * 1,000 holders holding references at the same time, on one mm: the chain
 * of tables grows (lock-free) and every holder is listed exactly, in the
 * order it took its reference, with sums equal to the counters; nothing
 * lands in the overflow. (With one fixed table, holder 127 on went to the
 * overflow: the list showed "(holder table full)".) All let go, the two
 * initial holders are left, and the chained tables are freed with the mm
 * (ASan: no leak).
 */
TEST(holders_thousand_at_once_listed_exactly)
{
	static char keep[2];
	const int at_once = 1000;
	struct mm_struct *mm;

	MM_TEST_SETUP();
	mm = mm_alloc();
	ASSERT_NOT_NULL(mm);
	mmgrab_tracked(mm, &keep[0], "keep");
	mmgrab_tracked(mm, &keep[0], "keep");
	mmget_tracked(mm, &keep[1], "keep");
	for (int i = 0; i < at_once; i++)
		many_get(mm, i);
	ASSERT(mm_holders_slots(mm) > (at_once + 4) / MM_HOLDER_SLOTS * MM_HOLDER_SLOTS);
	ASSERT(!mm_holders_alloc_failed(mm));
	assert_exact(mm, keep, 0, at_once);
	for (int i = 0; i < at_once / 2; i++)
		many_put(mm, i);
	assert_exact(mm, keep, at_once / 2, at_once);
	for (int i = 0; i < at_once / 2; i++) /* reuse of the idle slots of every table */
		many_get(mm, at_once + i);
	assert_exact(mm, keep, at_once / 2, at_once + at_once / 2);
	for (int i = at_once / 2; i < at_once + at_once / 2; i++)
		many_put(mm, i);
	mmdrop_tracked(mm, &keep[0], "keep");
	mmdrop_tracked(mm, &keep[0], "keep");
	mmput_tracked(mm, &keep[1], "keep");
	{
		struct mm_holder h[4];

		ASSERT_EQ(mm_peek_holders(mm_id(mm), h, 4), 2);
	}
	mmput(mm);
}

/*
 * The overflow is only for a table that could not be allocated (the gets
 * run where nothing may sleep: a failing allocation is not retried): with
 * one window of the first table full of busy slots (owners hashed to it)
 * and the next allocation failing, the reference of one more owner of that
 * window is counted in the overflow and the failure recorded; the next get
 * grows the chain (a table twice the size); the puts take the overflowed
 * reference back, so once all are gone nothing is left over (no negative
 * holder, no overflow entry).
 */
TEST(holders_overflow_only_when_a_table_allocation_fails)
{
	struct mm_holder h[MM_HOLDER_WINDOW + 16];
	const char *const *o;
	struct mm_struct *mm;
	int n;

	MM_TEST_SETUP();
	owners_index();
	mm = mm_alloc();
	o = by_start[free_window(mm)];
	for (int i = 0; i < MM_HOLDER_WINDOW; i++) /* the window, all busy */
		mmgrab_tracked(mm, o[i], "many");
	ASSERT_EQ(mm_holders_tables(mm), 1);
	ASSERT_EQ(mm_holders_slots(mm), MM_HOLDER_SLOTS + 1);
	ASSERT(!mm_holders_alloc_failed(mm));
	fault_inject_alloc(1);
	mmgrab_tracked(mm, o[MM_HOLDER_WINDOW], "many");
	ASSERT_UEQ(fault_inject_alloc_hits(), 1);
	ASSERT(mm_holders_alloc_failed(mm));
	ASSERT_EQ(mm_holders_tables(mm), 1);
	n = mm_peek_holders(mm_id(mm), h, MM_HOLDER_WINDOW + 16);
	ASSERT_EQ(n, 2 + MM_HOLDER_WINDOW + 1);
	ASSERT_STR_EQ(h[n - 1].kind, MM_HOLDER_OVERFLOW_KIND);
	ASSERT_EQ(h[n - 1].count, 1);
	for (int i = MM_HOLDER_WINDOW + 1; i < MM_HOLDER_WINDOW + 9; i++) /* the chain grows */
		mmgrab_tracked(mm, o[i], "many");
	ASSERT_EQ(mm_holders_tables(mm), 2);
	ASSERT_EQ(mm_holders_slots(mm), MM_HOLDER_SLOTS + 2 * MM_HOLDER_SLOTS + 1);
	n = mm_peek_holders(mm_id(mm), h, MM_HOLDER_WINDOW + 16);
	ASSERT_EQ(n, 2 + MM_HOLDER_WINDOW + 1 + 8); /* the overflow still listed */
	ASSERT_STR_EQ(h[n - 1].kind, MM_HOLDER_OVERFLOW_KIND);
	for (int i = 0; i < MM_HOLDER_WINDOW + 9; i++)
		mmdrop_tracked(mm, o[i], "many");
	ASSERT_EQ(mm_peek_holders(mm_id(mm), h, MM_HOLDER_WINDOW + 16), 2);
	mmput(mm);
}

/* A put no get matched shows as a negative holder, and a later get cancels it. */
TEST(holders_unbalanced_put_is_negative)
{
	struct mm_holder h[8];
	const struct mm_holder *x;
	struct mm_struct *mm;
	int a;

	MM_TEST_SETUP();
	mm = mm_alloc();
	mm_holder_put(mm, false, &a, "a"); /* the record only: mm_count untouched */
	ASSERT_EQ(mm_peek_holders(mm_id(mm), h, 8), 3);
	x = find_holder(h, 3, &a, "a");
	ASSERT_NOT_NULL(x);
	ASSERT_EQ(x->count, -1);
	mm_holder_get(mm, false, &a, "a");
	ASSERT_EQ(mm_peek_holders(mm_id(mm), h, 8), 2);
	mmput(mm);
}

/* ---- many holders: windows, geometric chain, collect ----------------- */

#define HUNDRED_K 100000

static char hk[HUNDRED_K];

/* Holder i of hk: mm_users if i is odd, else mm_count. */
static void hk_ref(struct mm_struct *mm, int i, bool get)
{
	if (i % 2 && get)
		mmget_tracked(mm, &hk[i], many_kind(i));
	else if (i % 2)
		mmput_tracked(mm, &hk[i], many_kind(i));
	else if (get)
		mmgrab_tracked(mm, &hk[i], many_kind(i));
	else
		mmdrop_tracked(mm, &hk[i], many_kind(i));
}

/*
 * 100,000 distinct holders at once on one mm (as many interval notifiers,
 * each holding mm_count under its own name): every get and every put looks
 * at a bounded number of slots (its windows in O(log n) tables), the chain
 * has a logarithmic number of tables (the first has MM_HOLDER_SLOTS slots,
 * each next one twice as many), and the list is exact, in claim order.
 * (With one scan of every slot per get and a chain of fixed 128-slot
 * tables, this was 782 tables and up to 100,000 slots looked at per get:
 * quadratic in the holders.) All put back, the two initial holders are
 * left and the chain did not grow on the puts.
 */
TEST(holders_hundred_thousand_at_once_logarithmic)
{
	static struct mm_holder h[HUNDRED_K + 8];
	static struct want w[HUNDRED_K];
	unsigned long worst = 0;
	struct mm_struct *mm;
	int tables;

	MM_TEST_SETUP();
	mm = mm_alloc();
	ASSERT_NOT_NULL(mm);
	for (int i = 0; i < HUNDRED_K; i++) {
		unsigned long before = mm_holders_scanned();

		hk_ref(mm, i, true);
		if (mm_holders_scanned() - before > worst)
			worst = mm_holders_scanned() - before;
		w[i] = (struct want){&hk[i], many_kind(i), i % 2, 1 - i % 2};
	}
	tables = mm_holders_tables(mm);
	printf("%d holders: %d tables, %d slots, at most %lu slots looked at per get\n", HUNDRED_K,
	       tables, mm_holders_slots(mm), worst);
	ASSERT(tables >= 2);
	ASSERT(tables <= 20); /* log2(100000 / 128) is about 10 */
	ASSERT(mm_holders_slots(mm) > HUNDRED_K);
	ASSERT(!mm_holders_alloc_failed(mm));
	ASSERT(worst <= SCAN_BOUND(tables));
	ASSERT_UEQ(mm_holders_claims(mm), HUNDRED_K + 2);
	assert_list(mm, w, HUNDRED_K, h, HUNDRED_K + 8);

	worst = 0;
	for (int i = HUNDRED_K - 1; i >= 0; i--) {
		unsigned long before = mm_holders_scanned();

		hk_ref(mm, i, false);
		if (mm_holders_scanned() - before > worst)
			worst = mm_holders_scanned() - before;
	}
	ASSERT(worst <= SCAN_BOUND(tables));
	ASSERT_EQ(mm_holders_tables(mm), tables);
	ASSERT_UEQ(mm_holders_claims(mm), HUNDRED_K + 2); /* every put found its slot */
	assert_list(mm, w, 0, h, HUNDRED_K + 8);
	ASSERT(!mm_holders_alloc_failed(mm));
	mmput(mm);
}

/*
 * 48 owners whose windows start at the same slot of the first table, with
 * one or two kinds each (the kinds of one owner share its window): the
 * window takes MM_HOLDER_WINDOW of the 64 holders, the rest spill to the
 * next table (hashed there anew, so they spread); every one is found by
 * its later gets and puts: listed exactly, in claim order, and put back
 * to nothing (a put that missed its slot would leave a negative holder or
 * take a new slot). Half of them taking references again reuse their idle
 * slots: the chain does not grow.
 */
TEST(holders_colliding_window_spills_to_next_table)
{
	struct mm_holder h[2 * BY_START + 8];
	struct want w[2 * BY_START];
	unsigned long worst = 0;
	const char *const *o;
	struct mm_struct *mm;
	int n = 0, tables;

	MM_TEST_SETUP();
	owners_index();
	mm = mm_alloc();
	o = by_start[free_window(mm)];
	for (int i = 0; i < BY_START; i++) {
		unsigned long before = mm_holders_scanned();

		mmgrab_tracked(mm, o[i], "c");
		w[n++] = (struct want){o[i], "c", 0, 1};
		if (i % 3 == 0) {
			mmget_tracked(mm, o[i], "u");
			w[n++] = (struct want){o[i], "u", 1, 0};
		}
		if (mm_holders_scanned() - before > worst)
			worst = mm_holders_scanned() - before;
	}
	tables = mm_holders_tables(mm);
	ASSERT_EQ(tables, 2); /* 64 holders of one window: it spilled, once */
	ASSERT_UEQ(mm_holders_claims(mm), 2 + (unsigned long)n); /* one slot each */
	ASSERT(!mm_holders_alloc_failed(mm));
	ASSERT(worst <= 2 * SCAN_BOUND(tables));
	assert_list(mm, w, n, h, 2 * BY_START + 8);

	/* The first half let go (the window's and spilled ones), then again. */
	for (int i = BY_START / 2 - 1; i >= 0; i--) {
		mmdrop_tracked(mm, o[i], "c");
		if (i % 3 == 0)
			mmput_tracked(mm, o[i], "u");
	}
	{
		int k = 0;

		for (int i = 0; i < n; i++) /* the second half's, in their order */
			for (int j = BY_START / 2; j < BY_START; j++)
				if (w[i].owner == o[j])
					w[k++] = w[i];
		assert_list(mm, w, k, h, 2 * BY_START + 8);
	}
	for (int i = 0; i < BY_START / 2; i++) /* their idle slots, their seq */
		mmgrab_tracked(mm, o[i], "c");
	ASSERT_EQ(mm_holders_tables(mm), tables);
	{
		/*
		 * In the first order: a get that missed its idle slot would
		 * have claimed a new one, listed last.
		 */
		int k = 0;

		for (int i = 0; i < BY_START; i++) {
			w[k++] = (struct want){o[i], "c", 0, 1};
			if (i % 3 == 0 && i >= BY_START / 2)
				w[k++] = (struct want){o[i], "u", 1, 0};
		}
		assert_list(mm, w, k, h, 2 * BY_START + 8);
	}
	/* Every put and get found its holder's slot: none claimed another. */
	ASSERT_UEQ(mm_holders_claims(mm), 2 + (unsigned long)n);
	for (int i = 0; i < BY_START; i++) {
		mmdrop_tracked(mm, o[i], "c");
		if (i % 3 == 0 && i >= BY_START / 2)
			mmput_tracked(mm, o[i], "u");
	}
	assert_list(mm, w, 0, h, 2 * BY_START + 8);
	ASSERT_EQ(mm_holders_tables(mm), tables);
	ASSERT_UEQ(mm_holders_claims(mm), 2 + (unsigned long)n);
	mmput(mm);
}

/*
 * Collect over many holders sums each holder's slots into one entry at
 * its first claim: 20,000 holders, two of which (one early, one late)
 * overflow a slot (MM_HOLDER_REFS_MAX references of one kind) and go on in
 * a second slot claimed after all the others. The list is in claim order,
 * each of the two listed once at its first place with the sum of its two
 * slots, the sums equal to the counters.
 */
TEST(holders_collect_many_sums_duplicates_in_claim_order)
{
	enum {
		N = 20000,
		D0 = 7,
		D1 = N - 7
	};
	static struct mm_holder h[N + 8];
	static struct want w[N];
	struct mm_struct *mm;

	MM_TEST_SETUP();
	mm = mm_alloc();
	for (int i = 0; i < N; i++) {
		mmgrab_tracked(mm, &hk[i], "one");
		w[i] = (struct want){&hk[i], "one", 0, 1};
	}
	for (int d = 0; d < 2; d++) {
		int i = d ? D1 : D0;

		/* The first slot full, then one more in a slot of its own. */
		for (int r = 0; r < MM_HOLDER_REFS_MAX; r++)
			mmgrab_tracked(mm, &hk[i], "one");
		w[i].count = MM_HOLDER_REFS_MAX + 1;
	}
	assert_list(mm, w, N, h, N + 8);
	for (int d = 0; d < 2; d++)
		for (int r = 0; r < MM_HOLDER_REFS_MAX; r++)
			mmdrop_tracked(mm, &hk[d ? D1 : D0], "one");
	for (int i = 0; i < N; i++) {
		w[i].count = 1;
		if (i % 2)
			mmdrop_tracked(mm, &hk[i], "one");
	}
	{
		int k = 0;

		for (int i = 0; i < N; i += 2)
			w[k++] = w[i];
		assert_list(mm, w, k, h, N + 8);
	}
	for (int i = 0; i < N; i += 2)
		mmdrop_tracked(mm, &hk[i], "one");
	assert_list(mm, w, 0, h, N + 8);
	mmput(mm);
}

/* ---- concurrent torture ---------------------------------------------- */

#define T_THREADS    4
#define T_PRIV	     4096 /* private holders per thread, cycled */
#define T_RING	     6	  /* private holders a thread holds at once, at most */
#define T_SHARED     3
#define T_SHARED_MAX 3 /* references of one kind a thread holds on a shared holder */
#if defined(__SANITIZE_THREAD__)
#define T_OPS	3000
#define T_PEEKS 200
#else
#define T_OPS	20000
#define T_PEEKS 2000
#endif

/*
 * Held by the main thread throughout: more than the first table has slots,
 * so most windows of the first table are busy and the threads' claims go to
 * the later tables, reclaiming idle slots of their windows across tables
 * all the time (and growing the chain if a window is busy in every table;
 * the race on the CAS of next is explored in holders_chain_growth_race).
 */
#define T_FILLERS (2 * MM_HOLDER_SLOTS - 12)
#define T_LIST	  (T_FILLERS + 64)

static char fillers[T_FILLERS];
static char priv[T_THREADS][T_PRIV];
static char shared[T_SHARED];
static const char *const priv_kind[2] = {"private count", "private users"};

struct torture_thread {
	struct sm_thread th;
	struct mm_struct *mm;
	int id;
	unsigned long rng;
	int ring[T_RING], ring_head, ring_len, next;
	int shared_users[T_SHARED], shared_count[T_SHARED];
};

static _Atomic int torture_failures;
static _Atomic int torture_done;
static _Atomic int torture_go; /* all threads start together: more overlap */
static char torture_msg[200];

static void torture_fail(const char *what, const struct mm_holder *h)
{
	if (atomic_fetch_add(&torture_failures, 1) == 0)
		snprintf(torture_msg, sizeof(torture_msg), "%s: owner %p kind %s users=%d count=%d",
			 what, h->owner, h->kind ? h->kind : "(null)", h->users, h->count);
}

static unsigned long next_rand(unsigned long *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Private holder j of thread t: users if j is odd, else count. */
static void priv_ref(struct mm_struct *mm, int t, int j, bool get)
{
	const char *kind = priv_kind[j % 2];

	if (j % 2 && get)
		mmget_tracked(mm, &priv[t][j], kind);
	else if (j % 2)
		mmput_tracked(mm, &priv[t][j], kind);
	else if (get)
		mmgrab_tracked(mm, &priv[t][j], kind);
	else
		mmdrop_tracked(mm, &priv[t][j], kind);
}

static void *torture_body(void *arg)
{
	struct torture_thread *t = arg;

	sm_wait_var_event(&torture_go, atomic_load(&torture_go));
	for (int op = 0; op < T_OPS; op++) {
		unsigned long r = next_rand(&t->rng);
		int k = (int)((r >> 8) % T_SHARED);

		switch (r % 4) {
		case 0:
		case 1: /* a new private holder, the oldest let go if the ring is full */
			if (t->ring_len == T_RING) {
				priv_ref(t->mm, t->id, t->ring[t->ring_head], false);
				t->ring_head = (t->ring_head + 1) % T_RING;
				t->ring_len--;
			}
			t->ring[(t->ring_head + t->ring_len++) % T_RING] = t->next;
			priv_ref(t->mm, t->id, t->next, true);
			t->next = (t->next + 1) % T_PRIV;
			break;
		case 2: /* the oldest private holder lets go */
			if (t->ring_len) {
				priv_ref(t->mm, t->id, t->ring[t->ring_head], false);
				t->ring_head = (t->ring_head + 1) % T_RING;
				t->ring_len--;
			}
			break;
		default: /* a shared holder: get or put, users or count */
			if (r & 0x10000) {
				if (t->shared_users[k] < T_SHARED_MAX) {
					mmget_tracked(t->mm, &shared[k], "shared");
					t->shared_users[k]++;
				} else {
					mmput_tracked(t->mm, &shared[k], "shared");
					t->shared_users[k]--;
				}
			} else if (t->shared_count[k] && (r & 0x20000)) {
				mmdrop_tracked(t->mm, &shared[k], "shared");
				t->shared_count[k]--;
			} else if (t->shared_count[k] < T_SHARED_MAX) {
				mmgrab_tracked(t->mm, &shared[k], "shared");
				t->shared_count[k]++;
			}
			break;
		}
	}
	return NULL;
}

/*
 * Snapshots while the others run: every holder listed is one of ours with
 * plausible counts. A private holder lives in one slot (only its thread
 * touches it), so it is read in one load: exactly one reference, of its
 * kind. A reference counted under the wrong key, or a key read with another
 * generation's counts, shows here.
 */
static void *torture_reader(void *arg)
{
	struct mm_struct *mm = arg;
	static struct mm_holder h[T_LIST];

	sm_wait_var_event(&torture_go, atomic_load(&torture_go));
	for (int p = 0; p < T_PEEKS && !atomic_load(&torture_done); p++) {
		int n = mm_peek_holders(mm_id(mm), h, T_LIST);

		for (int i = 0; i < n && i < T_LIST; i++) {
			uintptr_t o = (uintptr_t)h[i].owner;

			if (o - (uintptr_t)fillers < sizeof(fillers)) {
				if (!h[i].kind || strcmp(h[i].kind, "filler") || h[i].users ||
				    h[i].count != 1)
					torture_fail("filler torn", &h[i]);
			} else if (o - (uintptr_t)priv < sizeof(priv)) {
				int j = (int)((o - (uintptr_t)priv) % T_PRIV);

				if (!h[i].kind || strcmp(h[i].kind, priv_kind[j % 2]) ||
				    h[i].users != j % 2 || h[i].count != 1 - j % 2)
					torture_fail("private holder torn", &h[i]);
			} else if (o - (uintptr_t)shared < sizeof(shared)) {
				if (!h[i].kind || strcmp(h[i].kind, "shared") ||
				    h[i].users < -T_THREADS ||
				    h[i].users > T_THREADS * (T_SHARED_MAX + 1) ||
				    h[i].count < -T_THREADS ||
				    h[i].count > T_THREADS * (T_SHARED_MAX + 1))
					torture_fail("shared holder out of range", &h[i]);
			} else if (!(!o && !h[i].kind && h[i].users == 1 && !h[i].count) &&
				   !(h[i].owner == mm && h[i].kind &&
				     !strcmp(h[i].kind, MM_HOLDER_USERS_KIND) && h[i].count == 1 &&
				     !h[i].users)) {
				torture_fail("unknown holder", &h[i]);
			}
		}
	}
	return NULL;
}

/*
 * T_THREADS threads get and put private holders (a fresh key each time, so
 * the table fills and idle slots are reclaimed all the time) and shared
 * ones (racing on the same slots, idle and reclaimed too), while a reader
 * takes snapshots. Afterwards the list equals the oracle exactly: every
 * thread's live private holders with one reference, each shared holder
 * with what the threads hold of it, the two initial holders; and after
 * every put, only the initial two.
 */
TEST(holders_concurrent_get_put_torture)
{
	static struct torture_thread t[T_THREADS];
	struct sm_thread reader;
	static struct mm_holder h[T_LIST];
	struct mm_struct *mm;
	int n, expect = 2 + T_FILLERS, sum_users = 0, sum_count = 0;

	MM_TEST_SETUP();
	mm = mm_alloc();
	ASSERT_NOT_NULL(mm);
	for (int i = 0; i < T_FILLERS; i++)
		mmgrab_tracked(mm, &fillers[i], "filler");
	ASSERT(mm_holders_tables(mm) >= 2);
	for (int i = 0; i < T_THREADS; i++) {
		memset(&t[i], 0, sizeof(t[i]));
		t[i].mm = mm;
		t[i].id = i;
		t[i].rng = 0x9e3779b97f4a7c15UL * (unsigned long)(i + 1);
	}
	ASSERT_EQ(sm_thread_create(&reader, torture_reader, mm, "holders reader"), 0);
	for (int i = 0; i < T_THREADS; i++)
		ASSERT_EQ(sm_thread_create(&t[i].th, torture_body, &t[i], "holders %d", i), 0);
	atomic_store(&torture_go, 1);
	sm_wake_up_var(&torture_go); /* pairs with the threads' sm_wait_var_event() */
	for (int i = 0; i < T_THREADS; i++)
		sm_thread_join(&t[i].th);
	atomic_store(&torture_done, 1);
	sm_thread_join(&reader);
	if (atomic_load(&torture_failures))
		printf("%d failures, first: %s\n", atomic_load(&torture_failures), torture_msg);
	ASSERT_EQ(atomic_load(&torture_failures), 0);

	/* The oracle. */
	n = mm_peek_holders(mm_id(mm), h, T_LIST);
	ASSERT(n <= T_LIST);
	for (int i = 0; i < T_FILLERS; i++) {
		const struct mm_holder *x = find_holder(h, n, &fillers[i], "filler");

		ASSERT_NOT_NULL(x);
		ASSERT_EQ(x->count, 1);
		ASSERT_EQ(x->users, 0);
	}
	for (int i = 0; i < T_THREADS; i++) {
		for (int r = 0; r < t[i].ring_len; r++) {
			int j = t[i].ring[(t[i].ring_head + r) % T_RING];
			const struct mm_holder *x =
				find_holder(h, n, &priv[i][j], priv_kind[j % 2]);

			ASSERT_NOT_NULL(x);
			ASSERT_EQ(x->users, j % 2);
			ASSERT_EQ(x->count, 1 - j % 2);
			expect++;
		}
	}
	for (int k = 0; k < T_SHARED; k++) {
		int users = 0, count = 0;
		const struct mm_holder *x = find_holder(h, n, &shared[k], "shared");

		for (int i = 0; i < T_THREADS; i++) {
			users += t[i].shared_users[k];
			count += t[i].shared_count[k];
		}
		if (!users && !count) {
			ASSERT_NULL(x);
			continue;
		}
		ASSERT_NOT_NULL(x);
		ASSERT_EQ(x->users, users);
		ASSERT_EQ(x->count, count);
		expect++;
	}
	ASSERT_EQ(n, expect); /* nothing else: no overflow, no negative leftovers */
	for (int i = 0; i < n; i++) {
		sum_users += h[i].users;
		sum_count += h[i].count;
	}
	ASSERT_EQ(sum_users, mm_users_read(mm));
	ASSERT_EQ(sum_count, mm_count_read(mm));

	/* Everything let go: the two initial holders are left. */
	for (int i = 0; i < T_THREADS; i++) {
		for (; t[i].ring_len; t[i].ring_len--) {
			priv_ref(mm, i, t[i].ring[t[i].ring_head], false);
			t[i].ring_head = (t[i].ring_head + 1) % T_RING;
		}
		for (int k = 0; k < T_SHARED; k++) {
			for (; t[i].shared_users[k]; t[i].shared_users[k]--)
				mmput_tracked(mm, &shared[k], "shared");
			for (; t[i].shared_count[k]; t[i].shared_count[k]--)
				mmdrop_tracked(mm, &shared[k], "shared");
		}
	}
	for (int i = 0; i < T_FILLERS; i++)
		mmdrop_tracked(mm, &fillers[i], "filler");
	ASSERT(!mm_holders_alloc_failed(mm));
	ASSERT_EQ(mm_peek_holders(mm_id(mm), h, T_LIST), 2);
	ASSERT_EQ(mm_users_read(mm), 1);
	ASSERT_EQ(mm_count_read(mm), 1);
	mmput(mm);
}

/* ---- the ABA, under the interleaving explorer ------------------------- */

/*
 * Holders k0 and k1 share a window (their owners hash to it), k0's slot is
 * idle and the first of the window, the rest of the window idle too (no
 * FREE slot left in it). Thread 0 takes a reference of k0: it finds that
 * slot and stops before its CAS (the explorer switches at the lock-free
 * points of mm_holders.c). Thread 1 meanwhile takes and drops a reference
 * of k1: with no FREE slot in its window it reclaims k0's, and puts it back
 * to idle -- the same counts as thread 0 loaded, another generation.
 * Thread 2 reads the list. Whatever the order: k0 holds one reference, k1
 * none, and no reader ever sees a reference of either under the other.
 */
struct aba_ctx {
	/*
	 * @chained: the window of table 0 busy throughout (MM_HOLDER_WINDOW
	 * held fillers), so that the race plays in table 1, in a window k0
	 * and k1 share there too; @grow: no idle slot at all, thread 1 keeps
	 * its reference: both threads grow the chain (the CAS on next)
	 * instead.
	 */
	bool chained, grow;
	struct mm_struct *mm;
	const char *k[2];
	const char *held[MM_HOLDER_WINDOW]; /* holding a reference throughout */
	int nheld;
	struct mm_holder h[4 * MM_HOLDER_WINDOW];
};

static void aba_setup(void *p)
{
	struct aba_ctx *c = p;
	const char *const *idle;
	unsigned int h0;

	c->mm = mm_alloc();
	EXPLORE_ASSERT(c->mm);
	h0 = free_window(c->mm);
	c->nheld = 0;
	if (c->chained || c->grow) {
		for (int i = 0; i < MM_HOLDER_WINDOW; i++) {
			c->held[c->nheld++] = by_start[h0][i];
			mmgrab_tracked(c->mm, by_start[h0][i], "filler");
		}
	}
	if (c->grow) {
		c->k[0] = by_start[h0][MM_HOLDER_WINDOW];
		c->k[1] = by_start[h0][MM_HOLDER_WINDOW + 1];
		EXPLORE_ASSERT(mm_holders_tables(c->mm) == 1);
		return;
	}
	/* In table 1 (chained), k0, k1 and the idle fillers share a window there too. */
	idle = c->chained ? &by_pair[h0][2] : &by_start[h0][2];
	c->k[0] = c->chained ? by_pair[h0][0] : by_start[h0][0];
	c->k[1] = c->chained ? by_pair[h0][1] : by_start[h0][1];
	/* k0's slot idle and the first of the window, then the rest of the window idle. */
	mmgrab_tracked(c->mm, c->k[0], "k0");
	mmdrop_tracked(c->mm, c->k[0], "k0");
	for (int i = 0; i < MM_HOLDER_WINDOW - 1; i++) {
		mmgrab_tracked(c->mm, idle[i], "filler");
		mmdrop_tracked(c->mm, idle[i], "filler");
	}
	EXPLORE_ASSERT(mm_holders_tables(c->mm) == (c->chained ? 2 : 1));
}

static bool aba_held(struct aba_ctx *c, const void *owner)
{
	for (int i = 0; i < c->nheld; i++)
		if (owner == c->held[i])
			return true;
	return false;
}

/*
 * The list holds only the initial holders, the held fillers and k0 / k1
 * with one mm_count each.
 */
static void aba_look(struct aba_ctx *c, int *k0, int *k1)
{
	struct mm_holder *h = c->h;
	int n = mm_peek_holders(mm_id(c->mm), h, 4 * MM_HOLDER_WINDOW);

	*k0 = *k1 = 0;
	for (int i = 0; i < n; i++) {
		if (aba_held(c, h[i].owner) && h[i].kind && !strcmp(h[i].kind, "filler") &&
		    h[i].count == 1 && !h[i].users)
			continue;
		if (h[i].owner == c->k[0] && !strcmp(h[i].kind, "k0") && h[i].count == 1 &&
		    !h[i].users)
			(*k0)++;
		else if (h[i].owner == c->k[1] && !strcmp(h[i].kind, "k1") && h[i].count == 1 &&
			 !h[i].users)
			(*k1)++;
		else if (!(!h[i].owner && !h[i].kind && h[i].users == 1 && !h[i].count) &&
			 !(h[i].owner == c->mm && h[i].count == 1 && !h[i].users))
			explore_report_failure("holder %p kind %s users=%d count=%d", h[i].owner,
					       h[i].kind ? h[i].kind : "(null)", h[i].users,
					       h[i].count);
	}
}

static void aba_thread(unsigned int id, void *p)
{
	struct aba_ctx *c = p;
	int k0, k1;

	switch (id) {
	case 0:
		mmgrab_tracked(c->mm, c->k[0], "k0");
		break;
	case 1:
		mmgrab_tracked(c->mm, c->k[1], "k1");
		if (!c->grow)
			mmdrop_tracked(c->mm, c->k[1], "k1");
		break;
	default:
		aba_look(c, &k0, &k1);
		break;
	}
}

static void aba_check(void *p)
{
	struct aba_ctx *c = p;
	int k0, k1;

	aba_look(c, &k0, &k1);
	if (k0 != 1 || k1 != c->grow)
		explore_report_failure("k0 listed %d times, k1 %d (want 1, %d)", k0, k1, c->grow);
	if (mm_count_read(c->mm) != 2 + c->nheld + c->grow)
		explore_report_failure("mm_count %d", mm_count_read(c->mm));
	/* Growing: one table added; the loser of the CAS on next freed its own. */
	if (mm_holders_tables(c->mm) != (c->chained || c->grow ? 2 : 1))
		explore_report_failure("%d tables", mm_holders_tables(c->mm));
	mmdrop_tracked(c->mm, c->k[0], "k0");
	if (c->grow)
		mmdrop_tracked(c->mm, c->k[1], "k1");
	for (int i = 0; i < c->nheld; i++)
		mmdrop_tracked(c->mm, c->held[i], "filler");
	mmput(c->mm);
}

static void aba_run(const struct explore_test *t, const struct explore_opts *o, const char *what)
{
	struct explore_run_report rep;
	struct explore_result r;
	int ret = explore_run(t, o, &r, &rep);

	if (ret)
		printf("%s: run %lu failed: %s\nEXPLORE_SCHEDULE=%s\n", what, rep.fail_run,
		       rep.fail_msg, rep.fail_schedule ? rep.fail_schedule : "?");
	free(rep.fail_schedule);
	ASSERT_EQ(ret, 0);
	report(what, &r);
}

/*
 * Explore @c's window: every schedule of the getter and the reclaimer with
 * at most two preemptions, then random schedules (from @seed) with a
 * reader as a third thread.
 */
static void aba_explore(struct aba_ctx *c, const char *name, unsigned long runs, unsigned long seed)
{
	struct explore_test t = {.name = name,
				 .nr_threads = 2, /* the getter and the reclaimer */
				 .setup = aba_setup,
				 .thread = aba_thread,
				 .check = aba_check,
				 .ctx = c};
	struct explore_opts o = {.strategy = EXPLORE_STRATEGY_DFS, .bound = 2, .lockfree = true};
	char what[64];

	if (getenv("EXPLORE_SCHEDULE"))
		harness_skip("EXPLORE_SCHEDULE set");
	MM_TEST_SETUP();
	owners_index();
	o.runs = RUNS(runs);
	snprintf(what, sizeof(what), "%s dfs(2)", name);
	aba_run(&t, &o, what);
	/* And a reader: a key read with another generation's counts. */
	t.nr_threads = 3;
	o.strategy = EXPLORE_STRATEGY_RANDOM;
	o.seed = seed;
	o.runs = RUNS(runs);
	snprintf(what, sizeof(what), "%s+reader random", name);
	aba_run(&t, &o, what);
}

TEST(holders_aba_explored)
{
	static struct aba_ctx c;

	aba_explore(&c, "holders_aba", 400, 1);
}

/* The same ABA in the second table of the chain, the window of the first all busy. */
TEST(holders_aba_in_chained_table_explored)
{
	static struct aba_ctx c = {.chained = true};
	struct explore_test t = {.name = "holders_aba_chained",
				 .nr_threads = 3, /* getter, reclaimer, reader */
				 .setup = aba_setup,
				 .thread = aba_thread,
				 .check = aba_check,
				 .ctx = &c};
	struct explore_opts o = {.strategy = EXPLORE_STRATEGY_RANDOM, .seed = 2, .lockfree = true};

	if (getenv("EXPLORE_SCHEDULE"))
		harness_skip("EXPLORE_SCHEDULE set");
	MM_TEST_SETUP();
	owners_index();
	o.runs = RUNS(300);
	aba_run(&t, &o, "holders_aba chained random");
}

/*
 * The window of both new holders busy in the only table: two getters both
 * allocate a table and race on the CAS of next, a reader lists meanwhile.
 * Whatever the order: one table is chained (the loser frees its own and
 * uses the winner's), both holders are listed once, nothing in the
 * overflow.
 */
TEST(holders_chain_growth_race_explored)
{
	static struct aba_ctx c = {.grow = true};

	aba_explore(&c, "holders_grow", 300, 3);
}

/* ---- two claimers, one FREE slot ------------------------------------- */

/*
 * k0 and k1 hash to the same window of an empty table: both find its first
 * slot FREE and race to reserve it (the CAS FREE -> CLAIMING); a reader
 * lists meanwhile. Whatever the order, one of them gets the slot, the other
 * sees it taken and reserves the next one: both are listed once with their
 * one reference, the reader never sees one's reference under the other's
 * key, and the chain did not grow. (A reservation that is not a CAS -- a
 * load then a store -- lets both write the same slot's key: one holder is
 * lost and the other holds both references.)
 */
struct reserve_ctx {
	struct mm_struct *mm;
	const char *k[2];
	struct mm_holder h[8];
};

static const char *const reserve_kind[2] = {"k0", "k1"};

/* The list holds only the initial holders and k0 / k1 with one mm_count each. */
static void reserve_look(struct reserve_ctx *c, int found[2])
{
	int n = mm_peek_holders(mm_id(c->mm), c->h, 8);

	found[0] = found[1] = 0;
	for (int i = 0; i < n && i < 8; i++) {
		const struct mm_holder *x = &c->h[i];
		int k = x->owner == c->k[0] ? 0 : x->owner == c->k[1] ? 1 : -1;

		if (k >= 0 && x->kind && !strcmp(x->kind, reserve_kind[k]) && x->count == 1 &&
		    !x->users)
			found[k]++;
		else if (!(!x->owner && !x->kind && x->users == 1 && !x->count) &&
			 !(x->owner == c->mm && x->count == 1 && !x->users))
			explore_report_failure("holder %p kind %s users=%d count=%d", x->owner,
					       x->kind ? x->kind : "(null)", x->users, x->count);
	}
}

static void reserve_setup(void *p)
{
	struct reserve_ctx *c = p;
	unsigned int h0;

	c->mm = mm_alloc();
	EXPLORE_ASSERT(c->mm);
	h0 = free_window(c->mm);
	c->k[0] = by_start[h0][0];
	c->k[1] = by_start[h0][1];
}

static void reserve_thread(unsigned int id, void *p)
{
	struct reserve_ctx *c = p;
	int found[2];

	if (id < 2)
		mmgrab_tracked(c->mm, c->k[id], reserve_kind[id]);
	else
		reserve_look(c, found);
}

static void reserve_check(void *p)
{
	struct reserve_ctx *c = p;
	int found[2];

	reserve_look(c, found);
	if (found[0] != 1 || found[1] != 1)
		explore_report_failure("k0 listed %d times, k1 %d (want 1, 1)", found[0], found[1]);
	if (mm_count_read(c->mm) != 3)
		explore_report_failure("mm_count %d", mm_count_read(c->mm));
	if (mm_holders_tables(c->mm) != 1)
		explore_report_failure("%d tables", mm_holders_tables(c->mm));
	mmdrop_tracked(c->mm, c->k[0], reserve_kind[0]);
	mmdrop_tracked(c->mm, c->k[1], reserve_kind[1]);
	mmput(c->mm);
}

TEST(holders_free_slot_reservation_race_explored)
{
	static struct reserve_ctx c;
	struct explore_test t = {.name = "holders_reserve",
				 .nr_threads = 2, /* two claimers */
				 .setup = reserve_setup,
				 .thread = reserve_thread,
				 .check = reserve_check,
				 .ctx = &c};
	struct explore_opts o = {.strategy = EXPLORE_STRATEGY_DFS, .bound = 2, .lockfree = true};

	if (getenv("EXPLORE_SCHEDULE"))
		harness_skip("EXPLORE_SCHEDULE set");
	MM_TEST_SETUP();
	owners_index();
	o.runs = RUNS(300);
	aba_run(&t, &o, "holders_reserve dfs(2)");
	t.nr_threads = 3; /* and a reader */
	o.strategy = EXPLORE_STRATEGY_RANDOM;
	o.seed = 4;
	o.runs = RUNS(300);
	aba_run(&t, &o, "holders_reserve+reader random");
}
