/* SPDX-License-Identifier: MIT */
/*
 * Simulated signals, for interruptible waits (-EINTR paths).
 *
 * Each thread has a pending flag. sm_signal_self() returns a handle that
 * another thread (a test) passes to sm_signal() to interrupt the waits of
 * this thread, as a real signal interrupts mm_take_all_locks().
 */
#ifndef SECMMU_BASE_SIGNAL_H
#define SECMMU_BASE_SIGNAL_H

#include <stdatomic.h>
#include <stdbool.h>

#include "base/lock.h"

struct sm_sigstate {
	_Atomic bool pending;
};

struct sm_sigstate *sm_signal_self(void);
void sm_signal(struct sm_sigstate *target);
bool sm_signal_pending(void);
void sm_signal_clear(void);

/**
 * sm_down_write_killable() - take @l for write unless a signal is pending
 * Return: 0 with the lock held, or -EINTR.
 */
int sm_down_write_killable(struct sm_rwsem *l);

#endif /* SECMMU_BASE_SIGNAL_H */
