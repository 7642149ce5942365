/* SPDX-License-Identifier: MIT */
/*
 * The switches of the bug museum (include/secmmu/bugs.h), for the code paths
 * that carry one:
 *
 *	if (historic_bug(BUG_GRU_FAULT_NO_RETRY))
 *		... the old behaviour ...
 *
 * The table of names and stories is in base/bugs.c, in enum order.
 */
#ifndef SECMMU_BASE_BUGS_H
#define SECMMU_BASE_BUGS_H

#include <stdatomic.h>
#include <stdbool.h>

enum historic_bug {
	BUG_SVA_BOND_MM_USERS,	/* seed 002 */
	BUG_PREREG_AT_MMDROP,	/* seed 000 */
	BUG_GRU_FAULT_NO_RETRY, /* seed 004's collision-retry rule, broken */
	NR_HISTORIC_BUGS,
};

/* Bit @b set: bug @b is back. Written rarely (before the first mm), read relaxed. */
extern _Atomic unsigned long historic_bugs_on;

static inline bool historic_bug(enum historic_bug b)
{
	return __builtin_expect(
		(atomic_load_explicit(&historic_bugs_on, memory_order_relaxed) >> b) & 1, 0);
}

#endif /* SECMMU_BASE_BUGS_H */
