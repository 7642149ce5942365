/* SPDX-License-Identifier: MIT */
/*
 * bench.h - the measuring harness shared by the bench programs and by the smoke test
 * (tests/unit/test_bench_smoke.c).
 *
 * A benchmark case is two functions with the same signature,
 *
 *	uint64_t ours(void *arg);   one repetition of our implementation
 *	uint64_t ref(void *arg);    one repetition of the reference
 *
 * each doing its own (untimed) setup, the timed work, then its own check of
 * the data (BENCH_CHECK aborts the run with a message when wrong), and
 * returning the nanoseconds of the timed part only. bench_case() runs one
 * warm-up of each, then BENCH_REPS repetitions alternating ours/ref, and
 * prints the medians divided by the number of operations:
 *
 *	bench NAME ours=NS ref=NS ratio=R
 *
 * bench_smoke (set by BENCH_SMOKE=1 or by the smoke test) makes every case
 * run once at a tiny size: it proves the code still works, it measures
 * nothing.
 */
#ifndef SECMMU_BENCH_H
#define SECMMU_BENCH_H

#include <errno.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "secmmu/page.h"

#define BENCH_REPS	 7
#define BENCH_PHYS_BYTES (512UL << 20)
#define BENCH_BASE	 0x10000000UL

static bool bench_smoke __attribute__((unused));

#define BENCH_CHECK(cond, ...)                                                                     \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "bench: %s:%d: check failed: %s: ", __FILE__, __LINE__,    \
				#cond);                                                            \
			fprintf(stderr, __VA_ARGS__);                                              \
			fprintf(stderr, "\n");                                                     \
			fflush(stderr);                                                            \
			exit(1);                                                                   \
		}                                                                                  \
	} while (0)

/*
 * CPU placement of a benchmark's threads. A thread inherits its creator's
 * CPU mask, so a library thread (a device's DMA engine) started while its
 * creator is pinned to a CPU stays there. Pinning takes the scheduler's
 * placement out of the figures: left free, where a submitter and its
 * engine landed moved one thread's throughput 2x from run to run on a
 * 2-vCPU VM (docs/performance.md).
 */

/*
 * The CPU for thread @k of @n: the k-th CPU the process may run on (its CPU
 * mask at the first call, before any pinning), or -1 (do not pin: fewer
 * such CPUs than threads). Called by the main thread only.
 */
static inline int bench_cpu(int k, int n)
{
	static int cpus[CPU_SETSIZE], ncpus = -1;

	if (ncpus < 0) {
		cpu_set_t set;

		ncpus = 0;
		if (!sched_getaffinity(0, sizeof(set), &set))
			for (int c = 0; c < CPU_SETSIZE; c++)
				if (CPU_ISSET(c, &set))
					cpus[ncpus++] = c;
	}
	return ncpus >= n ? cpus[k] : -1;
}

/* Run the calling thread on @cpu only (nothing if @cpu < 0). */
static inline void bench_pin_self(int cpu)
{
	cpu_set_t set;

	if (cpu < 0)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	BENCH_CHECK(!sched_setaffinity(0, sizeof(set), &set), "sched_setaffinity(%d)", cpu);
}

static inline void bench_affinity_save(cpu_set_t *set)
{
	BENCH_CHECK(!sched_getaffinity(0, sizeof(*set), set), "sched_getaffinity");
}

static inline void bench_affinity_restore(const cpu_set_t *set)
{
	BENCH_CHECK(!sched_setaffinity(0, sizeof(*set), set), "sched_setaffinity");
}

static inline uint64_t bench_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* Pick the full or the smoke size. */
static inline unsigned long bench_size(unsigned long full, unsigned long smoke)
{
	return bench_smoke ? smoke : full;
}

static inline int bench_cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static inline uint64_t bench_median(uint64_t *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), bench_cmp_u64);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

typedef uint64_t (*bench_fn)(void *arg);

/* Run one case and print its line. @nops: operations per repetition. */
static inline void bench_case(const char *name, bench_fn ours, bench_fn ref, void *arg,
			      unsigned long nops)
{
	int reps = bench_smoke ? 1 : BENCH_REPS;
	uint64_t o[BENCH_REPS], r[BENCH_REPS];
	double on, rn;

	if (!bench_smoke) { /* warm-up */
		ours(arg);
		ref(arg);
	}
	for (int i = 0; i < reps; i++) {
		/* Alternate which side goes first, so neither always runs warm. */
		if (i % 2) {
			r[i] = ref(arg);
			o[i] = ours(arg);
		} else {
			o[i] = ours(arg);
			r[i] = ref(arg);
		}
	}
	on = (double)bench_median(o, reps) / (double)nops;
	rn = (double)bench_median(r, reps) / (double)nops;
	printf("bench %s ours=%.1f ref=%.1f ratio=%.3f\n", name, on, rn, rn > 0 ? on / rn : 0.0);
	fflush(stdout);
}

/* Median of @reps runs of one function, in ns per operation (scaling tables). */
static inline double bench_measure(bench_fn fn, void *arg, unsigned long nops)
{
	int reps = bench_smoke ? 1 : BENCH_REPS;
	uint64_t v[BENCH_REPS];

	if (!bench_smoke)
		fn(arg);
	for (int i = 0; i < reps; i++)
		v[i] = fn(arg);
	return (double)bench_median(v, reps) / (double)nops;
}

/*
 * Options of a bench binary: --smoke (as BENCH_SMOKE=1) and --help; anything
 * else is refused with the usage and exit status 2.
 */
static inline void bench_parse_args(int argc, char **argv)
{
	const char *e = getenv("BENCH_SMOKE");

	if (e && *e && strcmp(e, "0"))
		bench_smoke = true;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--smoke")) {
			bench_smoke = true;
		} else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			printf("usage: %s [--smoke]\n  --smoke  run every case once at a tiny size "
			       "(also BENCH_SMOKE=1)\n",
			       argv[0]);
			exit(0);
		} else {
			fprintf(stderr, "%s: unknown option '%s'\nusage: %s [--smoke]\n", argv[0],
				argv[i], argv[0]);
			exit(2);
		}
	}
}

/* Parse the options, then phys_init(@bytes) (the smoke test has its own). */
static inline void bench_init_phys(int argc, char **argv, size_t bytes)
{
	int ret;

	bench_parse_args(argc, argv);
	ret = phys_init(bytes);
	BENCH_CHECK(ret == 0, "phys_init: %d", ret);
}

static inline void bench_init(int argc, char **argv)
{
	bench_init_phys(argc, argv, BENCH_PHYS_BYTES);
}

/* Every frame is back: nothing leaked by a case. */
static inline void bench_check_no_leak(const char *name)
{
	unsigned long used = phys_used_frames();

	BENCH_CHECK(used == 0, "%s leaked %lu frames", name, used);
}

#endif /* SECMMU_BENCH_H */
