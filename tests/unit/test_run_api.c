// SPDX-License-Identifier: MIT
/*
 * The public scenario API (secmmu/run.h): secmmu_run_string() and
 * secmmu_run_file() run a script, report its status and counts, hand back
 * the result lines and the malformed-line errors, and refuse bad input
 * (NULL, unknown flags, a missing file, a directory) with nothing run.
 * Also the runner rules they share with `secmmu run`: an unknown command
 * suggests the nearest one, and JSON output is one object per command (a
 * failing `check` failing the run: test_sim_check).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../harness.h"
#include "secmmu/run.h"

static const char script[] = "mm p\n"
			     "mmap p 0x10000 4K rw private\n"
			     "write p 0x10000 0xabcd\n"
			     "# a comment, and a blank line\n"
			     "\n"
			     "read p 0x10000 2 => abcd\n"
			     "read p 0x10000 1 => ff\n";

TEST(run_string_counts_and_output)
{
	struct secmmu_run_result res;

	ASSERT_EQ(secmmu_run_string(script, 0, &res), 1);
	ASSERT_EQ(res.status, 1);
	ASSERT_UEQ(res.commands, 5);
	ASSERT_UEQ(res.expectations, 2);
	ASSERT_UEQ(res.failed, 1);
	ASSERT(strstr(res.output, "6: read p 0x10000 2 -> abcd\n"));
	ASSERT(strstr(res.output, "7: read p 0x10000 1 -> ab FAIL (expected ff)\n"));
	ASSERT(res.errors && !res.errors[0]);
	secmmu_run_result_free(&res);
	ASSERT(!res.output && !res.errors);
	secmmu_run_result_free(&res); /* twice is harmless */
	secmmu_run_result_free(NULL);
}

TEST(run_string_ok_and_null_result)
{
	ASSERT_EQ(secmmu_run_string("mm p\nrefs p => users=1 count=1\n", 0, NULL), 0);
	ASSERT_EQ(secmmu_run_string("", 0, NULL), 0);
}

TEST(run_string_malformed_line_goes_to_errors)
{
	struct secmmu_run_result res;

	ASSERT_EQ(secmmu_run_string("mm p\nmmapp p 0 4K rw private\nmm q\n", 0, &res), 2);
	ASSERT_UEQ(res.commands, 1); /* the run stops at the malformed line */
	ASSERT(!strcmp(res.errors,
		       "string:2: error: unknown command 'mmapp' (did you mean 'mmap'?)\n"));
	ASSERT(!strstr(res.output, "error"));
	secmmu_run_result_free(&res);
}

TEST(run_string_json_one_object_per_command)
{
	struct secmmu_run_result res;
	const char *p;
	int n = 0;

	ASSERT_EQ(secmmu_run_string("mm p\nwrite p 0 \"a\\\"b\" => -EFAULT\nfrob\n",
				    SECMMU_RUN_JSON, &res),
		  2);
	for (p = res.output; (p = strchr(p, '\n')); p++)
		n++;
	ASSERT_EQ(n, 3);
	ASSERT(!strncmp(res.output,
			"{\"line\":1,\"command\":\"mm p\",\"result\":\"ok\",\"ok\":true}\n", 50));
	ASSERT(strstr(res.output,
		      "\"command\":\"write p 0 \\\"a\\\\\\\"b\\\"\",\"result\":\"-EFAULT\","
		      "\"expected\":\"-EFAULT\",\"ok\":true}\n"));
	ASSERT(strstr(res.output, "{\"line\":3,\"error\":\"unknown command 'frob'\"}\n"));
	secmmu_run_result_free(&res);
}

TEST(run_bad_arguments)
{
	struct secmmu_run_result res = {.status = 7};

	ASSERT_EQ(secmmu_run_string(NULL, 0, &res), -EINVAL);
	ASSERT_EQ(res.status, 0);
	ASSERT(!res.output);
	ASSERT_EQ(secmmu_run_string("mm p\n", 0x80, &res), -EINVAL);
	ASSERT_EQ(secmmu_run_file(NULL, 0, &res), -EINVAL);
	ASSERT_EQ(secmmu_run_file("/nonexistent/secmmu.scn", 0, &res), -ENOENT);
	ASSERT_EQ(secmmu_run_file("/", 0, &res), -EISDIR);
	ASSERT(!res.output && !res.errors);
}

TEST(run_file_names_errors_by_path)
{
	char path[] = "/tmp/secmmu-run-api-XXXXXX";
	struct secmmu_run_result res;
	int fd = mkstemp(path);
	FILE *f;

	ASSERT(fd >= 0);
	f = fdopen(fd, "w");
	ASSERT(f);
	fputs("mm p\nrefs p => users=1 count=1\nmm p\n", f);
	fclose(f);
	ASSERT_EQ(secmmu_run_file(path, 0, &res), 2);
	unlink(path);
	ASSERT_UEQ(res.commands, 2);
	ASSERT(!strncmp(res.errors, path, strlen(path)));
	ASSERT(!strncmp(res.errors + strlen(path), ":3: error: ", 11));
	secmmu_run_result_free(&res);
}
