// SPDX-License-Identifier: MIT
/*
 * System-wide commands: phys, swap, mem, limit, check.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "secmmu/memremap.h"
#include "secmmu/check.h"
#include "secmmu/iommu.h"
#include "secmmu/mmu_notifier.h"
#include "secmmu/migrate.h"
#include "secmmu/mm.h"
#include "secmmu/page.h"
#include "secmmu/swap.h"
#include "sim/sim.h"

static int cmd_phys(struct sim_ctx *ctx, int argc, char **argv)
{
	uint64_t size;
	int err;

	(void)argc;
	if (sim_world_phys_fixed(ctx->world))
		return sim_malformed(ctx, "phys: memory is already in use (phys must come before "
					  "any mm)");
	if (sim_arg_size(ctx, argv[1], &size))
		return -1;
	if (size > SIZE_MAX)
		return sim_result_errno(ctx, -EINVAL);
	err = phys_init((size_t)size);
	if (!err)
		sim_world_phys_set_owned(ctx->world);
	return sim_result_errno(ctx, err);
}

/*
 * swap SIZE [file=PATH [overwrite]|memory]: a refused command (-EBUSY,
 * -EEXIST, ...) never touches a file it did not create (see swap_on()).
 */
static int cmd_swap(struct sim_ctx *ctx, int argc, char **argv)
{
	unsigned int flags = 0;
	const char *path = "";
	uint64_t size;
	int err;

	if (sim_arg_size(ctx, argv[1], &size))
		return -1;
	if (argc >= 3) {
		if (!strcmp(argv[2], "memory") && argc == 3)
			path = NULL;
		else if (!strncmp(argv[2], "file=", 5) && argv[2][5])
			path = argv[2] + 5;
		else
			return sim_malformed(ctx, "swap: expected file=PATH or memory, got '%s'",
					     argv[2]);
	}
	if (argc == 4) {
		if (strcmp(argv[3], "overwrite"))
			return sim_malformed(
				ctx, "swap: expected overwrite after file=PATH, got '%s'", argv[3]);
		flags |= SWAP_ON_OVERWRITE;
	}
	if (size > SIZE_MAX)
		return sim_result_errno(ctx, -EINVAL);
	if (sim_world_need_phys(ctx->world))
		return sim_malformed(ctx, "out of memory");
	err = swap_on_flags((size_t)size, path, flags);
	if (!err)
		sim_world_swap_set_owned(ctx->world);
	return sim_result_errno(ctx, err);
}

static int cmd_ksm(struct sim_ctx *ctx, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	if (!phys_initialized())
		return sim_result(ctx, "merged=0");
	return sim_result(ctx, "merged=%lu", ksm_scan_all());
}

static int cmd_pressure(struct sim_ctx *ctx, int argc, char **argv)
{
	uint64_t n;

	(void)argc;
	if (sim_arg_num(ctx, argv[1], &n))
		return -1;
	if (!phys_initialized())
		return sim_result(ctx, "reclaimed=0");
	return sim_result(ctx, "reclaimed=%lu", try_to_free_pages((unsigned long)n));
}

/* Sum locked_vm over the distinct mm structs the world can still reach. */
static unsigned long world_locked_vm(struct sim_world *w)
{
	unsigned long total = 0;

	sim_for_each_obj(w, o)
	{
		struct sim_proc *p = (struct sim_proc *)o;
		struct mm_stats st;

		if (o->type != &sim_process_type || !sim_proc_mm(p))
			continue;
		mm_get_stats(p->mm, &st);
		total += st.locked_vm;
	}
	return total;
}

static int mem_of_process(struct sim_ctx *ctx, const char *name)
{
	struct sim_proc *p = sim_proc_lookup(ctx, name);
	struct mm_struct *mm;
	struct mm_stats st;

	if (!p)
		return -1;
	mm = sim_proc_live_mm(p);
	if (!mm)
		return sim_result_errno(ctx, -ESRCH);
	mm_get_stats(mm, &st);
	return sim_result(ctx, "rss=%lu swap=%lu locked_vm=%lu pinned=%lu thp=%lu", st.rss, st.swap,
			  st.locked_vm, st.pinned_vm, st.thp);
}

static int cmd_mem(struct sim_ctx *ctx, int argc, char **argv)
{
	unsigned long frames = 0, pinned = 0;

	if (argc == 2)
		return mem_of_process(ctx, argv[1]);
	if (phys_initialized()) {
		frames = phys_used_frames();
		pinned = phys_pinned_frames();
	}
	/* Device-private pages are counted only while some are in use. */
	if (device_pages_used())
		return sim_result(ctx, "frames=%lu pinned=%lu swapped=%lu locked_vm=%lu device=%lu",
				  frames, pinned, swap_slots_used(), world_locked_vm(ctx->world),
				  device_pages_used());
	return sim_result(ctx, "frames=%lu pinned=%lu swapped=%lu locked_vm=%lu", frames, pinned,
			  swap_slots_used(), world_locked_vm(ctx->world));
}

static int cmd_oom_reap(struct sim_ctx *ctx, int argc, char **argv)
{
	struct sim_proc *p = sim_proc_lookup(ctx, argv[1]);
	unsigned long reaped;
	struct mm_struct *mm;
	int ret;

	(void)argc;
	if (!p)
		return -1;
	mm = sim_proc_live_mm(p);
	if (!mm)
		return sim_result_errno(ctx, -ESRCH);
	ret = mm_oom_reap(mm, &reaped);
	if (ret)
		return sim_result_errno(ctx, ret);
	return sim_result(ctx, "reaped=%lu", reaped);
}

