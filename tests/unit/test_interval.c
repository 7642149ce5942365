// SPDX-License-Identifier: MIT
/*
 * Interval notifiers: insert/remove, the invalidate_seq collision-retry
 * protocol (read_begin waits, read_retry detects), deferred inserts and
 * removes while an invalidation walks the tree, non-blocking refusal, and the
 * RELEASE invalidation at exit.
 *
 * The tests play the primary MMU by calling the invalidation hooks directly.
 */
/* White-box: reads the core's private sequence (SUB_SEQ below). */
#define SECMMU_NOTIFIER_CORE

#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <string.h>

#include "../harness.h"
#include "base/alloc.h"
#include "base/rcu.h"
#include "mm/mm_types.h"
#include "secmmu/mmu_notifier.h"
#include "secmmu/mmu_notifier_hooks.h"
#include "sync_util.h"
#include "testutil.h"

/* An interval subscription's sequence, white-box: the core's private storage. */
#define SUB_SEQ(sub) ((sub)->__core.invalidate_seq)

/* Physical memory and the leak check at teardown (tests/testutil.h). */
static void setup(void)
{
	MM_TEST_SETUP_BYTES(64 << 20);
}

/* ---- a test subscriber ---- */

struct isub {
	struct mmu_interval_notifier sub;
	struct sm_mutex lock; /* the driver lock around set_seq and retry */
	_Atomic int calls;
	_Atomic int releases;
	unsigned long last_seq;
	unsigned long last_start, last_end;
	enum mmu_notifier_event last_event;
	bool refuse_nonblock;
	/* blocking: the callback parks until released by the test (test_flag_*) */
	_Atomic bool block, parked, unpark;
};

static struct isub *to_isub(struct mmu_interval_notifier *sub)
{
	return container_of(sub, struct isub, sub);
}

static bool isub_invalidate(struct mmu_interval_notifier *sub,
			    const struct mmu_notifier_range *range, unsigned long cur_seq)
{
	struct isub *s = to_isub(sub);

	if (s->refuse_nonblock && !mmu_notifier_range_blockable(range))
		return false;
	sm_mutex_lock(&s->lock);
	mmu_interval_set_seq(sub, cur_seq);
	s->last_seq = cur_seq;
	s->last_start = range->start;
	s->last_end = range->end;
	s->last_event = range->event;
	if (range->event == MMU_NOTIFY_RELEASE)
		atomic_fetch_add(&s->releases, 1);
	atomic_fetch_add(&s->calls, 1);
	sm_mutex_unlock(&s->lock);
	if (atomic_load(&s->block)) {
		test_flag_set(&s->parked);
		test_flag_wait(&s->unpark);
	}
	return true;
}

static const struct mmu_interval_notifier_ops isub_ops = {.invalidate = isub_invalidate};

static void isub_init(struct isub *s)
{
	memset(s, 0, sizeof(*s));
	/* Taken in the invalidate callback, as a driver's table lock (mirror->lock). */
	sm_mutex_init(&s->lock, "isub->lock", LOCK_RANK_DRIVER_MMU);
}

static bool isub_retry(struct isub *s, unsigned long seq)
{
	bool r;

	sm_mutex_lock(&s->lock);
	r = mmu_interval_read_retry(&s->sub, seq);
	sm_mutex_unlock(&s->lock);
	return r;
}

static void range_init(struct mmu_notifier_range *range, struct mm_struct *mm, unsigned long start,
		       unsigned long end)
{
	mmu_notifier_range_init(range, MMU_NOTIFY_CLEAR, 0, mm, start, end);
}

static void invalidate(struct mm_struct *mm, unsigned long start, unsigned long end)
{
	struct mmu_notifier_range range;

	range_init(&range, mm, start, end);
	mmu_notifier_invalidate_range_start(&range);
	mmu_notifier_invalidate_range_end(&range);
}

/* An invalidation on its own thread, so the test can act while it runs. */
struct inv_thread {
	struct sm_thread t;
	struct mm_struct *mm;
	unsigned long start, end;
	_Atomic bool started, hold, ended;
	struct mmu_notifier_range range;
};

