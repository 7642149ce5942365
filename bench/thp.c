// SPDX-License-Identifier: MIT
/* bench/thp.c - the transparent-huge-page benchmarks (bench/bench_thp.h). */
#include "bench_thp.h"

int main(int argc, char **argv)
{
	bench_init(argc, argv);
	bench_thp_all();
	return 0;
}
