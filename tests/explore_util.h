/* SPDX-License-Identifier: MIT */
/*
 * tests/explore_util.h - what the interleaving tests share (test_interleave,
 * test_vma_lock): the run budget per build and the per-case report.
 */
#ifndef SECMMU_TESTS_EXPLORE_UTIL_H
#define SECMMU_TESTS_EXPLORE_UTIL_H

#include <stdio.h>

#include "base/sched_explore.h"
#include "harness.h"

/* TSan runs each schedule several times slower: a quarter of the runs. */
#if defined(__SANITIZE_THREAD__)
#define RUNS(n) ((n) / 4 + 1)
#else
#define RUNS(n) (n)
#endif

/* Print a case's statistics; every case runs entirely under control. */
static inline void report(const char *what, const struct explore_result *r)
{
	printf("%s: %lu runs, %lu choices (max %lu per run), %lu outside-control segments%s\n",
	       what, r->runs, r->choices, r->max_depth, r->outside,
	       r->complete ? ", bounded space exhausted" : "");
	ASSERT_UEQ(r->outside, 0);
}

#endif