static void *inv_thread_fn(void *arg)
{
	struct inv_thread *it = arg;

	range_init(&it->range, it->mm, it->start, it->end);
	mmu_notifier_invalidate_range_start(&it->range);
	test_flag_set(&it->started);
	sm_wait_var_event(&it->hold, !atomic_load(&it->hold));
	atomic_store(&it->ended, true);
	mmu_notifier_invalidate_range_end(&it->range);
	return NULL;
}

/* Start an invalidation of [start, end) that stays open until inv_release(). */
static void inv_begin(struct inv_thread *it, struct mm_struct *mm, unsigned long start,
		      unsigned long end)
{
	memset(it, 0, sizeof(*it));
	it->mm = mm;
	it->start = start;
	it->end = end;
	it->hold = true;
	ASSERT_EQ(sm_thread_create(&it->t, inv_thread_fn, it, "invalidate"), 0);
}

static void inv_wait_started(struct inv_thread *it)
{
	test_flag_wait(&it->started);
}

static void inv_release(struct inv_thread *it)
{
	atomic_store(&it->hold, false);
	sm_wake_up_var(&it->hold); /* Pairs with the wait in inv_thread_fn(). */
	sm_thread_join(&it->t);
}

/* read_begin on its own thread, to observe that it waits. */
struct reader {
	struct sm_thread t;
	struct isub *s;
	unsigned long seq;
	_Atomic bool done;
};

static void *reader_fn(void *arg)
{
	struct reader *r = arg;

	r->seq = mmu_interval_read_begin(&r->s->sub);
	atomic_store(&r->done, true);
	return NULL;
}

static void reader_start(struct reader *r, struct isub *s)
{
	memset(r, 0, sizeof(*r));
	r->s = s;
	ASSERT_EQ(sm_thread_create(&r->t, reader_fn, r, "read_begin"), 0);
}

/* ---- tests ---- */

TEST(interval_insert_validates_and_counts)
{
	struct mm_struct *mm;
	struct isub s;

	setup();
	mm = mm_alloc();
	isub_init(&s);
	/* An empty or wrapping range: -EOVERFLOW, as Linux. */
	ASSERT_EQ(mmu_interval_notifier_insert(&s.sub, mm, 0x10000, 0, &isub_ops), -EOVERFLOW);
	ASSERT_EQ(mmu_interval_notifier_insert(&s.sub, mm, ULONG_MAX - PAGE_SIZE, 2 * PAGE_SIZE,
					       &isub_ops),
		  -EOVERFLOW);
	ASSERT(!mm_has_notifiers(mm)); /* nothing allocated for a bad argument */
	ASSERT_EQ(mm_count_read(mm), 1);

	ASSERT_EQ(mmu_interval_notifier_insert(&s.sub, mm, 0x10000, 0x4000, &isub_ops), 0);
	ASSERT_UEQ(s.sub.start, 0x10000);
	ASSERT_UEQ(s.sub.last, 0x13fff);
	ASSERT_PTR_EQ(s.sub.mm, mm);
	ASSERT_EQ(mm_count_read(mm), 2);    /* Pairs with the mmdrop in remove. */
	ASSERT_UEQ(SUB_SEQ(&s.sub) & 1, 1); /* always odd */
	mmu_interval_notifier_remove(&s.sub);
	ASSERT_EQ(mm_count_read(mm), 1);
	mmput(mm);
}

TEST(interval_insert_locked_and_enomem)
{
	struct mm_struct *mm;
	struct isub s;

	setup();
	mm = mm_alloc();
	isub_init(&s);
	fault_inject_alloc(1);
	ASSERT_EQ(mmu_interval_notifier_insert(&s.sub, mm, 0x10000, 0x1000, &isub_ops), -ENOMEM);
	ASSERT(!mm_has_notifiers(mm));
	ASSERT_EQ(mm_count_read(mm), 1);
	mmap_write_lock(mm);
	ASSERT_EQ(mmu_interval_notifier_insert_locked(&s.sub, mm, 0x10000, 0x1000, &isub_ops), 0);
	mmap_write_unlock(mm);
	invalidate(mm, 0x10000, 0x11000);
	ASSERT_EQ(s.calls, 1);
	mmu_interval_notifier_remove(&s.sub);
	mmput(mm);
}

