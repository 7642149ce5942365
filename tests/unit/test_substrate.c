// SPDX-License-Identifier: MIT
/*
 * One concurrency substrate: outside src/base, no code of the tree (src/,
 * tools/, kshim/, and the tests, examples and benchmarks too) starts a raw
 * pthread, takes a raw pthread lock, waits on a raw condition variable or
 * sleeps/yields to wait; every thread, lock and wait goes through
 * base/thread.h, base/lock.h and base/wait.h (the driver kit's
 * secmmu/kit/thread.h, lock.h and wait.h for code outside the library), so
 * the rank checker sees every lock, the interleaving explorer every thread
 * and wait, and ThreadSanitizer the same edges everywhere. Inside src/base
 * only the files that implement the substrate use raw primitives, and the two
 * unranked mutexes are the documented exemptions (base/lock.h): the
 * explorer's own and the trace writer's. The other exemptions are listed at
 * SUBSTRATE_EXEMPT below, each with its reason.
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
	char cmd[2048], line[1024];
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

/* Where the rule holds. */
#define SUBSTRATE_DIRS "src tools kshim tests examples bench"

/*
 * The exemptions, one alternative each (grep -E, on "path:line:text"):
 *  - src/base/: the substrate itself (narrowed by the test further below);
 *  - a comment line: a comment may name a primitive (history, documentation);
 *  - tests/unit/test_substrate.c: holds the patterns and the self-check's
 *    sample lines;
 *  - the step machinery of tests/kernel-notifier/kndiff.c (h_lock, h_ev, each
 *    worker's go and thread): it instruments the substrate from inside (the
 *    link-time wraps of sm_wait()/sm_wake_up_all(), under the cores' own
 *    locks), needs a timed wait for its hang detector and detaches an
 *    abandoned sleeper (its top comment says more).
 */
#define SUBSTRATE_EXEMPT                                                                           \
	"^src/base/"                                                                               \
	"|^[^:]+:[0-9]+:[[:space:]]*(/\\*|\\*|//)"                                                 \
	"|^tests/unit/test_substrate\\.c:"                                                         \
	"|^tests/kernel-notifier/kndiff\\.c:[0-9]+:.*(h_lock|h_ev|w->go\\b|w->thread\\b|"          \
	"pthread_t thread;|pthread_cond_t go;)"

TEST(substrate_no_raw_pthread_outside_base)
{
	in_tree();
	ASSERT_EQ(count_hits(RAW_PRIMITIVES, SUBSTRATE_DIRS, SUBSTRATE_EXEMPT), 0);
}

/*
 * The exemptions let through what they name and nothing else: a raw
 * primitive in a test, an example, a benchmark, or in kndiff.c outside its
 * step machinery is still found; a comment, and kndiff.c's h_lock, are not.
 */
TEST(substrate_exemptions_are_narrow)
{
	char cmd[2048];
	FILE *p;
	int n = -1;

	snprintf(cmd, sizeof(cmd),
		 "printf '%%b\\n' "
		 "'tests/unit/test_x.c:10:\\tpthread_create(&t, NULL, fn, NULL);' "
		 "'tests/torture/torture.c:20:\\t\\tsched_yield();' "
		 "'examples/mirror_buffer.c:30:\\tpthread_mutex_lock(&mb->lock);' "
		 "'bench/bench_hmm.h:40:\\tpthread_join(tid[k], NULL);' "
		 "'tests/kernel-notifier/kndiff.c:50:\\tpthread_mutex_lock(&log_lock);' "
		 "'tests/harness.c:60:\\t\\tusleep(nap); /* a comment after code */' "
		 "'tests/unit/test_y.c:70: * (it returned after one sched_yield())' "
		 "'tests/kernel-notifier/kndiff.c:80:\\tpthread_mutex_lock(&h_lock);' "
		 "| grep -E '%s' | grep -vcE '%s'",
		 RAW_PRIMITIVES, SUBSTRATE_EXEMPT);
	p = popen(cmd, "r");
	ASSERT_NOT_NULL(p);
	ASSERT_EQ(fscanf(p, "%d", &n), 1);
	pclose(p);
	ASSERT_EQ(n, 6);
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
	ASSERT_EQ(count_hits("sm_(mutex|rwsem)_init\\([^,]*,[^,]*\\)", SUBSTRATE_DIRS, NULL), 0);
}
