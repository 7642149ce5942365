// SPDX-License-Identifier: MIT
/*
 * Concurrent scenario blocks (src/sim/threads.c) and `secmmu explore`
 * (src/sim/explore.c): the block syntax and its errors, `=> A | B`
 * alternatives, output in completion order with thread prefixes, the fixed
 * schedule of `secmmu run`, and explore's summary line, failure report and
 * exact replay.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../harness.h"
#include "secmmu/bugs.h"
#include "sim/sim.h"

/* Run @text as `secmmu run` would; return its output, *@rc its status. */
static char *run_text(const char *text, int *rc)
{
	char *out = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&out, &size);

	ASSERT_NOT_NULL(f);
	*rc = sim_run_text(text, f);
	fclose(f);
	return out;
}

static void expect_run(const char *text, const char *output, int want_rc)
{
	int rc;
	char *out = run_text(text, &rc);

	ASSERT_STR_EQ(out, output);
	ASSERT_EQ(rc, want_rc);
	free(out);
}

/* Run @text as `secmmu explore` would; return its output, *@rc its status. */
static char *explore_text(const char *text, const struct sim_explore_opts *o, int *rc)
{
	struct sim_script s;
	char *out = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&out, &size);

	ASSERT_NOT_NULL(f);
	ASSERT_EQ(sim_script_from_text(text, &s), 0);
	*rc = sim_explore(&s, o, f);
	fclose(f);
	sim_script_free(&s);
	return out;
}

static const char *last_line(const char *text)
{
	size_t n = strlen(text);
	const char *p;

	ASSERT(n > 0 && text[n - 1] == '\n');
	for (p = text + n - 1; p > text && p[-1] != '\n'; p--)
		;
	return p;
}

TEST(sim_expect_alternatives)
{
	expect_run("mm p\nrefs p => users=2 count=1 | users=1 count=1\n",
		   "1: mm p -> ok\n2: refs p -> users=1 count=1\n", SIM_EXIT_OK);
	expect_run("mm p\nrefs p => freed | users=9 count=9\n",
		   "1: mm p -> ok\n2: refs p -> users=1 count=1 FAIL (expected freed | users=9 "
		   "count=9)\n",
		   SIM_EXIT_FAIL);
	expect_run("mm p => ok |\n", "1: error: empty alternative in '=> ok |'\n",
		   SIM_EXIT_MALFORMED);
	expect_run("mm p => | ok\n", "1: error: empty alternative in '=> | ok'\n",
		   SIM_EXIT_MALFORMED);
}

/* One thread: its lines run in order, prefixed, between the script's own lines. */
TEST(sim_threads_one_thread_in_order)
{
	expect_run("mm p\n"
		   "threads\n"
		   "thread A\n"
		   "  mmap p 0x10000000 4K rw private\n"
		   "  write p 0x10000000 \"ab\" => ok\n"
		   "  read p 0x10000000 2 => 6162\n"
		   "end\n"
		   "read p 0x10000000 2 => 6162\n",
		   "1: mm p -> ok\n"
		   "4: [A] mmap p 0x10000000 4K rw private -> ok\n"
		   "5: [A] write p 0x10000000 \"ab\" -> ok\n"
		   "6: [A] read p 0x10000000 2 -> 6162\n"
		   "8: read p 0x10000000 2 -> 6162\n",
		   SIM_EXIT_OK);
}

/* Two threads: every line printed once, each thread's in its order; run is deterministic. */
TEST(sim_threads_two_threads_deterministic)
{
	static const char text[] = "mm p\n"
				   "mmap p 0x10000000 8K rw private\n"
				   "threads\n"
				   "thread A\n"
				   "  write p 0x10000000 \"a\"\n"
				   "  read p 0x10000000 1 => 61\n"
				   "thread B\n"
				   "  write p 0x10001000 \"b\"\n"
				   "  read p 0x10001000 1 => 62\n"
				   "end\n"
				   "check => ok\n";
	int rc, rc2;
	char *out = run_text(text, &rc), *again = run_text(text, &rc2);
	const char *a1 = strstr(out, "5: [A] write"), *a2 = strstr(out, "6: [A] read");
	const char *b1 = strstr(out, "8: [B] write"), *b2 = strstr(out, "9: [B] read");

	ASSERT_EQ(rc, SIM_EXIT_OK);
	ASSERT(a1 && a2 && b1 && b2);
	ASSERT(a1 < a2 && b1 < b2);
	ASSERT_NOT_NULL(strstr(out, "11: check -> ok\n"));
	ASSERT_STR_EQ(out, again); /* one fixed schedule */
	ASSERT_EQ(rc2, rc);
	free(out);
	free(again);
}