TEST(interval_only_overlapping_are_called)
{
	struct mm_struct *mm;
	struct isub a, b;

	setup();
	mm = mm_alloc();
	isub_init(&a);
	isub_init(&b);
	ASSERT_EQ(mmu_interval_notifier_insert(&a.sub, mm, 0x10000, 0x1000, &isub_ops), 0);
	ASSERT_EQ(mmu_interval_notifier_insert(&b.sub, mm, 0x20000, 0x1000, &isub_ops), 0);
	invalidate(mm, 0x10000, 0x11000);
	ASSERT_EQ(a.calls, 1);
	ASSERT_EQ(b.calls, 0);
	ASSERT_UEQ(a.last_start, 0x10000);
	ASSERT_UEQ(a.last_end, 0x11000);
	ASSERT_UEQ(a.last_seq & 1, 1);
	invalidate(mm, 0x11000, 0x20000); /* touches neither: end is exclusive */
	ASSERT_EQ(a.calls + b.calls, 1);
	invalidate(mm, 0x10fff & PAGE_MASK, 0x21000);
	ASSERT_EQ(a.calls, 2);
	ASSERT_EQ(b.calls, 1);
	mmu_interval_notifier_remove(&a.sub);
	mmu_interval_notifier_remove(&b.sub);
	mmput(mm);
}

TEST(interval_read_retry_detects_invalidation)
{
	struct mm_struct *mm;
	unsigned long seq;
	struct isub s;

	setup();
	mm = mm_alloc();
	isub_init(&s);
	ASSERT_EQ(mmu_interval_notifier_insert(&s.sub, mm, 0x10000, 0x1000, &isub_ops), 0);
	seq = mmu_interval_read_begin(&s.sub);
	ASSERT(!isub_retry(&s, seq));
	invalidate(mm, 0x30000, 0x31000); /* elsewhere */
	ASSERT(!isub_retry(&s, seq));
	invalidate(mm, 0x10000, 0x11000);
	ASSERT(isub_retry(&s, seq));
	ASSERT(mmu_interval_check_retry(&s.sub, seq));
	seq = mmu_interval_read_begin(&s.sub);
	ASSERT(!isub_retry(&s, seq));
	mmu_interval_notifier_remove(&s.sub);
	mmput(mm);
}

TEST(interval_read_begin_waits_for_overlapping_invalidation)
{
	struct inv_thread it;
	struct mm_struct *mm;
	struct reader rd;
	unsigned long seq;
	struct isub s;

	setup();
	mm = mm_alloc();
	isub_init(&s);
	ASSERT_EQ(mmu_interval_notifier_insert(&s.sub, mm, 0x10000, 0x1000, &isub_ops), 0);

	inv_begin(&it, mm, 0x10000, 0x11000);
	inv_wait_started(&it);
	ASSERT_EQ(s.calls, 1);
	reader_start(&rd, &s);
	sm_delay_us(50000);		/* time to collide; if late, nothing is proven */
	ASSERT(!atomic_load(&rd.done)); /* collides: waits for _end */
	inv_release(&it);
	sm_thread_join(&rd.t);
	ASSERT(atomic_load(&rd.done));
	ASSERT(!isub_retry(&s, rd.seq)); /* nothing began since */

	/* A non-overlapping invalidation does not make readers wait. */
	inv_begin(&it, mm, 0x40000, 0x41000);
	inv_wait_started(&it);
	seq = mmu_interval_read_begin(&s.sub);
	ASSERT(!isub_retry(&s, seq));
	inv_release(&it);
	ASSERT(!isub_retry(&s, seq));
	mmu_interval_notifier_remove(&s.sub);
	mmput(mm);
}

TEST(interval_seq_sampled_before_callback_still_retries)
{
	struct inv_thread it;
	struct mm_struct *mm;
	unsigned long seq;
	struct isub a, b;

	setup();
	mm = mm_alloc();
	isub_init(&a);
	isub_init(&b);
	/* a is walked first (lower start) and parks: b's callback has not run yet. */
	ASSERT_EQ(mmu_interval_notifier_insert(&a.sub, mm, 0x10000, 0x1000, &isub_ops), 0);
	ASSERT_EQ(mmu_interval_notifier_insert(&b.sub, mm, 0x11000, 0x1000, &isub_ops), 0);
	a.block = true;
	memset(&it, 0, sizeof(it));
	it.mm = mm;
	it.start = 0x10000;
	it.end = 0x12000;
	ASSERT_EQ(sm_thread_create(&it.t, inv_thread_fn, &it, "invalidate"), 0);
	test_flag_wait(&a.parked);
	seq = mmu_interval_read_begin(&b.sub); /* does not wait: b's seq is old */
	ASSERT(!isub_retry(&b, seq));	       /* not yet ... */
	test_flag_set(&a.unpark);
	sm_thread_join(&it.t);
	ASSERT_EQ(b.calls, 1);
	ASSERT(isub_retry(&b, seq)); /* ... but the callback that came after makes it retry */
	mmu_interval_notifier_remove(&a.sub);
	mmu_interval_notifier_remove(&b.sub);
	mmput(mm);
}

