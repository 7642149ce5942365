// SPDX-License-Identifier: MIT
/*
 * One concurrency substrate: outside src/base, library code (src/, tools/)
 * starts no raw pthread, takes no raw pthread lock and waits on no raw
 * condition variable; every thread, lock and wait goes through
 * base/thread.h, base/lock.h and base/wait.h, so the rank checker sees every
 * lock and the interleaving explorer every thread and wait. Inside src/base
 * only the files that implement the substrate use raw primitives, and the two
 * unranked mutexes are the documented exemptions (base/lock.h): the
 * explorer's own and the trace writer's.
 *
 * The tests read the tree: run from the source root (tests/run-all.sh does).
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

#define RAW_PRIMITIVES                                                                             \
	"pthread_(create|join|mutex_|cond_|rwlock_|spin_|barrier_)|sched_yield|usleep|nanosleep"

static void in_tree(void)
{
	if (access("src/base/lock.h", R_OK) || access("tools", R_OK))
		harness_skip("not run from the source tree");
}

/* Lines of `grep -rnE @re @where` not matching @allow (NULL: none allowed). */
static int count_hits(const char *re, const char *where, const char *allow)
{
	char cmd[1024], line[1024];
	FILE *p;
	int n = 0;

	snprintf(cmd, sizeof(cmd), "grep -rnE '%s' %s --include='*.c' --include='*.h'%s%s%s", re,
		 where, allow ? " | grep -vE '" : "", allow ? allow : "", allow ? "'" : "");
	p = popen(cmd, "r");
	ASSERT_NOT_NULL(p);
	while (fgets(line, sizeof(line), p)) {
		printf("raw primitive: %s", line);
		n++;
	}
	pclose(p);
	return n;
}

/*
 * Known remaining sites, each to become a wait (issue 12): the mirror's
 * device-memory eviction retries while a CPU fault or a migration holds a
 * page.
 */
#define KNOWN_REMAINING "^src/drivers/mirror/mirror.c:[0-9]+:.*sched_yield\\(\\); /\\* a CPU fault or migration"

TEST(substrate_no_raw_pthread_outside_base)
{
	in_tree();
	ASSERT_EQ(count_hits(RAW_PRIMITIVES, "src tools", "^src/base/|" KNOWN_REMAINING), 0);
}

/*
 * Inside src/base: the substrate's implementation, and the exemptions.
 * pthread_once/keys are not locks, threads or waits.
 */
TEST(substrate_raw_pthread_in_base_only_where_implemented)
{
	in_tree();
	ASSERT_EQ(count_hits(RAW_PRIMITIVES, "src/base",
			     "^src/base/(lock|wait|thread|sched_explore|trace|signal)\\.[ch]:"),
		  0);
}

/* Every ranked lock is initialised with a rank (the checker covers it). */
TEST(substrate_every_sm_lock_has_a_rank)
{
	in_tree();
	ASSERT_EQ(count_hits("sm_(mutex|rwsem)_init\\([^,]*,[^,]*\\)", "src tools", NULL), 0);
}
