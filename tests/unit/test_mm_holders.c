// SPDX-License-Identifier: MIT
/*
 * The core's reference-holder table (src/mm/mm_holders.c): slots are reused
 * by later holders once their holder holds nothing, so an mm may see any
 * number of distinct holders over its life and still list exactly the live
 * ones; concurrent gets and puts of distinct and shared holders (slots
 * reclaimed all the time) keep every reference under its own holder, with
 * real threads (TSan) and under the interleaving explorer, which switches
 * inside the lock-free code (the ABA of a slot reused under a CAS).
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
 * the first table full of busy slots and the next allocation failing, the
 * reference is counted in the overflow and the failure recorded; the next
 * get grows the chain; the puts take the overflowed reference back, so
 * once all are gone nothing is left over (no negative holder, no overflow
 * entry).
 */
TEST(holders_overflow_only_when_a_table_allocation_fails)
{
	static char owners[MM_HOLDER_SLOTS + 8];
	struct mm_holder h[MM_HOLDER_SLOTS + 16];
	struct mm_struct *mm;
	int n;

	MM_TEST_SETUP();
	mm = mm_alloc();
	for (int i = 0; i < MM_HOLDER_SLOTS - 2; i++) /* the first table, all busy */
		mmgrab_tracked(mm, &owners[i], "many");
	ASSERT_EQ(mm_holders_slots(mm), MM_HOLDER_SLOTS + 1);
	ASSERT(!mm_holders_alloc_failed(mm));
	fault_inject_alloc(1);
	mmgrab_tracked(mm, &owners[MM_HOLDER_SLOTS - 2], "many");
	ASSERT_UEQ(fault_inject_alloc_hits(), 1);
	ASSERT(mm_holders_alloc_failed(mm));
	ASSERT_EQ(mm_holders_slots(mm), MM_HOLDER_SLOTS + 1);
	n = mm_peek_holders(mm_id(mm), h, MM_HOLDER_SLOTS + 16);
	ASSERT_EQ(n, MM_HOLDER_SLOTS + 1);
	ASSERT_STR_EQ(h[n - 1].kind, MM_HOLDER_OVERFLOW_KIND);
	ASSERT_EQ(h[n - 1].count, 1);
	for (int i = MM_HOLDER_SLOTS - 1; i < MM_HOLDER_SLOTS + 8; i++) /* the chain grows */
		mmgrab_tracked(mm, &owners[i], "many");
	ASSERT_EQ(mm_holders_slots(mm), 2 * MM_HOLDER_SLOTS + 1);
	n = mm_peek_holders(mm_id(mm), h, MM_HOLDER_SLOTS + 16);
	ASSERT_EQ(n, MM_HOLDER_SLOTS + 1 + 9); /* the overflow still listed */
	for (int i = 0; i < MM_HOLDER_SLOTS + 8; i++)
		mmdrop_tracked(mm, &owners[i], "many");
	ASSERT_EQ(mm_peek_holders(mm_id(mm), h, MM_HOLDER_SLOTS + 16), 2);
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
 * Held by the main thread throughout: the first table and all but a few
 * slots of the second are busy, so the threads' claims grow the chain
 * concurrently (racing CASes on the last table's next) and reclaim idle
 * slots across tables.
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
	ASSERT_EQ(mm_holders_slots(mm), 2 * MM_HOLDER_SLOTS + 1);
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
 * Holder k0's slot is idle and is the lowest idle slot of a full table.
 * Thread 0 takes a reference of k0: it finds that slot and stops before
 * its CAS (the explorer switches at the lock-free points of
 * mm_holders.c). Thread 1 meanwhile takes and drops a reference of k1:
 * with no unused slot left it reclaims k0's, and puts it back to idle --
 * the same counts as thread 0 loaded, another generation. Thread 2 reads
 * the list. Whatever the order: k0 holds one reference, k1 none, and no
 * reader ever sees a reference of either under the other.
 */
struct aba_ctx {
	struct mm_struct *mm;
	char k[2];
	char filler[2 * MM_HOLDER_SLOTS];
	/*
	 * @held: fillers holding a reference throughout (the first table
	 * busy: the race plays in a chained table); @grow: no idle slot at
	 * all, thread 1 keeps its reference: both threads grow the chain
	 * (the CAS on next) instead.
	 */
	int held;
	bool grow;
	struct mm_holder h[3 * MM_HOLDER_SLOTS];
};

static void aba_setup(void *p)
{
	struct aba_ctx *c = p;
	int idle;

	c->mm = mm_alloc();
	EXPLORE_ASSERT(c->mm);
	for (int i = 0; i < c->held; i++)
		mmgrab_tracked(c->mm, &c->filler[i], "filler");
	if (c->grow)
		return;
	/* k0's slot idle and the lowest idle one, then the rest of its table idle. */
	mmgrab_tracked(c->mm, &c->k[0], "k0");
	mmdrop_tracked(c->mm, &c->k[0], "k0");
	idle = c->held ? MM_HOLDER_SLOTS - 1 : MM_HOLDER_SLOTS - 3;
	for (int i = c->held; i < c->held + idle; i++) {
		mmgrab_tracked(c->mm, &c->filler[i], "filler");
		mmdrop_tracked(c->mm, &c->filler[i], "filler");
	}
	EXPLORE_ASSERT(mm_holders_slots(c->mm) == (c->held ? 2 : 1) * MM_HOLDER_SLOTS + 1);
}

/*
 * The list holds only the initial holders, the held fillers and k0 / k1
 * with one mm_count each.
 */
static void aba_look(struct aba_ctx *c, int *k0, int *k1)
{
	struct mm_holder *h = c->h;
	int n = mm_peek_holders(mm_id(c->mm), h, 3 * MM_HOLDER_SLOTS);

	*k0 = *k1 = 0;
	for (int i = 0; i < n; i++) {
		if ((const char *)h[i].owner >= c->filler &&
		    (const char *)h[i].owner < c->filler + c->held && h[i].kind &&
		    !strcmp(h[i].kind, "filler") && h[i].count == 1 && !h[i].users)
			continue;
		if (h[i].owner == &c->k[0] && !strcmp(h[i].kind, "k0") && h[i].count == 1 &&
		    !h[i].users)
			(*k0)++;
		else if (h[i].owner == &c->k[1] && !strcmp(h[i].kind, "k1") && h[i].count == 1 &&
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
		mmgrab_tracked(c->mm, &c->k[0], "k0");
		break;
	case 1:
		mmgrab_tracked(c->mm, &c->k[1], "k1");
		if (!c->grow)
			mmdrop_tracked(c->mm, &c->k[1], "k1");
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
	if (mm_count_read(c->mm) != 2 + c->held + c->grow)
		explore_report_failure("mm_count %d", mm_count_read(c->mm));
	/* Growing: one table added; the loser of the CAS on next freed its own. */
	if (c->grow && mm_holders_slots(c->mm) != 2 * MM_HOLDER_SLOTS + 1)
		explore_report_failure("%d slots", mm_holders_slots(c->mm));
	mmdrop_tracked(c->mm, &c->k[0], "k0");
	if (c->grow)
		mmdrop_tracked(c->mm, &c->k[1], "k1");
	for (int i = 0; i < c->held; i++)
		mmdrop_tracked(c->mm, &c->filler[i], "filler");
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

/* The same ABA in the second table of the chain, the first one all busy. */
TEST(holders_aba_in_chained_table_explored)
{
	static struct aba_ctx c = {.held = MM_HOLDER_SLOTS - 2};
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
	o.runs = RUNS(300);
	aba_run(&t, &o, "holders_aba chained random");
}

/*
 * Every slot busy: two getters of new holders both allocate a table and
 * race on the CAS of next, a reader lists meanwhile. Whatever the order:
 * one table is chained (the loser frees its own and uses the winner's),
 * both holders are listed once, nothing in the overflow.
 */
TEST(holders_chain_growth_race_explored)
{
	static struct aba_ctx c = {.held = MM_HOLDER_SLOTS - 2, .grow = true};

	aba_explore(&c, "holders_grow", 300, 3);
}