TEST(interval_insert_during_invalidation_is_deferred)
{
	struct inv_thread it;
	struct mm_struct *mm;
	struct reader rd;
	struct isub a, b;

	setup();
	mm = mm_alloc();
	isub_init(&a);
	isub_init(&b);
	ASSERT_EQ(mmu_interval_notifier_insert(&a.sub, mm, 0x10000, 0x1000, &isub_ops), 0);
	/* The walk parks in a's callback, before reaching where b will go. */
	a.block = true;
	memset(&it, 0, sizeof(it));
	it.mm = mm;
	it.start = 0x10000;
	it.end = 0x20000;
	ASSERT_EQ(sm_thread_create(&it.t, inv_thread_fn, &it, "invalidate"), 0);
	test_flag_wait(&a.parked);

	/* b overlaps the running invalidation: the tree being walked must not change ... */
	ASSERT_EQ(mmu_interval_notifier_insert(&b.sub, mm, 0x18000, 0x1000, &isub_ops), 0);
	ASSERT_UEQ(SUB_SEQ(&b.sub) & 1, 1);
	ASSERT_EQ(mm_count_read(mm), 3);
	/* ... and a reader of b must wait for the end of what b was not told about. */
	reader_start(&rd, &b);
	sm_delay_us(50000); /* time to collide; if late, nothing is proven */
	ASSERT(!atomic_load(&rd.done));
	test_flag_set(&a.unpark);
	sm_thread_join(&it.t);
	sm_thread_join(&rd.t);
	ASSERT_EQ(b.calls, 0); /* the resumed walk did not find it */

	/* Applied at the end: the next invalidation reaches b. */
	a.block = false;
	invalidate(mm, 0x18000, 0x19000);
	ASSERT_EQ(b.calls, 1);
	ASSERT(isub_retry(&b, rd.seq));
	mmu_interval_notifier_remove(&a.sub);
	mmu_interval_notifier_remove(&b.sub);
	mmput(mm);
}

TEST(interval_insert_during_nonoverlapping_invalidation_waits_readers)
{
	struct inv_thread it;
	struct mm_struct *mm;
	struct reader rd;
	struct isub b;

	setup();
	mm = mm_alloc();
	isub_init(&b);
	/* Enable the itree first with an unrelated interval. */
	ASSERT_EQ(mmu_interval_notifier_insert(&b.sub, mm, 0x90000, 0x1000, &isub_ops), 0);
	mmu_interval_notifier_remove(&b.sub);
	/* An invalidation overlapping no interval is running ... */
	inv_begin(&it, mm, 0x10000, 0x20000);
	inv_wait_started(&it);
	/* ... when b is inserted over its range: b cannot trust the table yet. */
	isub_init(&b);
	ASSERT_EQ(mmu_interval_notifier_insert(&b.sub, mm, 0x10000, 0x1000, &isub_ops), 0);
	reader_start(&rd, &b);
	sm_delay_us(50000); /* time to collide; if late, nothing is proven */
	ASSERT(!atomic_load(&rd.done));
	inv_release(&it);
	sm_thread_join(&rd.t);
	mmu_interval_notifier_remove(&b.sub);
	mmput(mm);
}

struct remover {
	struct sm_thread t;
	struct isub *s;
	_Atomic bool done;
};

static void *remover_fn(void *arg)
{
	struct remover *r = arg;

	mmu_interval_notifier_remove(&r->s->sub);
	atomic_store(&r->done, true);
	return NULL;
}

