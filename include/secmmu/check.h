/* SPDX-License-Identifier: MIT */
/*
 * Invariant checks of the primary MMU, for `check` and for tests.
 *
 * Run them when the system is quiet (no fault, reclaim or device transfer in
 * flight); they take each mm's mmap_lock and page-table lock in turn, so
 * they are safe at any time, but a concurrent change can make a count look
 * wrong for an instant.
 */
#ifndef SECMMU_CHECK_H
#define SECMMU_CHECK_H

#include "secmmu/compiler.h"
#include <stdarg.h>

SECMMU_BEGIN_DECLS

typedef void (*check_report_fn)(void *arg, const char *fmt, va_list ap);

/**
 * mm_check_invariants() - verify the frame and swap bookkeeping
 *
 * Every frame's map count equals the number of PTEs (in every live mm) that
 * map it; its reference count covers its mappings and pins; every swap
 * slot's count equals the swap entries (PTEs and shared-memory objects)
 * that refer to it; frames in use plus free frames are all frames. (Stale
 * translations a device used are counted by phys_stale_count(), which the
 * caller compares with its own starting value.) Each broken rule is reported through
 * @report, naming the frame, slot or mm. May sleep.
 * Return: the number of problems found.
 */
unsigned long mm_check_invariants(check_report_fn report, void *arg);

/**
 * secmmu_rule_violations() - rules of the secondary-MMU contract that the
 * core saw broken while it ran (a ->release called twice, an
 * invalidate_range_end without its start, an empty or oversized
 * invalidation, ...; see sm_rule_broken() in src/base/debug.c)
 * @first:  if non-NULL, receives the first violation's message (NUL-terminated)
 * @len:    size of @first
 *
 * Counted since the process started; the caller compares with its own
 * starting value (the scenario runner's `check` does). Any context.
 * Return: the number of violations so far.
 */
unsigned long secmmu_rule_violations(char *first, unsigned long len);

/* The next violation's message becomes the "first" one (a new run begins; no violation in flight).
 */
void secmmu_rule_violations_forget_first(void);

SECMMU_END_DECLS

#endif /* SECMMU_CHECK_H */
