// SPDX-License-Identifier: MIT
/*
 * Threads: see base/thread.h. The explorer's hooks (sched_explore_thread_*)
 * make a thread created under a run a controlled one.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "base/debug.h"
#include "base/lock.h"
#include "base/sched_explore.h"
#include "base/thread.h"
#include "secmmu/trace.h"

_Atomic int sm_threads_uncontrolled;

/* ---- thread slots (base/thread.h) ---- */

SM_THREAD_TLS unsigned int sm_thread_slot_plus1;
/* Bit i set: slot i is owned by a live thread. */
static _Atomic uint64_t slot_map;
static pthread_key_t slot_key;
static pthread_once_t slot_once = PTHREAD_ONCE_INIT;

_Static_assert(SM_THREAD_SLOTS == 64, "slot_map is one 64-bit word");

static void slot_release(void *unused)
{
	unsigned int s = sm_thread_slot_plus1;

	(void)unused;
	/* Whatever runs after this in the thread's exit uses no slot. */
	sm_thread_slot_plus1 = SM_THREAD_NO_SLOT;
	if (s == 0 || s == SM_THREAD_NO_SLOT)
		return;
	/* Release: the next owner sees every count this thread stored. */
	atomic_fetch_and_explicit(&slot_map, ~(1ull << (s - 1)), memory_order_release);
}

static void slot_key_create(void)
{
	BUG_ON(pthread_key_create(&slot_key, slot_release));
}

unsigned int sm_thread_slot_claim(void)
{
	uint64_t map;
	unsigned int i;

	pthread_once(&slot_once, slot_key_create);
	map = atomic_load_explicit(&slot_map, memory_order_relaxed);
	for (;;) {
		if (map == ~0ull) {
			sm_thread_slot_plus1 = SM_THREAD_NO_SLOT;
			return SM_THREAD_NO_SLOT;
		}
		i = (unsigned int)__builtin_ctzll(~map);
		/* Acquire: pairs with the release of the slot's previous owner. */
		if (atomic_compare_exchange_weak_explicit(&slot_map, &map, map | (1ull << i),
							  memory_order_acquire,
							  memory_order_relaxed))
			break;
	}
	sm_thread_slot_plus1 = i + 1;
	/* Any non-NULL value makes slot_release() run at thread exit. */
	pthread_setspecific(slot_key, (void *)1);
	return i + 1;
}

static void *sm_thread_main(void *arg)
{
	struct sm_thread *t = arg;
	char os_name[16];
	void *ret;

	memcpy(os_name, t->name, sizeof(os_name) - 1);
	os_name[sizeof(os_name) - 1] = '\0';
	pthread_setname_np(pthread_self(), os_name);
	if (t->ex)
		sched_explore_thread_start(t->ex);
	trace_thread_name("%s", t->name);
	ret = t->fn(t->arg);
	if (t->ex)
		sched_explore_thread_exit(t->ex);
	return ret;
}

int sm_thread_create(struct sm_thread *t, void *(*fn)(void *arg), void *arg, const char *name, ...)
{
	va_list ap;
	int ret;

	va_start(ap, name);
	vsnprintf(t->name, sizeof(t->name), name, ap);
	va_end(ap);
	t->fn = fn;
	t->arg = arg;
	t->started = false;
	t->ex = sched_explore_thread_created(t->name);
	ret = -pthread_create(&t->pt, NULL, sm_thread_main, t);
	if (ret) {
		if (t->ex)
			sched_explore_thread_abandon(t->ex);
		t->ex = NULL;
		return ret;
	}
	t->started = true;
	if (!t->ex)
		atomic_fetch_add(&sm_threads_uncontrolled, 1);
	return 0;
}

void *sm_thread_join(struct sm_thread *t)
{
	void *ret = NULL;

	BUG_ON(!t->started);
	BUG_ON(sm_thread_is_current(t));
	might_sleep();
	if (t->ex)
		sched_explore_join(t->ex);
	BUG_ON(pthread_join(t->pt, &ret));
	if (!t->ex)
		atomic_fetch_sub(&sm_threads_uncontrolled, 1);
	t->started = false;
	t->ex = NULL;
	return ret;
}

bool sm_thread_is_current(const struct sm_thread *t)
{
	return t->started && pthread_equal(t->pt, pthread_self());
}