/* A failing line in a block fails the run; the others still run. */
TEST(sim_threads_failure_in_block)
{
	int rc;
	char *out = run_text("mm p\n"
			     "threads\n"
			     "thread A\n"
			     "  refs p => freed\n"
			     "thread B\n"
			     "  refs p => users=1 count=1\n"
			     "end\n"
			     "refs p => users=1 count=1\n",
			     &rc);

	ASSERT_EQ(rc, SIM_EXIT_FAIL);
	ASSERT_NOT_NULL(strstr(out, "4: [A] refs p -> users=1 count=1 FAIL (expected freed)\n"));
	ASSERT_NOT_NULL(strstr(out, "6: [B] refs p -> users=1 count=1\n"));
	ASSERT_NOT_NULL(strstr(out, "8: refs p -> users=1 count=1\n"));
	free(out);
}

/* Malformed blocks: LINE: error: WHY, exit 2, nothing after runs. */
TEST(sim_threads_malformed_blocks)
{
	expect_run("mm p\nthreads\nthread A\nthreads\nend\nmem\n",
		   "1: mm p -> ok\n4: error: nested 'threads' (the block of line 2 has no 'end')\n",
		   SIM_EXIT_MALFORMED);
	expect_run("threads\nthread A\n  mem\n", "1: error: 'threads' block has no 'end'\n",
		   SIM_EXIT_MALFORMED);
	expect_run("threads\nthread A\nthread B\n  mem\nend\n",
		   "2: error: thread A has no commands\n", SIM_EXIT_MALFORMED);
	expect_run("threads\nthread A\n  mem\nthread B\nend\n",
		   "4: error: thread B has no commands\n", SIM_EXIT_MALFORMED);
	expect_run("threads\nend\n", "1: error: 'threads' block has no thread\n",
		   SIM_EXIT_MALFORMED);
	expect_run("threads\n  mem\nend\n",
		   "2: error: command outside a thread (begin one with 'thread NAME')\n",
		   SIM_EXIT_MALFORMED);
	expect_run("threads\nthread A\n  phys 1M\nend\n",
		   "3: error: 'phys' cannot run inside a threads block (it sets up the system: "
		   "put it before 'threads')\n",
		   SIM_EXIT_MALFORMED);
	expect_run("threads\nthread A\n  check\nend\n",
		   "3: error: 'check' cannot run inside a threads block (it checks a quiet "
		   "system: put it after 'end')\n",
		   SIM_EXIT_MALFORMED);
	expect_run("threads\nthread A\n  frob\nend\n", "3: error: unknown command 'frob'\n",
		   SIM_EXIT_MALFORMED);
	expect_run("threads\nthread 1x\n  mem\nend\n",
		   "2: error: bad thread name '1x' (a letter, then letters, digits, '_' or '-')\n",
		   SIM_EXIT_MALFORMED);
	expect_run("threads\nthread\n  mem\nend\n", "2: error: expected 'thread NAME'\n",
		   SIM_EXIT_MALFORMED);
	expect_run("threads\nthread A B\n  mem\nend\n", "2: error: expected 'thread NAME'\n",
		   SIM_EXIT_MALFORMED);
	expect_run("threads\nthread A\n  mem\nthread A\n  mem\nend\n",
		   "4: error: thread A defined twice (line 2)\n", SIM_EXIT_MALFORMED);
	expect_run("threads\nthread A\n  mem\nend now\n", "4: error: 'end' takes no arguments\n",
		   SIM_EXIT_MALFORMED);
	expect_run("thread A\n", "1: error: 'thread' outside a threads block\n",
		   SIM_EXIT_MALFORMED);
	expect_run("end\n", "1: error: 'end' without 'threads'\n", SIM_EXIT_MALFORMED);
	expect_run("threads\nthread A\n mem\nend\nthreads\nthread B\n mem\nend\n",
		   "5: error: a second threads block (a script has one; put each in its own "
		   "file)\n",
		   SIM_EXIT_MALFORMED);
	expect_run("threads => ok\n", "1: error: a block line takes no '=>'\n", SIM_EXIT_MALFORMED);
	expect_run("threads all\n", "1: error: 'threads' takes no arguments\n", SIM_EXIT_MALFORMED);
	expect_run("threads\n"
		   "thread a\n mem\nthread b\n mem\nthread c\n mem\nthread d\n mem\n"
		   "thread e\n mem\nthread f\n mem\nthread g\n mem\nthread h\n mem\n"
		   "thread i\n mem\nend\n",
		   "18: error: more than 8 threads in one block\n", SIM_EXIT_MALFORMED);
}