static int cmd_limit(struct sim_ctx *ctx, int argc, char **argv)
{
	struct sim_proc *p = sim_proc_lookup(ctx, argv[1]);
	struct mm_struct *mm;
	uint64_t bytes = RLIM_INFINITY;

	(void)argc;
	if (!p)
		return -1;
	if (strcmp(argv[2], "memlock"))
		return sim_malformed(ctx, "limit: unknown resource '%s' (known: memlock)", argv[2]);
	if (strcmp(argv[3], "unlimited") && sim_arg_size(ctx, argv[3], &bytes))
		return -1;
	mm = sim_proc_live_mm(p);
	if (!mm)
		return sim_result_errno(ctx, -ESRCH);
	mm_set_memlock_limit(mm, (unsigned long)bytes);
	return sim_result_errno(ctx, 0);
}

static void check_report(void *arg, const char *fmt, va_list ap)
{
	char msg[256];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	sim_check_report(arg, "%s", msg);
}

/* Frames, swap slots and stale translations: the core's own bookkeeping. */
static void check_frames(struct sim_ctx *ctx)
{
	unsigned long stale = sim_world_new_stale(ctx->world);
	char first[200];
	unsigned long rules = sim_world_new_rules(ctx->world, first, sizeof(first));

	mm_check_invariants(check_report, ctx);
	const char *path = phys_initialized() ? phys_stale_path() : NULL;

	if (stale)
		sim_check_report(ctx,
				 "devices used %lu stale translations (a frame freed or "
				 "reused under a secondary MMU%s%s)",
				 stale, path ? "; the last one freed by " : "", path ? path : "");
	if (rules)
		sim_check_report(ctx, "the secondary-MMU contract was broken %lu times (first: %s)",
				 rules, first);
}

/* Every pin is held by somebody the world knows: a pin handle or a VFIO region. */
static void check_pins(struct sim_ctx *ctx)
{
	unsigned long pins, known;

	if (!phys_initialized())
		return;
	pins = phys_total_pins();
	known = sim_world_known_pins(ctx->world);
	if (pins != known)
		sim_check_report(ctx,
				 "pins: %lu pins on frames but the world knows of %lu (pin handles "
				 "+ VFIO preregistered pages)",
				 pins, known);
}

/* Every allocated PASID belongs to a bond in the PASID table of a world device. */
static void check_pasids(struct sim_ctx *ctx)
{
	unsigned int allocated, known;

	mmu_notifier_synchronize(); /* a PASID is freed with its notifier */
	allocated = iommu_pasid_nr_allocated() - sim_world_base_pasids(ctx->world);
	known = sim_iommu_known_pasids(ctx->world);
	if (allocated != known)
		sim_check_report(ctx, "pasids: %u allocated but %u belong to bonds the world knows",
				 allocated, known);
}

static int cmd_check(struct sim_ctx *ctx, int argc, char **argv)
{
	int users, count;

	(void)argc;
	(void)argv;
	ctx->check_mode = true;
	/*
	 * Quiesce first: pending RCU callbacks (a region destroy_context left,
	 * a notifier's mmdrop) and freed notifiers' PASIDs.
	 */
	mm_query_refs(ULONG_MAX, &users, &count);
	mmu_notifier_synchronize();
	sim_world_sync(ctx->world);
	check_frames(ctx);
	check_pins(ctx);
	check_pasids(ctx);
	sim_for_each_obj(ctx->world, o) if (o->type->check) o->type->check(ctx, o);
	if (!ctx->result)
		return sim_result(ctx, "ok");
	return 0;
}

const struct sim_cmd sim_cmds_system[] = {
	{"phys", 1, 1, cmd_phys, "phys SIZE",
	 "create physical memory of SIZE bytes (default 64M); only before any mm", "phys 16M"},
	{"swap", 1, 3, cmd_swap, "swap SIZE [file=PATH [overwrite]|memory]",
	 "create the swap device: a file (default: a fresh name under $TMPDIR; removed at the end "
	 "if the run created it) or memory; -EBUSY if one exists, -EEXIST if PATH exists and "
	 "overwrite is not given",
	 "swap 8M"},
	{"ksm", 0, 0, cmd_ksm, "ksm",
	 "one full KSM scan of MADV_MERGEABLE memory: identical pages share one write-protected "
	 "frame -> merged=K (frames freed)",
	 "ksm => merged=1"},
	{"pressure", 1, 1, cmd_pressure, "pressure N",
	 "memory pressure: reclaim up to N pages (second chance for referenced ones; pinned "
	 "pages stay) -> reclaimed=K",
	 "pressure 64 => reclaimed=3"},
	{"mem", 0, 1, cmd_mem, "mem [NAME]",
	 "memory totals: frames=F pinned=P swapped=S locked_vm=L (+ device=D, device-private pages "
	 "in use, once a device has memory); with NAME: "
	 "rss=R swap=S locked_vm=L pinned=P thp=H of that process (H: PMD-mapped huge pages)",
	 "mem p1 => rss=1 swap=0 locked_vm=0 pinned=0 thp=0"},
	{"limit", 3, 3, cmd_limit, "limit NAME memlock SIZE|unlimited",
	 "set the RLIMIT_MEMLOCK of NAME", "limit p1 memlock 64K"},
	{"oom_reap", 1, 1, cmd_oom_reap, "oom_reap NAME",
	 "the OOM reaper on NAME (chosen as an OOM victim): unmap its private anonymous memory "
	 "now, "
	 "inside non-blockable invalidations -> reaped=N (pages), -EAGAIN (mmap_lock busy, or a "
	 "secondary MMU would have to sleep: that memory was left), -ESRCH (exited)",
	 "oom_reap p1 => reaped=1"},
	{"check", 0, 0, cmd_check, "check", "run the invariant checks now: ok, or what broke",
	 "check => ok"},
	{NULL},
};
