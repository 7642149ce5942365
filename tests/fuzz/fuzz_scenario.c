// SPDX-License-Identifier: MIT
/*
 * libFuzzer harness A: the bytes are a scenario script, run through
 * sim_run_stream() -- the entry point of `secmmu run -`. The run must not
 * crash, hang or leak (ASan/UBSan, libFuzzer -timeout), and must return 0, 1
 * or 2. Output goes to /dev/null.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "sim/sim.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static FILE *devnull;
	FILE *in;
	int rc;

	if (size > 4096)
		return 0;
	if (!devnull)
		devnull = fopen("/dev/null", "w");
	in = fmemopen((void *)data, size ? size : 1, "r");
	if (!in)
		return 0;
	if (!size) {
		fclose(in);
		return 0;
	}
	rc = sim_run_stream(in, devnull);
	fclose(in);
	if (rc != 0 && rc != 1 && rc != 2)
		abort();
	return 0;
}
