// SPDX-License-Identifier: MIT
/*
 * The scenario runner under conditions scripts do not show (issue 19):
 * output that cannot be written, NUL bytes, and long scripts.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../harness.h"
#include "sim/sim.h"

/* Results nobody can read are no success (it used to exit 0). */
TEST(sim_output_write_error_is_not_success)
{
	FILE *out = fopen("/dev/full", "w");

	ASSERT_NOT_NULL(out);
	setvbuf(out, NULL, _IONBF, 0); /* every write fails at once */
	ASSERT_EQ(sim_run_text("mm p\nexit p\n", out), SIM_EXIT_MALFORMED);
	fclose(out);
}

/* A NUL byte used to end the line silently, expectation included. */
TEST(sim_nul_byte_is_malformed)
{
	static const char script[] = "mm p\nread p 0x10000000 4 => 00\0 rest\nexit p\n";
	FILE *in = fmemopen((void *)script, sizeof(script) - 1, "r");
	char buf[4096] = {0};
	FILE *out = fmemopen(buf, sizeof(buf) - 1, "w");

	ASSERT_NOT_NULL(in);
	ASSERT_NOT_NULL(out);
	ASSERT_EQ(sim_run_stream(in, out), SIM_EXIT_MALFORMED);
	fclose(out);
	fclose(in);
	ASSERT(strstr(buf, "2: error: NUL byte") != NULL);
}

/*
 * 100,000 lines of mm/exit reusing one name: each command costs O(1) in
 * the number of objects (a name index; ->sync only on objects that have
 * one). It took minutes when every command scanned every object ever made.
 */
TEST(sim_long_script_reuses_names)
{
	const int pairs = 50000;
	char *text = malloc((size_t)pairs * 16 + 1), *p = text;
	FILE *out = fopen("/dev/null", "w");

	ASSERT_NOT_NULL(text);
	ASSERT_NOT_NULL(out);
	for (int i = 0; i < pairs; i++)
		p += sprintf(p, "mm p\nexit p\n");
	ASSERT_EQ(sim_run_text(text, out), SIM_EXIT_OK);
	fclose(out);
	free(text);
}
