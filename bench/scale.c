// SPDX-License-Identifier: MIT
/*
 * bench/scale.c - the scaling series of bench/bench_scale.h, plus the
 * explorer's throughput (`scale explore schedules_per_sec=X`): schedules per
 * second that explore_run() completes on a two-thread case, each thread
 * writing two pages of one mm (so every run goes through mmap_lock and the
 * page-table lock of both threads). See docs/performance.md.
 */
#include "bench_scale.h"
#include "base/sched_explore.h"

/* Simulated memory for the exit series: up to 4 GiB resident, plus slack. */
#define SCALE_EXIT_MAX	 (4UL << 30)
#define SCALE_PHYS_BYTES (SCALE_EXIT_MAX + (256UL << 20))

struct bs_explore_ctx {
	struct mm_struct *mm;
};

static void bs_explore_thread(unsigned int id, void *p)
{
	struct bs_explore_ctx *c = p;
	unsigned char b = (unsigned char)id;

	for (int i = 0; i < 2; i++)
		BENCH_CHECK(mm_write(c->mm, BENCH_BASE + (2 * id + (unsigned)i) * PAGE_SIZE, &b,
				     1) == 0,
			    "mm_write");
}

static void bench_scale_explore(void)
{
	struct bs_explore_ctx c;
	struct explore_test t = {
		.name = "scale_explore", .nr_threads = 2, .thread = bs_explore_thread, .ctx = &c};
	struct explore_opts o = {.strategy = EXPLORE_STRATEGY_RANDOM,
				 .seed = 1,
				 .runs = bench_size(5000, 10),
				 .keep_going = true};
	struct explore_result res;
	uint64_t t0, t1;
	int ret;

	c.mm = bmm_new_mm(4);
	t0 = bench_now();
	ret = explore_run(&t, &o, &res, NULL);
	t1 = bench_now();
	BENCH_CHECK(ret == 0 && res.runs == o.runs, "explore_run: %d, %lu runs", ret, res.runs);
	printf("scale explore threads=2 schedules_per_sec=%.0f\n",
	       (double)res.runs * 1e9 / (double)(t1 - t0));
	fflush(stdout);
	mmput(c.mm);
}

int main(int argc, char **argv)
{
	int ret;

	bench_parse_args(argc, argv);
	ret = phys_init(bench_smoke ? BENCH_PHYS_BYTES : SCALE_PHYS_BYTES);
	BENCH_CHECK(ret == 0, "phys_init: %d", ret);
	bench_scale_range();
	bench_scale_exit(bench_smoke ? (1UL << 20) : SCALE_EXIT_MAX);
	bench_scale_metadata();
	bench_scale_explore();
	bench_check_no_leak("scale");
	return 0;
}
