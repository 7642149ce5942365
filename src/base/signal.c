// SPDX-License-Identifier: MIT
#include <errno.h>
#include <time.h>

#include "base/sched_explore.h"
#include "base/signal.h"

static _Thread_local struct sm_sigstate self;

struct sm_sigstate *sm_signal_self(void)
{
	return &self;
}

void sm_signal(struct sm_sigstate *target)
{
	atomic_store(&target->pending, true);
}

bool sm_signal_pending(void)
{
	return atomic_load(&self.pending);
}

void sm_signal_clear(void)
{
	atomic_store(&self.pending, false);
}

int sm_down_write_killable(struct sm_rwsem *l)
{
	/*
	 * pthread rwlocks cannot be woken by our simulated signals, so poll with
	 * a short timed wait. The order check happens in sm_down_write_nested()
	 * semantics: do it once up front via a trylock-free path.
	 */
	/*
	 * A controlled thread under exploration must not wait where the
	 * explorer cannot see: the pending signal is checked once, then the
	 * explorer's blocking acquisition.
	 */
	if (sched_explore_on() && sched_explore_controlled()) {
		if (sm_signal_pending())
			return -EINTR;
		sm_down_write(l);
		return 0;
	}
	for (;;) {
		struct timespec ts;

		if (sm_signal_pending())
			return -EINTR;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 1000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		if (pthread_rwlock_timedwrlock(&l->rw, &ts) == 0)
			break;
	}
	/* Account the lock now that we have it; the rank check still applies. */
	sm_rwsem_note_acquired(l, HELD_WRITE);
	return 0;
}
