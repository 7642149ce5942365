// SPDX-License-Identifier: MIT
/* bench/swap.c - the swap benchmark (bench/bench_swap.h); see docs/performance.md. */
#include "bench_swap.h"

int main(int argc, char **argv)
{
	bench_init(argc, argv);
	bench_swap_all();
	return 0;
}
