// SPDX-License-Identifier: MIT
/*
 * Scenario commands for the VFIO SPAPR-TCE container (include/secmmu/vfio.h):
 * vfio, vfio_register, vfio_unregister, vfio_map, vfio_unmap, vfio_close,
 * vfio_stat, vfio_fail_next_put, vfio_warnings.
 *
 * `vfio C NAME` opens a container as process NAME: its file goes into NAME's
 * file table, so `exit NAME` closes it (after dropping mm_users). The
 * ioctl-style commands run as NAME (current->mm = NAME's mm): -ESRCH once
 * NAME has exited, -EBADF once the container's file was closed.
 *
 * References: the container's mm_count (taken by its first ioctl,
 * tce_iommu_mm_set, dropped when its file is released) is tracked by the
 * core under the container (VFIO_CONTAINER_HOLDER_KIND); the object claims
 * it while the container's file is open. The release can happen behind the
 * world's back -- the opener's exit closes the file (exit_files) -- and a
 * released container claims nothing, so a reference it kept is a leak. The
 * world object keeps a reference on the container struct (never on the mm)
 * until the end of the run.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "secmmu/page.h"
#include "secmmu/vfio.h"
#include "sim/sim.h"

struct sim_vfio {
	struct sim_obj obj;
	struct tce_container *c;   /* our reference, until FREE */
	struct sim_proc *proc;	   /* the opener: "current" for every ioctl */
	atomic_bool fail_next_put; /* vfio_fail_next_put: read by the container's seam */
};

static void vfio_teardown(struct sim_world *w, struct sim_obj *obj, enum sim_phase phase)
{
	struct sim_vfio *v = (struct sim_vfio *)obj;

	(void)w;
	/* EXIT: the opener's exit closes the file (exit_files). */
	if (phase == SIM_PHASE_FREE && v->c) {
		vfio_container_put(v->c); /* Pairs with vfio_spapr_tce_open(). */
		v->c = NULL;
	}
}

/* An open container claims its references on its opener's mm. */
static bool vfio_holds_ref(struct sim_obj *obj, struct sim_proc *p, const struct mm_holder *h)
{
	struct sim_vfio *v = (struct sim_vfio *)obj;

	return v->c && v->proc == p && h->owner == v->c && !vfio_container_released(v->c);
}

static const struct sim_type vfio_type = {
	.name = "vfio container",
	.teardown = vfio_teardown,
	.holds_ref = vfio_holds_ref,
};

/*
 * The warning counters are per program; a run reports them relative to the
 * values when its first container was opened (kept in a hidden object).
 */
struct sim_vfio_base {
	struct sim_obj obj;
	unsigned long release, destroy;
};

static const struct sim_type vfio_base_type = {
	.name = "vfio counters",
};

#define VFIO_BASE_NAME "vfio.counters" /* internal: found as "@" VFIO_BASE_NAME */

static int vfio_snapshot_counters(struct sim_ctx *ctx)
{
	struct sim_vfio_base *b;

	if (sim_obj_find(ctx->world, &vfio_base_type, "@" VFIO_BASE_NAME))
		return 0;
	b = sim_obj_new_internal(ctx, &vfio_base_type, VFIO_BASE_NAME, sizeof(*b));
	if (!b)
		return -1;
	b->release = vfio_release_warnings();
	b->destroy = vfio_destroy_context_warnings();
	return 0;
}

/*
 * The container's test seam (struct tce_iommu_ops): `vfio_fail_next_put C`
 * makes the next put of a region fail with -EBUSY, as a put of a region
 * that is still mapped does, so the "warn and keep the entry" path runs.
 * Runs under the container's lock: touches only its own flag.
 */
static long sim_prereg_put(struct mm_struct *mm, struct mm_iommu_table_group_mem_t *mem, void *priv)
{
	struct sim_vfio *v = priv;

	if (atomic_exchange(&v->fail_next_put, false))
		return -EBUSY;
	return mm_iommu_put(mm, mem);
}

static const struct tce_iommu_ops sim_tce_ops = {
	.prereg_put = sim_prereg_put,
};

