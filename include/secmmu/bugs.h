/* SPDX-License-Identifier: MIT */
/*
 * The bug museum: historical bugs of the secondary-MMU machinery, each of
 * which can be put back into this implementation, one switch per bug.
 *
 * A switch re-introduces the bug in our own code path where it lived (written
 * from the fix's description, never copied). Off, it costs one relaxed load
 * and a predicted-not-taken branch. Switches are global: set them before the
 * first mm is created (the scenario command `bug NAME` enforces it) and reset
 * them when done. docs/museum.md tells every story.
 */
#ifndef SECMMU_BUGS_H
#define SECMMU_BUGS_H

#include <stdbool.h>
#include <stddef.h>

#include "secmmu/compiler.h"

SECMMU_BEGIN_DECLS

struct secmmu_bug_info {
	const char *name;  /* "seed002-sva-mm-users" */
	const char *story; /* one line: what went wrong, and where it is told */
};

/* Every historical bug, in a fixed order; *@n gets their number. */
const struct secmmu_bug_info *secmmu_bug_list(size_t *n);

/*
 * secmmu_bug_set() - put the bug called @name back (@on) or fix it again
 * Return: 0, or -ENOENT for an unknown name.
 */
int secmmu_bug_set(const char *name, bool on);

/* Is the bug called @name switched on? (false for an unknown name) */
bool secmmu_bug_is_on(const char *name);

/* Fix every bug again. */
void secmmu_bug_reset_all(void);

SECMMU_END_DECLS

#endif /* SECMMU_BUGS_H */
