// SPDX-License-Identifier: MIT
/*
 * The torture program (tests/torture/torture.c) in short mode for make check:
 * TORTURE_S seconds (default 20), 4 threads, a time-derived seed printed on
 * failure, every operation including VFIO (test_regress_rcu_callback_mmdrop
 * holds the bug that once made VFIO abort the run) and the THP area
 * (test_regress_thp_split_lost_ref holds the bug that once made it abort most runs: a
 * folio split lost a speculative reference). `make torture` is the long run.
 */
#define main torture_main
#include "../torture/torture.c"
#undef main

#include "harness.h"

TEST(torture_short)
{
	char secs[32];
	const char *s = getenv("TORTURE_S");
	char *argv[] = {"torture", "--secs", secs, NULL};

	snprintf(secs, sizeof(secs), "%s", s && *s ? s : "20");
	if (torture_main(3, argv) != 0)
		FAIL("torture failed");
}
