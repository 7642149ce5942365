// SPDX-License-Identifier: MIT
/*
 * The command table: every scenario command, in one list of per-area sets.
 *
 * To add commands, define a NULL-terminated `const struct sim_cmd
 * sim_cmds_<area>[]` in its own src/sim/cmd_<area>.c, declare it in sim.h
 * with SIM_CMD_SET(), and add it to command_sets[] below. The sets are
 * listed explicitly (rather than registered by constructors) because the
 * runner lives in a static library, where an object file nobody references
 * would silently be left out of the link.
 */
#include <string.h>

#include "sim/sim.h"

static const struct sim_cmd *const command_sets[] = {
	sim_cmds_system, sim_cmds_mirror, sim_cmds_pin,	 sim_cmds_file, sim_cmds_iommu,
	sim_cmds_task,	 sim_cmds_memory, sim_cmds_vfio, sim_cmds_gru,	sim_cmds_xpmem,
	sim_cmds_kvm,	 sim_cmds_proc,	  sim_cmds_bug,	 sim_cmds_thp,
};

#define NR_SETS (sizeof(command_sets) / sizeof(command_sets[0]))

const struct sim_cmd *sim_cmd_find(const char *name)
{
	for (size_t s = 0; s < NR_SETS; s++)
		for (const struct sim_cmd *c = command_sets[s]; c->name; c++)
			if (!strcmp(c->name, name))
				return c;
	return NULL;
}

void sim_cmd_for_each(void (*fn)(const struct sim_cmd *cmd, void *arg), void *arg)
{
	for (size_t s = 0; s < NR_SETS; s++)
		for (const struct sim_cmd *c = command_sets[s]; c->name; c++)
			fn(c, arg);
}
