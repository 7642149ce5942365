// SPDX-License-Identifier: MIT
/*
 * Scenario commands for the GRU-style TLB-only device (include/secmmu/gru.h):
 * gru, gru_read, gru_write, gru_stat, gru_age, gru_close.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "secmmu/err.h"
#include "secmmu/gru.h"
#include "secmmu/mmu_notifier.h"
#include "secmmu/mmu_notifier_hooks.h"
#include "sim/sim.h"

struct sim_gru {
	struct sim_obj obj;
	struct gru *dev;       /* NULL once closed */
	struct sim_proc *proc; /* the process whose mm the device holds (the core tracks how) */
};

static void gru_close_dev(struct sim_gru *g)
{
	if (!g->dev)
		return;
	gru_destroy(g->dev); /* drops the notifier's mm_count */
	g->dev = NULL;
}

/* An open GRU claims every reference its struct gru holds on its process's mm. */
static bool gru_holds_ref(struct sim_obj *obj, struct sim_proc *p, const struct mm_holder *h)
{
	struct sim_gru *g = (struct sim_gru *)obj;

	return g->dev && g->proc == p && h->owner == g->dev;
}

static void gru_teardown(struct sim_world *w, struct sim_obj *obj, enum sim_phase phase)
{
	(void)w;
	if (phase == SIM_PHASE_DETACH)
		gru_close_dev((struct sim_gru *)obj);
}

static void gru_check(struct sim_ctx *ctx, struct sim_obj *obj)
{
	struct sim_gru *g = (struct sim_gru *)obj;
	struct gru_stats st;

	if (!g->dev)
		return;
	gru_get_stats(g->dev, &st);
	if (st.stale)
		sim_check_report(ctx, "gru %s: %lu accesses through stale TLB entries", obj->name,
				 st.stale);
}

static const struct sim_type gru_type = {
	.name = "gru device",
	.teardown = gru_teardown,
	.check = gru_check,
	.holds_ref = gru_holds_ref,
};

static int cmd_gru(struct sim_ctx *ctx, int argc, char **argv)
{
	struct sim_proc *p = sim_proc_lookup(ctx, argv[2]);
	unsigned int flags = 0;
	struct mm_struct *mm;
	struct sim_gru *g;
	struct gru *dev;

	if (!p)
		return -1;
	if (argc == 4) {
		if (strcmp(argv[3], "broken"))
			return sim_malformed(ctx, "gru: unknown flag '%s' (known: broken)",
					     argv[3]);
		flags = GRU_BROKEN;
	}
	mm = sim_proc_live_mm(p);
	if (!mm)
		return sim_result_errno(ctx, -ESRCH);
	g = sim_obj_new(ctx, &gru_type, argv[1], sizeof(*g));
	if (!g)
		return -1;
	dev = gru_create(mm, flags);
	if (IS_ERR(dev)) {
		sim_obj_discard(ctx->world, &g->obj);
		return sim_result_errno(ctx, PTR_ERR(dev));
	}
	g->dev = dev;
	g->proc = p;
	return sim_result_errno(ctx, 0);
}

/* The open device called @name: -1 (malformed), or *dev NULL with -ENODEV. */
static int open_dev(struct sim_ctx *ctx, const char *name, struct sim_gru **gp)
{
	*gp = sim_obj_lookup(ctx, &gru_type, name);
	if (!*gp)
		return -1;
	return (*gp)->dev ? 0 : -ENODEV;
}

static int dev_gru_read(void *dev, unsigned long addr, void *buf, size_t len)
{
	return gru_read(dev, addr, buf, len);
}

static int dev_gru_write(void *dev, unsigned long addr, const void *buf, size_t len)
{
	return gru_write(dev, addr, buf, len);
}

static int cmd_gru_read(struct sim_ctx *ctx, int argc, char **argv)
{
	struct sim_gru *g;
	int err;

	(void)argc;
	err = open_dev(ctx, argv[1], &g);
	if (err == -1)
		return -1;
	return sim_xfer_read(ctx, "gru_read", argv[2], argv[3], err, dev_gru_read,
			     err ? NULL : g->dev);
}

