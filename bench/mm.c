// SPDX-License-Identifier: MIT
/* bench/mm.c - the mm benchmarks (bench/bench_mm.h); see docs/performance.md. */
#include "bench_mm.h"

int main(int argc, char **argv)
{
	bench_init(argc, argv);
	bench_mm_all();
	return 0;
}