/* A runtime error in a block stops that thread and the run (exit 2). */
TEST(sim_threads_runtime_error)
{
	int rc;
	char *out = run_text("threads\nthread A\n  refs nobody\n  mem\nthread B\n  mem\nend\nmem\n",
			     &rc);

	ASSERT_EQ(rc, SIM_EXIT_MALFORMED);
	ASSERT_NOT_NULL(strstr(out, "3: error: unknown process 'nobody'\n"));
	ASSERT_NULL(strstr(out, "4: [A]"));
	ASSERT_NOT_NULL(strstr(out, "6: [B] mem -> "));
	ASSERT_NULL(strstr(out, "8: mem"));
	free(out);
}

static const char clean_race[] = "mm p\n"
				 "mmap p 0x10000000 8K rw private\n"
				 "write p 0x10000000 \"abc\"\n"
				 "gru g p\n"
				 "threads\n"
				 "thread A\n"
				 "  gru_read g 0x10000000 3 => 616263 | 000000 | 78797a | -EFAULT\n"
				 "thread B\n"
				 "  munmap p 0x10000000 4K\n"
				 "  mmap p 0x10000000 4K rw private\n"
				 "  write p 0x10000000 \"xyz\"\n"
				 "end\n"
				 "gru_read g 0x10000000 3 => 78797a\n"
				 "check => ok\n";

/* A correct driver: no schedule fails; the summary is the last line. */
TEST(sim_explore_clean)
{
	struct sim_explore_opts o = {.runs = 10, .file = "t.scn"};
	int rc;
	char *out = explore_text(clean_race, &o, &rc);

	ASSERT_EQ(rc, SIM_EXIT_OK);
	ASSERT_EQ(strncmp(last_line(out), "explore: 10 runs, 0 failing, ", 29), 0);
	ASSERT_NULL(strstr(out, "FAIL"));
	free(out);
}

/* DFS over a small space ends with ", exhausted". */
TEST(sim_explore_dfs_exhausts)
{
	struct sim_explore_opts o = {.strategy = SIM_EXPLORE_DFS, .bound = 1, .runs = 1000};
	int rc;
	char *out =
		explore_text("mm p\nthreads\nthread A\n  refs p\nthread B\n  mem\nend\n", &o, &rc);
	const char *l = last_line(out);

	ASSERT_EQ(rc, SIM_EXIT_OK);
	ASSERT_STR_EQ(l + strlen(l) - strlen(", exhausted\n"), ", exhausted\n");
	free(out);
}

