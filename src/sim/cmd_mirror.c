// SPDX-License-Identifier: MIT
/*
 * Scenario commands for the mirroring device (include/secmmu/mirror.h):
 * mirror, mirror_read, mirror_write, mirror_stat, mirror_close.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "secmmu/err.h"
#include "secmmu/mirror.h"
#include "sim/sim.h"

/* The device's two notifiers (interval: invalidation; classic: aging) each hold mm_count. */
#define MIRROR_MM_COUNT_REFS 2

struct sim_mirror {
	struct sim_obj obj;
	struct mirror *dev;    /* NULL once closed */
	struct sim_proc *proc; /* its mm_count is counted in proc->holds */
};

static void mirror_close_dev(struct sim_mirror *m)
{
	if (!m->dev)
		return;
	mirror_destroy(m->dev); /* drops the notifier's mm_count */
	m->dev = NULL;
	m->proc->holds -= MIRROR_MM_COUNT_REFS;
}

static void mirror_teardown(struct sim_world *w, struct sim_obj *obj, enum sim_phase phase)
{
	(void)w;
	if (phase == SIM_PHASE_DETACH)
		mirror_close_dev((struct sim_mirror *)obj);
}

static void mirror_check(struct sim_ctx *ctx, struct sim_obj *obj)
{
	struct sim_mirror *m = (struct sim_mirror *)obj;

	if (m->dev && mirror_nr_stale(m->dev))
		sim_check_report(ctx, "mirror %s: %lu DMA through stale translations", obj->name,
				 mirror_nr_stale(m->dev));
}

static const struct sim_type mirror_type = {
	.name = "mirror device",
	.teardown = mirror_teardown,
	.check = mirror_check,
};

static struct sim_mirror *mirror_lookup(struct sim_ctx *ctx, const char *name)
{
	return sim_obj_lookup(ctx, &mirror_type, name);
}

static int cmd_mirror(struct sim_ctx *ctx, int argc, char **argv)
{
	struct sim_proc *p = sim_proc_lookup(ctx, argv[2]);
	unsigned int flags = 0;
	struct sim_mirror *m;
	struct mm_struct *mm;
	struct mirror *dev;

	if (!p)
		return -1;
	if (argc == 4) {
		if (strcmp(argv[3], "broken"))
			return sim_malformed(ctx, "mirror: unknown flag '%s' (known: broken)",
					     argv[3]);
		flags = MIRROR_BROKEN;
	}
	mm = sim_proc_live_mm(p);
	if (!mm)
		return sim_result_errno(ctx, -ESRCH);
	m = sim_obj_new(ctx, &mirror_type, argv[1], sizeof(*m));
	if (!m)
		return -1;
	dev = mirror_create(mm, flags);
	if (IS_ERR(dev)) {
		sim_obj_discard(ctx->world, &m->obj);
		return sim_result_errno(ctx, PTR_ERR(dev));
	}
	m->dev = dev;
	m->proc = p;
	p->holds += MIRROR_MM_COUNT_REFS;
	return sim_result_errno(ctx, 0);
}

static struct mirror *open_dev(struct sim_ctx *ctx, const char *name, int *err)
{
	struct sim_mirror *m = mirror_lookup(ctx, name);

	*err = 0;
	if (!m) {
		*err = -1;
		return NULL;
	}
	if (!m->dev)
		*err = -ENODEV;
	return m->dev;
}

static int dev_mirror_read(void *dev, unsigned long addr, void *buf, size_t len)
{
	return mirror_read(dev, addr, buf, len);
}

static int dev_mirror_write(void *dev, unsigned long addr, const void *buf, size_t len)
{
	return mirror_write(dev, addr, buf, len);
}

static int cmd_mirror_read(struct sim_ctx *ctx, int argc, char **argv)
{
	struct mirror *dev;
	int err;

	(void)argc;
	dev = open_dev(ctx, argv[1], &err);
	if (err == -1)
		return -1;
	return sim_xfer_read(ctx, "mirror_read", argv[2], argv[3], err, dev_mirror_read, dev);
}

static int cmd_mirror_write(struct sim_ctx *ctx, int argc, char **argv)
{
	struct mirror *dev;
	int err;

	(void)argc;
	dev = open_dev(ctx, argv[1], &err);
	if (err == -1)
		return -1;
	return sim_xfer_write(ctx, argv[2], argv[3], err, dev_mirror_write, dev);
}

static int cmd_mirror_stat(struct sim_ctx *ctx, int argc, char **argv)
{
	struct mirror *dev;
	int err;

	(void)argc;
	dev = open_dev(ctx, argv[1], &err);
	if (err == -1)
		return -1;
	if (!dev)
		return sim_result_errno(ctx, err);
	return sim_result(ctx, "entries=%lu invalidations=%lu stale=%lu", mirror_nr_entries(dev),
			  mirror_nr_invalidations(dev), mirror_nr_stale(dev));
}

static int cmd_mirror_close(struct sim_ctx *ctx, int argc, char **argv)
{
	struct sim_mirror *m = mirror_lookup(ctx, argv[1]);

	(void)argc;
	if (!m)
		return -1;
	if (!m->dev)
		return sim_result_errno(ctx, -ENODEV); /* closed twice */
	mirror_close_dev(m);
	return sim_result_errno(ctx, 0);
}

const struct sim_cmd sim_cmds_mirror[] = {
	{"mirror", 2, 3, cmd_mirror, "mirror D NAME [broken]",
	 "attach a mirroring device (interval notifier, no pins) to NAME's address space; "
	 "broken = a driver that ignores invalidations",
	 "mirror d1 p1"},
	{"mirror_read", 3, 3, cmd_mirror_read, "mirror_read D ADDR LEN",
	 "device DMA read through its own page table -> hex, -EFAULT, -ESRCH (exited), "
	 "-EIO (stale translation)",
	 "mirror_read d1 0x10000000 4"},
	{"mirror_write", 3, 3, cmd_mirror_write, "mirror_write D ADDR DATA",
	 "device DMA write through its own page table", "mirror_write d1 0x10000000 \"dma\""},
	{"mirror_stat", 1, 1, cmd_mirror_stat, "mirror_stat D",
	 "entries=E invalidations=I stale=S of the device page table",
	 "mirror_stat d1 => entries=1 invalidations=0 stale=0"},
	{"mirror_close", 1, 1, cmd_mirror_close, "mirror_close D",
	 "detach the device (-ENODEV if already closed)", "mirror_close d1"},
	{NULL},
};
