// SPDX-License-Identifier: MIT
/*
 * Threads: see base/thread.h. The explorer's hooks (sched_explore_thread_*)
 * make a thread created under a run a controlled one.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/debug.h"
#include "base/lock.h"
#include "base/sched_explore.h"
#include "base/thread.h"
#include "secmmu/trace.h"

_Atomic int sm_threads_uncontrolled;

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
