/* SPDX-License-Identifier: MIT */
/*
 * secmmu/run.h - run a scenario script from C.
 *
 * The same language and the same runner as `secmmu run` (docs/scenarios.md):
 * each call builds a fresh world of named processes, devices and kernel
 * threads, executes the script line by line, tears the world down and checks
 * that nothing leaked. A C test can thus state a whole sequence in a few
 * script lines and read the results back:
 *
 *	struct secmmu_run_result res;
 *	int rc = secmmu_run_string("mm p\n"
 *				   "mmap p 0x10000 4K rw private\n"
 *				   "write p 0x10000 0xabcd\n"
 *				   "read p 0x10000 2 => abcd\n", 0, &res);
 *	// rc == 0, res.commands == 4, res.expectations == 1, res.failed == 0
 *	secmmu_run_result_free(&res);
 *
 * Concurrency: the world uses the process-wide physical memory and swap
 * device (the default 64M of physical memory is set up on first use), so
 * one run at a time per process; do not run a script while the program uses
 * the mm API on other threads.
 */
#ifndef SECMMU_RUN_H
#define SECMMU_RUN_H

#include "secmmu/compiler.h"

SECMMU_BEGIN_DECLS

/* Flags of secmmu_run_string() / secmmu_run_file(). */
#define SECMMU_RUN_JSON 0x1u /* output as JSON Lines, one object per command (as --format json) */

/*
 * The outcome of a run. status is what `secmmu run` exits with: 0 every
 * expectation held and nothing leaked, 1 an expectation or a `check` failed
 * or something leaked, 2 a malformed line stopped the run (the lines before
 * it ran).
 */
struct secmmu_run_result {
	int status;
	unsigned long commands;	    /* command lines executed */
	unsigned long expectations; /* of those, with "=> EXPECTED" */
	unsigned long failed;	    /* expectations not met, and failing checks */
	char *output; /* "LINE: COMMAND -> RESULT" lines (or JSON objects), malloc()ed */
	char *errors; /* "NAME:LINE: error: WHY" lines of malformed input, or "" */
};

/**
 * secmmu_run_string() - run the scenario script @script
 * @script: the script text (lines separated by '\n'); not modified
 * @flags:  0 or SECMMU_RUN_JSON
 * @res:    out (may be NULL: the output is discarded); on success the
 *          caller owns the strings and releases them with
 *          secmmu_run_result_free(); on error it is zeroed
 *
 * Errors are named "string:LINE" in @res->errors. May sleep; takes and drops
 * every lock and reference it needs; leaves no reference behind.
 * Return: the run's status (0, 1 or 2, as @res->status), or -EINVAL (@script
 * NULL or unknown @flags), -ENOMEM.
 */
int secmmu_run_string(const char *script, unsigned int flags, struct secmmu_run_result *res);

/**
 * secmmu_run_file() - run the scenario script in the file @path
 *
 * As secmmu_run_string(), the errors named "PATH:LINE".
 * Return: the run's status (0, 1 or 2), or a negative errno of opening or
 * reading @path (-ENOENT, -EACCES, -EISDIR, -EIO ...) with nothing run,
 * -EINVAL, -ENOMEM.
 */
int secmmu_run_file(const char *path, unsigned int flags, struct secmmu_run_result *res);

/* Free the strings of @res (NULL or already freed: nothing) and zero them. */
void secmmu_run_result_free(struct secmmu_run_result *res);

SECMMU_END_DECLS

#endif /* SECMMU_RUN_H */
