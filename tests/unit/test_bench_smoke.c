// SPDX-License-Identifier: MIT
/*
 * The benchmarks still work: every case of bench/ runs once at a tiny size
 * (bench_smoke), with the data checks it does under `make bench`, and
 * nothing leaks. Nothing is timed here: the printed numbers are meaningless.
 */
#include "../../bench/bench_hmm.h"
#include "../../bench/bench_mm.h"
#include "../../bench/bench_notifier.h"
#include "../../bench/bench_scale.h"
#include "../../bench/bench_swap.h"
#include "../../bench/bench_thp.h"
#include "testutil.h"

static void smoke_setup(void)
{
	bench_smoke = true;
	MM_TEST_SETUP();
}

TEST(bench_smoke_mm)
{
	smoke_setup();
	bench_mm_all();
}

TEST(bench_smoke_notifier)
{
	smoke_setup();
	bench_notifier_all();
}

TEST(bench_smoke_hmm)
{
	smoke_setup();
	bench_hmm_all();
}

TEST(bench_smoke_swap)
{
	smoke_setup();
	bench_swap_all();
}

TEST(bench_smoke_scale)
{
	smoke_setup();
	bench_scale_range();
	bench_scale_exit(1UL << 20);
	bench_scale_metadata();
}

TEST(bench_smoke_thp)
{
	smoke_setup();
	bench_thp_all();
}