/* A broken driver: found, reported with a schedule that replays byte for byte. */
TEST(sim_explore_finds_and_replays)
{
	char *racy = calloc(1, sizeof(clean_race) + 16), *p;
	struct sim_explore_opts o = {.strategy = SIM_EXPLORE_DFS, .file = "t.scn"};
	char *out, *sched, *r1, *r2;
	const char *s, *e;
	int rc;

	ASSERT_NOT_NULL(racy);
	strcpy(racy, clean_race); /* with room for " broken" */
	p = strstr(racy, "gru g p\n");
	ASSERT_NOT_NULL(p);
	memmove(p + 14, p + 7, strlen(p + 7) + 1);
	memcpy(p, "gru g p broken", 14); /* invalidations flush nothing */
	out = explore_text(racy, &o, &rc);
	ASSERT_EQ(rc, SIM_EXIT_FAIL);
	ASSERT_NOT_NULL(strstr(out, "explore: run 0 failed: 13: gru_read g 0x10000000 3 -> -EIO "
				    "FAIL (expected 78797a)\n"));
	ASSERT_STR_EQ(last_line(out), "explore: 1 runs, 1 failing, 1 distinct schedules\n");
	s = strstr(out, "explore: schedule ");
	ASSERT_NOT_NULL(s);
	s += strlen("explore: schedule ");
	e = strchr(s, '\n');
	sched = strndup(s, (size_t)(e - s));
	ASSERT_EQ(strncmp(sched, "A/start,", 8), 0); /* thread names, not ids */
	ASSERT_NOT_NULL(strstr(out, "explore: replay with: secmmu explore t.scn --replay '"));

	o.replay = sched;
	r1 = explore_text(racy, &o, &rc);
	ASSERT_EQ(rc, SIM_EXIT_FAIL);
	r2 = explore_text(racy, &o, &rc);
	ASSERT_EQ(rc, SIM_EXIT_FAIL);
	ASSERT_STR_EQ(r1, r2);
	ASSERT_NOT_NULL(strstr(r1, "9: [B] munmap p 0x10000000 4K -> ok\n"));
	ASSERT_STR_EQ(last_line(r1), "explore: 1 runs, 1 failing, 1 distinct schedules\n");
	free(out);
	free(r1);
	free(r2);
	free(sched);
	free(racy);
}

/* Bad input to explore: exit 2, a clear message, nothing run. */
TEST(sim_explore_bad_input)
{
	struct sim_explore_opts o = {.runs = 3};
	int rc;
	char *out;

	out = explore_text("mm p\nmem\n", &o, &rc);
	ASSERT_EQ(rc, SIM_EXIT_MALFORMED);
	ASSERT_STR_EQ(out, "explore: error: the scenario has no 'threads' block\n");
	free(out);
	out = explore_text("threads\nthread A\n mem\nend\nthreads\nthread A\n mem\nend\n", &o, &rc);
	ASSERT_EQ(rc, SIM_EXIT_MALFORMED);
	ASSERT_STR_EQ(out, "5: error: more than one threads block (explore runs one)\n");
	free(out);
	out = explore_text("threads\nthread A\n mem\n", &o, &rc);
	ASSERT_EQ(rc, SIM_EXIT_MALFORMED);
	ASSERT_STR_EQ(out, "1: error: 'threads' block has no 'end'\n");
	free(out);
	o.replay = "A/start,C/start";
	out = explore_text("threads\nthread A\n mem\nthread B\n mem\nend\n", &o, &rc);
	ASSERT_EQ(rc, SIM_EXIT_MALFORMED);
	ASSERT_STR_EQ(out, "explore: error: unknown thread 'C' in the schedule\n");
	free(out);
	o.replay = NULL;
	/* A malformed line in a run stops everything with that line's error. */
	out = explore_text("mm p\nthreads\nthread A\n refs q\nthread B\n mem\nend\n", &o, &rc);
	ASSERT_EQ(rc, SIM_EXIT_MALFORMED);
	ASSERT_NOT_NULL(strstr(out, "4: error: unknown process 'q'\n"));
	ASSERT_NULL(strstr(out, "explore: 3 runs"));
	free(out);
}

/* `bug NAME`: known names only, before the first mm, off again after the run. */
TEST(sim_bug_command)
{
	size_t n;
	const struct secmmu_bug_info *list = secmmu_bug_list(&n);

	ASSERT(n >= 3);
	for (size_t i = 0; i < n; i++) {
		ASSERT_NOT_NULL(list[i].name);
		ASSERT(strlen(list[i].story) > 20);
	}
	expect_run("bug no-such-bug\n",
		   "1: error: unknown bug 'no-such-bug' (secmmu bugs lists them)\n",
		   SIM_EXIT_MALFORMED);
	expect_run("mm p\nbug gru-fault-no-retry\n",
		   "1: mm p -> ok\n2: error: bug: only before the first mm\n", SIM_EXIT_MALFORMED);
	ASSERT(!secmmu_bug_is_on("gru-fault-no-retry"));
	expect_run("bug gru-fault-no-retry\nmm p\n",
		   "1: bug gru-fault-no-retry -> ok\n2: mm p -> ok\n", SIM_EXIT_OK);
	ASSERT(!secmmu_bug_is_on("gru-fault-no-retry")); /* the run's end fixed it again */
	ASSERT_EQ(secmmu_bug_set("no-such-bug", true), -ENOENT);
	ASSERT_EQ(secmmu_bug_set("seed002-sva-mm-users", true), 0);
	ASSERT(secmmu_bug_is_on("seed002-sva-mm-users"));
	secmmu_bug_reset_all();
	ASSERT(!secmmu_bug_is_on("seed002-sva-mm-users"));
}

