// SPDX-License-Identifier: MIT
/*
 * Scenario commands for shared files: `file F SIZE`, `truncate F SIZE`, and
 * the `file=F:OFFSET` argument of `mmap` (see cmd_memory.c).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "secmmu/file.h"
#include "sim/sim.h"

struct sim_file {
	struct sim_obj obj;
	struct file *file; /* the world's reference; mappings hold their own */
};

static void file_teardown(struct sim_world *w, struct sim_obj *obj, enum sim_phase phase)
{
	struct sim_file *f = (struct sim_file *)obj;

	(void)w;
	if (phase == SIM_PHASE_DETACH && f->file) {
		fput(f->file); /* Pairs with shmem_file_create(). */
		f->file = NULL;
	}
}

static const struct sim_type file_type = {
	.name = "file",
	.teardown = file_teardown,
};

struct file *sim_file_lookup(struct sim_ctx *ctx, const char *name)
{
	struct sim_file *f = sim_obj_lookup(ctx, &file_type, name);

	return f ? f->file : NULL;
}

static int cmd_file(struct sim_ctx *ctx, int argc, char **argv)
{
	struct sim_file *f;
	uint64_t size;

	(void)argc;
	if (sim_arg_size(ctx, argv[2], &size))
		return -1;
	if (size & 4095)
		return sim_result_errno(ctx, -EINVAL);
	if (sim_world_need_phys(ctx->world))
		return sim_malformed(ctx, "out of memory");
	f = sim_obj_new(ctx, &file_type, argv[1], sizeof(*f));
	if (!f)
		return -1;
	f->file = shmem_file_create((unsigned long)size);
	if (!f->file) {
		sim_obj_discard(ctx->world, &f->obj);
		return sim_result_errno(ctx, size > (1UL << 40) ? -EFBIG : -ENOMEM);
	}
	return sim_result_errno(ctx, 0);
}

static int cmd_truncate(struct sim_ctx *ctx, int argc, char **argv)
{
	struct file *file = sim_file_lookup(ctx, argv[1]);
	uint64_t size;

	(void)argc;
	if (!file || sim_arg_size(ctx, argv[2], &size))
		return -1;
	return sim_result_errno(ctx, shmem_file_truncate(file, (unsigned long)size));
}

const struct sim_cmd sim_cmds_file[] = {
	{"file", 2, 2, cmd_file, "file F SIZE",
	 "a shared file of SIZE bytes (page cache in memory, swappable), to map with "
	 "mmap ... file=F:OFFSET",
	 "file f1 64K"},
	{"truncate", 2, 2, cmd_truncate, "truncate F SIZE",
	 "set the file's size; the cut-off pages are unmapped from every process (and every "
	 "secondary MMU) first; later accesses there fault",
	 "truncate f1 16K"},
	{NULL},
};
