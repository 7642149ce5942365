// SPDX-License-Identifier: MIT
/*
 * The public entry points of secmmu/run.h: the scenario runner for C
 * programs, on top of sim_run_stream_opts().
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "secmmu/run.h"
#include "sim/sim.h"

void secmmu_run_result_free(struct secmmu_run_result *res)
{
	if (!res)
		return;
	free(res->output);
	free(res->errors);
	res->output = NULL;
	res->errors = NULL;
}

/* Run @in named @name; fill @res. Return: the status or -ENOMEM. */
static int run_stream(FILE *in, const char *name, unsigned int flags, struct secmmu_run_result *res)
{
	struct sim_run opts = {.format =
				       flags & SECMMU_RUN_JSON ? SIM_FORMAT_JSON : SIM_FORMAT_TEXT,
			       .file = name};
	struct sim_run stats = {0};
	char *out_text = NULL, *err_text = NULL;
	size_t out_size = 0, err_size = 0;
	FILE *out = NULL, *err = NULL;
	int rc = -ENOMEM;

	out = res ? open_memstream(&out_text, &out_size) : fopen("/dev/null", "w");
	err = res ? open_memstream(&err_text, &err_size) : fopen("/dev/null", "w");
	if (!out || !err)
		goto fail;
	opts.err = err;
	rc = sim_run_stream_opts(in, out, &opts, &stats);
	if (fclose(out) | fclose(err)) {
		out = err = NULL;
		rc = -ENOMEM;
		goto fail;
	}
	out = err = NULL;
	if (res) {
		res->status = rc;
		res->commands = stats.commands;
		res->expectations = stats.expectations;
		res->failed = stats.failed;
		res->output = out_text;
		res->errors = err_text;
	}
	return rc;
fail:
	if (out)
		fclose(out);
	if (err)
		fclose(err);
	free(out_text);
	free(err_text);
	return rc;
}

static int check_args(unsigned int flags, struct secmmu_run_result *res)
{
	if (res)
		memset(res, 0, sizeof(*res));
	return flags & ~SECMMU_RUN_JSON ? -EINVAL : 0;
}

int secmmu_run_string(const char *script, unsigned int flags, struct secmmu_run_result *res)
{
	FILE *in;
	int rc = check_args(flags, res);

	if (rc)
		return rc;
	if (!script)
		return -EINVAL;
	/* fmemopen() refuses an empty buffer on some libcs: run "\n" instead. */
	in = fmemopen((void *)(script[0] ? script : "\n"), script[0] ? strlen(script) : 1, "r");
	if (!in)
		return -ENOMEM;
	rc = run_stream(in, "string", flags, res);
	fclose(in);
	return rc;
}

int secmmu_run_file(const char *path, unsigned int flags, struct secmmu_run_result *res)
{
	struct stat st;
	FILE *in;
	int fd, rc = check_args(flags, res);

	if (rc)
		return rc;
	if (!path)
		return -EINVAL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st)) {
		rc = -errno;
		close(fd);
		return rc;
	}
	if (S_ISDIR(st.st_mode)) {
		close(fd);
		return -EISDIR;
	}
	in = fdopen(fd, "r");
	if (!in) {
		rc = -errno;
		close(fd);
		return rc;
	}
	rc = run_stream(in, path, flags, res);
	if (rc >= 0 && ferror(in)) {
		secmmu_run_result_free(res);
		if (res)
			memset(res, 0, sizeof(*res));
		rc = -EIO;
	}
	fclose(in);
	return rc;
}
