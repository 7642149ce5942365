// SPDX-License-Identifier: MIT
/*
 * Scenario commands for XPMEM-style segments (include/secmmu/xpmem.h):
 * xpmem_make, xpmem_attach, xpmem_detach, xpmem_remove, xpmem_stat.
 *
 * A segment holds references on its exporter's mm until xpmem_remove (the
 * core's tracker knows which; the segment object claims them).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "secmmu/err.h"
#include "secmmu/xpmem.h"
#include "sim/sim.h"

struct sim_xpmem {
	struct sim_obj obj;
	struct xpmem_segment *seg; /* NULL once removed */
	struct sim_proc *proc;
};

static void xpmem_remove_seg(struct sim_xpmem *x)
{
	if (!x->seg)
		return;
	xpmem_remove(x->seg); /* drops the notifier's mm_count */
	x->seg = NULL;
}

/* A segment not yet removed claims every reference it holds on its exporter's mm. */
static bool xpmem_holds_ref(struct sim_obj *obj, struct sim_proc *p, const struct mm_holder *h)
{
	struct sim_xpmem *x = (struct sim_xpmem *)obj;

	return x->seg && x->proc == p && h->owner == x->seg;
}

static void xpmem_teardown(struct sim_world *w, struct sim_obj *obj, enum sim_phase phase)
{
	(void)w;
	if (phase == SIM_PHASE_DETACH)
		xpmem_remove_seg((struct sim_xpmem *)obj);
}

static const struct sim_type xpmem_type = {
	.name = "xpmem segment",
	.teardown = xpmem_teardown,
	.holds_ref = xpmem_holds_ref,
};

static int cmd_xpmem_make(struct sim_ctx *ctx, int argc, char **argv)
{
	struct sim_proc *p = sim_proc_lookup(ctx, argv[2]);
	struct xpmem_segment *seg;
	unsigned int flags = 0;
	uint64_t addr, len;
	struct mm_struct *mm;
	struct sim_xpmem *x;

	if (!p || sim_arg_num(ctx, argv[3], &addr) || sim_arg_size(ctx, argv[4], &len))
		return -1;
	for (int i = 5; i < argc; i++) {
		if (!strcmp(argv[i], "remote"))
			flags |= XPMEM_REMOTE;
		else if (!strcmp(argv[i], "broken"))
			flags |= XPMEM_BROKEN;
		else
			return sim_malformed(ctx,
					     "xpmem_make: unknown flag '%s' (known: remote broken)",
					     argv[i]);
	}
	mm = sim_proc_live_mm(p);
	if (!mm)
		return sim_result_errno(ctx, -ESRCH);
	x = sim_obj_new(ctx, &xpmem_type, argv[1], sizeof(*x));
	if (!x)
		return -1;
	seg = xpmem_make_named(mm, addr, len, flags, argv[1]);
	if (IS_ERR(seg)) {
		sim_obj_discard(ctx->world, &x->obj);
		return sim_result_errno(ctx, PTR_ERR(seg));
	}
	x->seg = seg;
	x->proc = p;
	return sim_result_errno(ctx, 0);
}

static int cmd_xpmem_attach(struct sim_ctx *ctx, int argc, char **argv)
{
	struct sim_xpmem *x = sim_obj_lookup(ctx, &xpmem_type, argv[1]);
	struct sim_proc *p = x ? sim_proc_lookup(ctx, argv[2]) : NULL;
	struct mm_struct *mm;
	uint64_t addr;

	(void)argc;
	if (!p || sim_arg_num(ctx, argv[3], &addr))
		return -1;
	if (!x->seg)
		return sim_result_errno(ctx, -ENODEV);
	mm = sim_proc_live_mm(p);
	if (!mm)
		return sim_result_errno(ctx, -ESRCH);
	return sim_result_errno(ctx, xpmem_attach(x->seg, mm, addr));
}

static int cmd_xpmem_detach(struct sim_ctx *ctx, int argc, char **argv)
{
	struct sim_proc *p = sim_proc_lookup(ctx, argv[1]);
	struct mm_struct *mm;
	uint64_t addr;

	(void)argc;
	if (!p || sim_arg_num(ctx, argv[2], &addr))
		return -1;
	mm = sim_proc_live_mm(p);
	if (!mm)
		return sim_result_errno(ctx, -ESRCH);
	return sim_result_errno(ctx, xpmem_detach(mm, addr));
}

static int cmd_xpmem_remove(struct sim_ctx *ctx, int argc, char **argv)
{
	struct sim_xpmem *x = sim_obj_lookup(ctx, &xpmem_type, argv[1]);

	(void)argc;
	if (!x)
		return -1;
	if (!x->seg)
		return sim_result_errno(ctx, -ENODEV);
	xpmem_remove_seg(x);
	return sim_result_errno(ctx, 0);
}

static int cmd_xpmem_stat(struct sim_ctx *ctx, int argc, char **argv)
{
	struct sim_xpmem *x = sim_obj_lookup(ctx, &xpmem_type, argv[1]);
	struct xpmem_stats st;

	(void)argc;
	if (!x)
		return -1;
	if (!x->seg)
		return sim_result_errno(ctx, -ENODEV);
	xpmem_get_stats(x->seg, &st);
	return sim_result(ctx, "attached=%lu faults=%lu invalidations=%lu messages=%lu acks=%lu",
			  st.attached, st.faults, st.invalidations, st.messages, st.acks);
}

const struct sim_cmd sim_cmds_xpmem[] = {
	{"xpmem_make", 4, 6, cmd_xpmem_make, "xpmem_make SEG NAME ADDR LEN [remote] [broken]",
	 "export NAME's [ADDR, ADDR+LEN) as segment SEG (interval notifier: mm_count); remote = "
	 "invalidations are messages to a node thread, waited for; broken = nothing is zapped",
	 "xpmem_make s1 p1 0x10000000 16K"},
	{"xpmem_attach", 3, 3, cmd_xpmem_attach, "xpmem_attach SEG NAME2 ADDR",
	 "map segment SEG into NAME2 at ADDR (shared, rw); faults resolve in the exporter",
	 "xpmem_attach s1 p2 0x20000000"},
	{"xpmem_detach", 2, 2, cmd_xpmem_detach, "xpmem_detach NAME2 ADDR",
	 "unmap the attachment starting at ADDR (-EINVAL if none)", "xpmem_detach p2 0x20000000"},
	{"xpmem_remove", 1, 1, cmd_xpmem_remove, "xpmem_remove SEG",
	 "withdraw the segment: attachments are torn down (later importer accesses -EFAULT)",
	 "xpmem_remove s1"},
	{"xpmem_stat", 1, 1, cmd_xpmem_stat, "xpmem_stat SEG",
	 "attached=A faults=F invalidations=I messages=M acks=K",
	 "xpmem_stat s1 => attached=1 faults=1 invalidations=0 messages=0 acks=0"},
	{NULL},
};