/* The seed 002 exhibit: with the bug back, the bond keeps the address space alive. */
TEST(sim_bug_seed002_found)
{
	static const char text[] = "bug seed002-sva-mm-users\n"
				   "mm p\n"
				   "mmap p 0x10000000 4K rw private\n"
				   "iommu d\n"
				   "devfile f d p\n"
				   "devfile_mmap f 0x20000000 4K\n"
				   "exit p\n"
				   "refs p => freed\n";
	int rc;
	char *out = run_text(text, &rc);

	ASSERT_EQ(rc, SIM_EXIT_FAIL);
	ASSERT_NOT_NULL(strstr(out, "8: refs p -> users=1 "));
	free(out);
	out = run_text(text + strlen("bug seed002-sva-mm-users\n"), &rc);
	ASSERT_EQ(rc, SIM_EXIT_OK);
	free(out);
}

/* The teardown of sim_run_script() for a world the test made itself. */
static int destroy_world(struct sim_world *w, int rc, FILE *out, void *arg)
{
	(void)arg;
	if (sim_world_destroy(w, out) && rc == SIM_EXIT_OK)
		rc = SIM_EXIT_FAIL;
	return rc;
}

/*
 * Nothing runs outside the explorer's control in a block, and a run in which
 * something did fails. A script's own devices are created by its lines,
 * inside the run: their threads are controlled (every scenario of the suite
 * runs clean, tests/run-all.sh). A device made before the run -- its DMA
 * engine a thread the explorer does not know -- is caught: the block's read
 * hands the transfer to that engine, whose locks and wake-ups run uncontrolled.
 */
TEST(sim_threads_uncontrolled_device_thread_fails_the_run)
{
	static const char block[] = "threads\n"
				    "thread A\n"
				    "  mirror_read d 0x10000000 3 => 616263\n"
				    "end\n";
	struct sim_world *w = sim_world_new();
	struct sim_script s;
	char *out = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&out, &size);
	int rc;

	ASSERT_NOT_NULL(w);
	ASSERT_NOT_NULL(f);
	ASSERT_EQ(sim_exec_line(w, 1, "mm p", f, NULL), SIM_EXIT_OK);
	ASSERT_EQ(sim_exec_line(w, 2, "mmap p 0x10000000 4K rw private", f, NULL), SIM_EXIT_OK);
	ASSERT_EQ(sim_exec_line(w, 3, "write p 0x10000000 \"abc\"", f, NULL), SIM_EXIT_OK);
	ASSERT_EQ(sim_exec_line(w, 4, "mirror d p", f, NULL), SIM_EXIT_OK);
	ASSERT_EQ(sim_script_from_text(block, &s), 0);
	rc = sim_run_script(w, &s, f, destroy_world, NULL);
	fclose(f);
	sim_script_free(&s);
	ASSERT_EQ(rc, SIM_EXIT_FAIL);
	ASSERT(strstr(out, "3: [A] mirror_read d 0x10000000 3 -> 616263\n"));
	ASSERT(strstr(out, "1: error: a thread the explorer does not control ran during the block "
			   "(first: "));
	free(out);

	/* The same device created by the script itself: controlled, clean. */
	expect_run("mm p\n"
		   "mmap p 0x10000000 4K rw private\n"
		   "write p 0x10000000 \"abc\"\n"
		   "mirror d p\n"
		   "threads\n"
		   "thread A\n"
		   "  mirror_read d 0x10000000 3 => 616263\n"
		   "end\n",
		   "1: mm p -> ok\n"
		   "2: mmap p 0x10000000 4K rw private -> ok\n"
		   "3: write p 0x10000000 \"abc\" -> ok\n"
		   "4: mirror d p -> ok\n"
		   "7: [A] mirror_read d 0x10000000 3 -> 616263\n",
		   SIM_EXIT_OK);
}
