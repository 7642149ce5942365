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
		printf("found: %s", line);
		n++;
	}
	pclose(p);
	return n;
}

TEST(substrate_no_raw_pthread_outside_base)
{
	in_tree();
	ASSERT_EQ(count_hits(RAW_PRIMITIVES, "src tools", "^src/base/"), 0);
}

/*
 * No retry count standing in for a wait (issue 12): a loop that retries "up
 * to N times" turns enough load into an error. A retry must follow the event
 * it waits for (a wait, an invalidation that read_begin waits out), with no
 * count. The one counted loop is the page allocator's reclaim policy (a
 * bounded number of reclaim passes that free nothing before -ENOMEM, as
 * Linux's MAX_RECLAIM_RETRIES): it waits for nothing.
 */
#define RETRY_COUNTS "[A-Z_]*_RETRIES\\b|\\b(tries|retries|attempts|rounds?) *<"

TEST(substrate_no_retry_counts)
{
	in_tree();
	ASSERT_EQ(count_hits(RETRY_COUNTS, "src tools",
			     "^src/mm/phys.c:[0-9]+:.*for \\(int tries = 0; !page && tries < 4"),
		  0);
}

/* The grep above matches what it is meant to (a retry count, a yield loop). */
TEST(substrate_grep_catches_a_retry_loop)
{
	char cmd[512];
	FILE *p;
	int n = 0;

	snprintf(cmd, sizeof(cmd),
		 "printf '%%s\\n' '#define MIRROR_FAULT_RETRIES 10000' "
		 "'\\tfor (int tries = 0; tries < 100000; tries++) {' "
		 "'\\tfor (int round = 0; round < 100 && busy; round++)' "
		 "'\\t\\tsched_yield();' | grep -cE '%s|%s'",
		 RETRY_COUNTS, RAW_PRIMITIVES);
	p = popen(cmd, "r");
	ASSERT_NOT_NULL(p);
	ASSERT_EQ(fscanf(p, "%d", &n), 1);
	pclose(p);
	ASSERT_EQ(n, 4);
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