static int cmd_vfio(struct sim_ctx *ctx, int argc, char **argv)
{
	struct sim_proc *p = sim_proc_lookup(ctx, argv[2]);
	struct tce_container *c;
	bool legacy = false;
	struct sim_vfio *v;
	int err;

	if (!p)
		return -1;
	if (argc == 4) {
		if (strcmp(argv[3], "legacy"))
			return sim_malformed(ctx, "vfio: unknown flag '%s' (known: legacy)",
					     argv[3]);
		legacy = true;
	}
	if (!sim_proc_live_mm(p))
		return sim_result_errno(ctx, -ESRCH);
	if (vfio_snapshot_counters(ctx))
		return -1;
	v = sim_obj_new(ctx, &vfio_type, argv[1], sizeof(*v));
	if (!v)
		return -1;
	err = vfio_spapr_tce_open_ops(p->task, legacy ? VFIO_TCE_LEGACY : 0, &sim_tce_ops, v, &c);
	if (err) {
		sim_obj_discard(ctx->world, &v->obj);
		return sim_result_errno(ctx, err);
	}
	v->c = c;
	v->proc = p;
	return sim_result_errno(ctx, 0);
}

/* The container and its opener's live mm; NULL with the line's result set. */
static struct sim_vfio *vfio_current(struct sim_ctx *ctx, const char *name, struct mm_struct **mm,
				     int *ret)
{
	struct sim_vfio *v = sim_obj_lookup(ctx, &vfio_type, name);

	*ret = -1;
	if (!v)
		return NULL;
	if (vfio_container_released(v->c)) {
		*ret = sim_result_errno(ctx, -EBADF);
		return NULL;
	}
	*mm = sim_proc_live_mm(v->proc);
	if (!*mm) {
		*ret = sim_result_errno(ctx, -ESRCH);
		return NULL;
	}
	return v;
}

static int cmd_vfio_register(struct sim_ctx *ctx, int argc, char **argv)
{
	struct mm_struct *mm;
	struct sim_vfio *v;
	uint64_t addr, len;
	int ret;

	(void)argc;
	if (sim_arg_range(ctx, argv[2], argv[3], &addr, &len))
		return -1;
	v = vfio_current(ctx, argv[1], &mm, &ret);
	if (!v)
		return ret;
	if (!strcmp(argv[0], "vfio_register"))
		return sim_result_errno(ctx, tce_iommu_register_pages(v->c, mm, addr, len));
	return sim_result_errno(ctx, tce_iommu_unregister_pages(v->c, mm, addr, len));
}

static int cmd_vfio_map(struct sim_ctx *ctx, int argc, char **argv)
{
	uint64_t iova, addr, len;
	struct mm_struct *mm;
	struct sim_vfio *v;
	int ret;

	(void)argc;
	if (sim_arg_num(ctx, argv[2], &iova) || sim_arg_range(ctx, argv[3], argv[4], &addr, &len))
		return -1;
	if (len && iova + len - 1 < iova)
		return sim_malformed(ctx, "vfio_map: IOVA range wraps past 2^64");
	v = vfio_current(ctx, argv[1], &mm, &ret);
	if (!v)
		return ret;
	return sim_result_errno(ctx, tce_iommu_map(v->c, mm, iova, addr, len));
}

static int cmd_vfio_unmap(struct sim_ctx *ctx, int argc, char **argv)
{
	struct sim_vfio *v = sim_obj_lookup(ctx, &vfio_type, argv[1]);
	uint64_t iova, len;

	(void)argc;
	if (!v || sim_arg_range(ctx, argv[2], argv[3], &iova, &len))
		return -1;
	return sim_result_errno(ctx, tce_iommu_unmap(v->c, iova, len));
}

static int cmd_vfio_close(struct sim_ctx *ctx, int argc, char **argv)
{
	struct sim_vfio *v = sim_obj_lookup(ctx, &vfio_type, argv[1]);

	(void)argc;
	if (!v)
		return -1;
	/* -EBADF when already closed, by vfio_close or by the opener's exit. */
	return sim_result_errno(ctx, vfio_container_close(v->c, v->proc->task));
}

