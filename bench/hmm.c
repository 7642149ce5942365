// SPDX-License-Identifier: MIT
/* bench/hmm.c - the hmm benchmarks (bench/bench_hmm.h); see docs/performance.md. */
#include "bench_hmm.h"

int main(int argc, char **argv)
{
	bench_init(argc, argv);
	bench_hmm_all();
	return 0;
}