static int cmd_gru_write(struct sim_ctx *ctx, int argc, char **argv)
{
	struct sim_gru *g;
	int err;

	(void)argc;
	err = open_dev(ctx, argv[1], &g);
	if (err == -1)
		return -1;
	return sim_xfer_write(ctx, argv[2], argv[3], err, dev_gru_write, err ? NULL : g->dev);
}

static int cmd_gru_stat(struct sim_ctx *ctx, int argc, char **argv)
{
	struct gru_stats st;
	struct sim_gru *g;
	int err;

	(void)argc;
	err = open_dev(ctx, argv[1], &g);
	if (err == -1)
		return -1;
	if (err)
		return sim_result_errno(ctx, err);
	gru_get_stats(g->dev, &st);
	return sim_result(ctx, "tlb=%lu misses=%lu flushes=%lu young=%lu stale=%lu", st.tlb,
			  st.misses, st.flushes, st.young, st.stale);
}

/* One aging pass of reclaim over the range: mmu_notifier_clear_flush_young(). */
static int cmd_gru_age(struct sim_ctx *ctx, int argc, char **argv)
{
	struct sim_gru *g;
	struct mm_struct *mm;
	uint64_t addr, len;
	int err;

	(void)argc;
	err = open_dev(ctx, argv[1], &g);
	if (err == -1 || sim_arg_range(ctx, argv[2], argv[3], &addr, &len))
		return -1;
	if (!len || (addr & (PAGE_SIZE - 1)) || (len & (PAGE_SIZE - 1)))
		return sim_result_errno(ctx, -EINVAL);
	if (err)
		return sim_result_errno(ctx, err);
	mm = sim_proc_live_mm(g->proc);
	if (!mm)
		return sim_result_errno(ctx, -ESRCH);
	return sim_result(ctx, "young=%d", mmu_notifier_clear_flush_young(mm, addr, addr + len));
}

static int cmd_gru_close(struct sim_ctx *ctx, int argc, char **argv)
{
	struct sim_gru *g = sim_obj_lookup(ctx, &gru_type, argv[1]);

	(void)argc;
	if (!g)
		return -1;
	if (!g->dev)
		return sim_result_errno(ctx, -ENODEV);
	gru_close_dev(g);
	return sim_result_errno(ctx, 0);
}

const struct sim_cmd sim_cmds_gru[] = {
	{"gru", 2, 3, cmd_gru, "gru G NAME [broken]",
	 "open a GRU-style TLB-only device on NAME (classic notifier, 8-entry TLB, no pins); "
	 "broken = invalidations flush nothing",
	 "gru g1 p1"},
	{"gru_read", 3, 3, cmd_gru_read, "gru_read G ADDR LEN",
	 "device read through the TLB, misses resolved by the CPU -> hex, -EFAULT, -ESRCH "
	 "(exited), -EIO (stale TLB entry)",
	 "gru_read g1 0x10000000 4"},
	{"gru_write", 3, 3, cmd_gru_write, "gru_write G ADDR DATA", "device write through the TLB",
	 "gru_write g1 0x10000000 \"gru\""},
	{"gru_stat", 1, 1, cmd_gru_stat, "gru_stat G",
	 "tlb=N misses=M flushes=F young=Y stale=S of the device TLB",
	 "gru_stat g1 => tlb=1 misses=1 flushes=0 young=1 stale=0"},
	{"gru_age", 3, 3, cmd_gru_age, "gru_age G ADDR LEN",
	 "one aging pass (clear_flush_young) over the range of G's process -> young=N",
	 "gru_age g1 0x10000000 16K => young=1"},
	{"gru_close", 1, 1, cmd_gru_close, "gru_close G",
	 "close the device (-ENODEV if already closed)", "gru_close g1"},
	{NULL},
};