static int cmd_vfio_stat(struct sim_ctx *ctx, int argc, char **argv)
{
	struct sim_vfio *v = sim_obj_lookup(ctx, &vfio_type, argv[1]);

	(void)argc;
	if (!v)
		return -1;
	if (vfio_container_released(v->c))
		return sim_result(ctx, "closed prereg=%lu", vfio_container_nr_prereg(v->c));
	return sim_result(ctx, "prereg=%lu mappings=%lu", vfio_container_nr_prereg(v->c),
			  vfio_container_nr_mappings(v->c));
}

static int cmd_vfio_fail_next_put(struct sim_ctx *ctx, int argc, char **argv)
{
	struct sim_vfio *v = sim_obj_lookup(ctx, &vfio_type, argv[1]);

	(void)argc;
	if (!v)
		return -1;
	atomic_store(&v->fail_next_put, true);
	return sim_result_errno(ctx, 0);
}

static int cmd_vfio_warnings(struct sim_ctx *ctx, int argc, char **argv)
{
	struct sim_vfio_base *b = sim_obj_find(ctx->world, &vfio_base_type, "@" VFIO_BASE_NAME);
	unsigned long rel = vfio_release_warnings(), destroy = vfio_destroy_context_warnings();

	(void)argc;
	(void)argv;
	if (b) {
		rel -= b->release;
		destroy -= b->destroy;
	} else {
		rel = destroy = 0; /* no container in this run */
	}
	return sim_result(ctx, "release=%lu destroy_context=%lu", rel, destroy);
}

const struct sim_cmd sim_cmds_vfio[] = {
	{"vfio", 2, 3, cmd_vfio, "vfio C NAME [legacy]",
	 "open a SPAPR-TCE VFIO container C as process NAME (a file in NAME's table: NAME's "
	 "exit closes it); legacy = the pre-seed-000 driver that unpins only at the last mmdrop",
	 "vfio c1 p1"},
	{"vfio_register", 3, 3, cmd_vfio_register, "vfio_register C ADDR LEN",
	 "preregister (pin, charge locked_vm once per mm) -> ok, -EBUSY (already in C), "
	 "-ENOMEM (memlock), -EFAULT, -EINVAL",
	 "vfio_register c1 0x10000000 64K"},
	{"vfio_unregister", 3, 3, cmd_vfio_register, "vfio_unregister C ADDR LEN",
	 "undo C's preregistration -> ok, -ENOENT (not C's), -EBUSY (still mapped, or the put "
	 "failed)",
	 "vfio_unregister c1 0x10000000 64K"},
	{"vfio_map", 4, 4, cmd_vfio_map, "vfio_map C IOVA ADDR LEN",
	 "TCE entries, page by page, into memory any container of the mm preregistered "
	 "(else -EINVAL, and the entries this call built are cleared); an existing entry is "
	 "replaced",
	 "vfio_map c1 0x0 0x10000000 8K"},
	{"vfio_unmap", 3, 3, cmd_vfio_unmap, "vfio_unmap C IOVA LEN",
	 "clear the TCE entries of the IOVA range (empty ones are skipped) -> ok, -EINVAL "
	 "(unaligned, zero)",
	 "vfio_unmap c1 0x0 8K"},
	{"vfio_close", 1, 1, cmd_vfio_close, "vfio_close C",
	 "close the container's file: unmap all, put every region C preregistered, drop the "
	 "mm (-EBADF if already closed, by vfio_close or the opener's exit)",
	 "vfio_close c1"},
	{"vfio_stat", 1, 1, cmd_vfio_stat, "vfio_stat C",
	 "prereg=N mappings=M of the container; after close: closed prereg=K (entries whose "
	 "put failed)",
	 "vfio_stat c1 => prereg=1 mappings=0"},
	{"vfio_fail_next_put", 1, 1, cmd_vfio_fail_next_put, "vfio_fail_next_put C",
	 "fault injection: C's next mm_iommu_put fails (-EBUSY)", "vfio_fail_next_put c1"},
	{"vfio_warnings", 0, 0, cmd_vfio_warnings, "vfio_warnings",
	 "release=R destroy_context=D: failed puts warned at container release, regions "
	 "destroy_context found left, since this run opened its first container",
	 "vfio_warnings => release=0 destroy_context=0"},
	{NULL},
};
