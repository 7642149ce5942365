// SPDX-License-Identifier: MIT
/*
 * `bug NAME`: put one historical bug back for the rest of the run (the bug
 * museum, include/secmmu/bugs.h, docs/museum.md). Only before the first
 * process exists, so that every object of the run lives with the same code.
 * The world forgets the switch at its end: a hidden object per bug turns it
 * off again in the FREE phase.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "secmmu/bugs.h"
#include "sim/sim.h"

struct sim_bug {
	struct sim_obj obj;
	const char *bug; /* the name in the bug table */
};

static void bug_teardown(struct sim_world *w, struct sim_obj *obj, enum sim_phase phase)
{
	(void)w;
	if (phase == SIM_PHASE_FREE)
		secmmu_bug_set(((struct sim_bug *)obj)->bug, false);
}

static const struct sim_type bug_type = {
	.name = "bug switch",
	.teardown = bug_teardown,
};

static int cmd_bug(struct sim_ctx *ctx, int argc, char **argv)
{
	const struct secmmu_bug_info *list;
	char name[SIM_NAME_MAX];
	struct sim_bug *b;
	size_t n, i;

	(void)argc;
	list = secmmu_bug_list(&n);
	for (i = 0; i < n && strcmp(list[i].name, argv[1]); i++)
		;
	if (i == n)
		return sim_malformed(ctx, "unknown bug '%.40s' (secmmu bugs lists them)", argv[1]);
	sim_for_each_obj(ctx->world, o) if (o->type == &sim_process_type) return sim_malformed(
		ctx, "bug: only before the first mm");
	if (secmmu_bug_is_on(list[i].name))
		return sim_result_errno(ctx, 0); /* already back (secmmu explore --bug) */
	snprintf(name, sizeof(name), ".bug%zu", i);
	b = sim_obj_new(ctx, &bug_type, name, sizeof(*b));
	if (!b)
		return -1;
	b->bug = list[i].name;
	return sim_result_errno(ctx, secmmu_bug_set(list[i].name, true));
}

const struct sim_cmd sim_cmds_bug[] = {
	{"bug", 1, 1, cmd_bug, "bug NAME",
	 "put one historical bug back into the implementation for this run (before the first mm; "
	 "secmmu bugs lists them, docs/museum.md tells them)",
	 "bug gru-fault-no-retry"},
	{NULL},
};
