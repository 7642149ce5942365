// SPDX-License-Identifier: MIT
/* bench/notifier.c - the notifier benchmarks (bench/bench_notifier.h); see docs/performance.md. */
#include "bench_notifier.h"

int main(int argc, char **argv)
{
	bench_init(argc, argv);
	bench_notifier_all();
	return 0;
}