TEST(interval_remove_during_invalidation_waits)
{
	struct remover rm;
	struct mm_struct *mm;
	struct inv_thread it;
	struct isub a;

	setup();
	mm = mm_alloc();
	isub_init(&a);
	ASSERT_EQ(mmu_interval_notifier_insert(&a.sub, mm, 0x10000, 0x1000, &isub_ops), 0);
	a.block = true;
	memset(&it, 0, sizeof(it));
	it.mm = mm;
	it.start = 0x10000;
	it.end = 0x11000;
	ASSERT_EQ(sm_thread_create(&it.t, inv_thread_fn, &it, "invalidate"), 0);
	test_flag_wait(&a.parked);

	/* a's own callback is running: remove must not return before it has. */
	memset(&rm, 0, sizeof(rm));
	rm.s = &a;
	ASSERT_EQ(sm_thread_create(&rm.t, remover_fn, &rm, "remover"), 0);
	sm_delay_us(50000); /* time to collide; if late, nothing is proven */
	ASSERT(!atomic_load(&rm.done));
	ASSERT_EQ(mm_count_read(mm), 2);
	test_flag_set(&a.unpark);
	sm_thread_join(&it.t);
	sm_thread_join(&rm.t);
	ASSERT_EQ(mm_count_read(mm), 1);
	/* Gone from the tree. */
	invalidate(mm, 0x10000, 0x11000);
	ASSERT_EQ(a.calls, 1);
	mmput(mm);
}

TEST(interval_insert_then_remove_while_deferred)
{
	struct inv_thread it;
	struct mm_struct *mm;
	struct isub a, b;

	setup();
	mm = mm_alloc();
	isub_init(&a);
	isub_init(&b);
	ASSERT_EQ(mmu_interval_notifier_insert(&a.sub, mm, 0x10000, 0x1000, &isub_ops), 0);
	inv_begin(&it, mm, 0x10000, 0x11000);
	inv_wait_started(&it);
	ASSERT_EQ(mmu_interval_notifier_insert(&b.sub, mm, 0x10000, 0x1000, &isub_ops), 0);
	ASSERT_EQ(mm_count_read(mm), 3);
	mmu_interval_notifier_remove(&b.sub); /* never visible: no wait */
	ASSERT_EQ(mm_count_read(mm), 2);
	ASSERT(!atomic_load(&it.ended));
	inv_release(&it);
	invalidate(mm, 0x10000, 0x11000);
	ASSERT_EQ(b.calls, 0);
	ASSERT_EQ(a.calls, 2);
	mmu_interval_notifier_remove(&a.sub);
	mmput(mm);
}

TEST(interval_nonblock_refusal_is_eagain_and_ends)
{
	struct mmu_notifier_range range;
	struct mm_struct *mm;
	unsigned long seq;
	struct isub a;

	setup();
	mm = mm_alloc();
	isub_init(&a);
	a.refuse_nonblock = true;
	ASSERT_EQ(mmu_interval_notifier_insert(&a.sub, mm, 0x10000, 0x1000, &isub_ops), 0);
	range_init(&range, mm, 0x10000, 0x11000);
	ASSERT_EQ(mmu_notifier_invalidate_range_start_nonblock(&range), -EAGAIN);
	/* No _end will come; the interval side is idle again. */
	seq = mmu_interval_read_begin(&a.sub);
	ASSERT(!isub_retry(&a, seq));
	mmu_interval_notifier_remove(&a.sub); /* would wait forever if still odd */
	mmput(mm);
}

TEST(interval_release_at_exit_then_remove)
{
	struct mm_struct *mm;
	struct isub a, b;

	setup();
	mm = mm_alloc();
	isub_init(&a);
	isub_init(&b);
	ASSERT_EQ(mmu_interval_notifier_insert(&a.sub, mm, 0x10000, 0x1000, &isub_ops), 0);
	ASSERT_EQ(mmu_interval_notifier_insert(&b.sub, mm, 0x7f0000000000UL, 0x1000, &isub_ops), 0);
	mmput(mm); /* exit; the subscriptions keep the struct */
	ASSERT_EQ(a.releases, 1);
	ASSERT_EQ(b.releases, 1);
	ASSERT_EQ(a.last_event, MMU_NOTIFY_RELEASE);
	ASSERT_UEQ(a.last_start, 0);
	ASSERT_UEQ(a.last_end, ULONG_MAX);
	ASSERT_EQ(mm_count_read(mm), 2);
	mmu_interval_notifier_remove(&a.sub);
	mmu_interval_notifier_remove(&b.sub); /* the last mmdrop */
}
