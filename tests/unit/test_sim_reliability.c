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

/* One `mm p` + `exit p` pair on @w: what the world's bookkeeping did for it. */
static struct sim_world_stats mm_exit_pair(struct sim_world *w, FILE *out, int *lineno)
{
	struct sim_world_stats before, after, cost;

	sim_world_get_stats(w, &before);
	if (sim_exec_line(w, ++*lineno, "mm p", out, NULL) ||
	    sim_exec_line(w, ++*lineno, "exit p", out, NULL))
		cost.lookups = ~0UL; /* fails the caller's comparison */
	else
		cost.lookups = 0;
	sim_world_get_stats(w, &after);
	cost.lookups += after.lookups - before.lookups;
	cost.visits = after.visits - before.visits;
	cost.objects = after.objects;
	cost.live_names = after.live_names;
	cost.sync_objects = after.sync_objects;
	return cost;
}

/*
 * A script of n lines must cost O(n) (issue 19: 100,000 lines of mm/exit
 * reusing one name took minutes when every command scanned every object
 * ever made). Counted, not timed: the 2000th `mm p`/`exit p` pair looks up
 * and examines exactly as many objects as the 10th (the name index holds
 * only live names; the ->sync walk only objects that have ->sync), the
 * retired processes are out of the index (one live name) yet still on the
 * world's list to be torn down at the end, and teardown finds no leak.
 * A linear scan anywhere in lookup or sync makes the late pair cost ~2000
 * visits more and fails at once.
 */
TEST(sim_long_script_reuses_names)
{
	const int pairs = 2000;
	struct sim_world *w = sim_world_new();
	FILE *out = fopen("/dev/null", "w");
	struct sim_world_stats early = {0}, late = {0};
	int lineno = 0;

	ASSERT_NOT_NULL(w);
	ASSERT_NOT_NULL(out);
	for (int i = 0; i < pairs; i++) {
		struct sim_world_stats c = mm_exit_pair(w, out, &lineno);

		if (i == 10)
			early = c;
		else if (i == pairs - 1)
			late = c;
		ASSERT_EQ(c.live_names, 1);
		ASSERT_EQ(c.sync_objects, 0);
	}
	ASSERT(early.lookups > 0 && early.lookups < 16);
	ASSERT_EQ(late.lookups, early.lookups);
	ASSERT_EQ(late.visits, early.visits);
	ASSERT(early.visits <= 2 * early.lookups + 2);
	ASSERT_EQ(late.objects, (size_t)pairs); /* retired, not forgotten */
	ASSERT_EQ(sim_world_destroy(w, out), 0);
	fclose(out);
}

/* Run script @text, its output into @buf (@cap bytes): every expectation holds. */
static void run_script_ok(const char *text, char *buf, size_t cap)
{
	FILE *out = fmemopen(buf, cap - 1, "w");

	ASSERT_NOT_NULL(out);
	ASSERT_EQ(sim_run_text(text, out), 0);
	fclose(out);
	ASSERT(strstr(buf, "end: error") == NULL);
}

/*
 * The core's holder tables (MM_HOLDER_SLOTS slots in the first) reuse a slot once its
 * holder holds nothing: 130 pin handles one after the other, at most one
 * holding a reference at a time, leave `check` satisfied, and the last
 * one is attributed (this failed while slots were never reused).
 */
TEST(sim_holder_slots_reused_by_later_pins)
{
	const int cycles = 130;
	size_t cap = 64 << 10;
	char *text = malloc(cap), *p = text, *buf = calloc(1, cap);

	ASSERT_NOT_NULL(text);
	ASSERT_NOT_NULL(buf);
	p += sprintf(p, "mm p\nmmap p 0x10000000 4K rw private\nwrite p 0x10000000 \"a\"\n");
	for (int i = 1; i <= cycles; i++)
		p += sprintf(p, "pin p 0x10000000 4K => handle=%d\nunpin %d => ok\n", i, i);
	p += sprintf(p,
		     "pin p 0x10000000 4K => handle=%d\nrefs p => users=1 count=2\ncheck => ok\n"
		     "refs p holders => mm_users p count=1, task p users=1, pin handle pin.%d "
		     "count=1\n",
		     cycles + 1, cycles + 1);
	sprintf(p, "unpin %d => ok\ncheck => ok\nexit p\n", cycles + 1);
	run_script_ok(text, buf, cap);
	free(buf);
	free(text);
}

/*
 * More holders at once than one table of the core has slots: 130 pin
 * handles held together. The core chains another table: every reference
 * is counted and attributed (refs exact, every pin listed under its
 * handle), `check` is satisfied throughout (it used to report "the core's
 * holder table is full" here: crying wolf on a legitimate state), and
 * teardown leaks nothing.
 */
TEST(sim_holders_beyond_one_table_all_attributed)
{
	const int pins = 130;
	size_t cap = 64 << 10;
	char *text = malloc(cap), *p = text, *buf = calloc(1, cap);

	ASSERT_NOT_NULL(text);
	ASSERT_NOT_NULL(buf);
	p += sprintf(p, "mm p\nmmap p 0x10000000 4K rw private\nwrite p 0x10000000 \"a\"\n");
	for (int i = 1; i <= pins; i++)
		p += sprintf(p, "pin p 0x10000000 4K => handle=%d\n", i);
	p += sprintf(p, "refs p => users=1 count=%d\ncheck => ok\nrefs p holders\n", pins + 1);
	for (int i = 1; i <= pins; i++)
		p += sprintf(p, "unpin %d => ok\n", i);
	sprintf(p, "check => ok\nrefs p holders => mm_users p count=1, task p users=1\nexit p\n");
	run_script_ok(text, buf, cap);
	ASSERT(strstr(buf, "pin handle pin.1 count=1, pin handle pin.2 count=1") != NULL);
	ASSERT(strstr(buf, "pin handle pin.129 count=1, pin handle pin.130 count=1") != NULL);
	ASSERT(strstr(buf, MM_HOLDER_OVERFLOW_KIND) == NULL);
	free(buf);
	free(text);
}
