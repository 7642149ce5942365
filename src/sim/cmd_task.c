// SPDX-License-Identifier: MIT
/*
 * Processes, kernel threads and address-space lifetime: mm, fork, exit,
 * refs, get, put, grab, drop, kthread, lazy, wake.
 *
 * The script's own get/grab references are counted per process, so that a
 * put or drop without a matching get or grab is refused (-EINVAL) instead
 * of underflowing the kernel's counters: no script can crash the runner.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "secmmu/err.h"
#include "secmmu/mm.h"
#include "secmmu/sched.h"
#include "sim/sim.h"

/*
 * A new process entry for @name. An exited process of that name is retired
 * first (its name is free again; it is still torn down at the end); *@old
 * is set to it, for process_failed().
 */
static struct sim_proc *new_process(struct sim_ctx *ctx, const char *name, struct sim_proc **old)
{
	struct sim_proc *p;

	*old = sim_obj_find(ctx->world, &sim_process_type, name);
	if (*old && !sim_proc_live_mm(*old))
		sim_obj_retire(ctx->world, &(*old)->obj);
	else
		*old = NULL;
	p = sim_obj_new(ctx, &sim_process_type, name, sizeof(struct sim_proc));
	if (p)
		p->world = ctx->world;
	else if (*old)
		sim_obj_unretire(ctx->world, &(*old)->obj);
	return p;
}

/* The command creating @p failed: forget @p, give the name back to @old. */
static void process_failed(struct sim_ctx *ctx, struct sim_proc *p, struct sim_proc *old)
{
	sim_obj_discard(ctx->world, &p->obj);
	if (old)
		sim_obj_unretire(ctx->world, &old->obj);
}

static void set_process_task(struct sim_proc *p, struct task_struct *task)
{
	p->task = task;
	p->mm = task_mm(task);
	p->mm_id = mm_id(p->mm);
}

static int cmd_mm(struct sim_ctx *ctx, int argc, char **argv)
{
	struct task_struct *task;
	struct sim_proc *p, *old;
	struct mm_struct *mm;
	int err;

	(void)argc;
	p = new_process(ctx, argv[1], &old);
	if (!p)
		return -1;
	err = sim_world_need_phys(ctx->world);
	if (err)
		goto fail;
	err = -ENOMEM;
	mm = mm_alloc();
	if (!mm)
		goto fail;
	task = task_create(argv[1], mm);
	if (!task) {
		mmput(mm);
		goto fail;
	}
	set_process_task(p, task);
	return sim_result_errno(ctx, 0);
fail:
	process_failed(ctx, p, old);
	return sim_result_errno(ctx, err);
}

static int cmd_fork(struct sim_ctx *ctx, int argc, char **argv)
{
	struct sim_proc *parent, *child, *old;
	struct task_struct *task;
	int err;

	(void)argc;
	parent = sim_proc_lookup(ctx, argv[1]);
	if (!parent)
		return -1;
	/* Checked before the child's name can retire an exited parent's. */
	if (!sim_proc_live_mm(parent))
		return sim_result_errno(ctx, -ESRCH);
	child = new_process(ctx, argv[2], &old);
	if (!child)
		return -1;
	err = task_fork(parent->task, argv[2], &task);
	if (err) {
		/* Failure changes nothing: an exited CHILD keeps its name. */
		process_failed(ctx, child, old);
		return sim_result_errno(ctx, err);
	}
	set_process_task(child, task);
	return sim_result_errno(ctx, 0);
}

static int cmd_exit(struct sim_ctx *ctx, int argc, char **argv)
{
	struct sim_proc *p = sim_proc_lookup(ctx, argv[1]);

	(void)argc;
	if (!p)
		return -1;
	return sim_result_errno(ctx, task_exit(p->task));
}

/*
 * `refs NAME holders`: the core's reference tracker, one "KIND OBJECT
 * users=U count=C" per holder (OBJECT: the world object that claims it, "?"
 * if none), in the order the holders first took a reference.
 */
static int refs_holders(struct sim_ctx *ctx, struct sim_proc *p)
{
	struct mm_holder hbuf[SIM_MAX_HOLDERS], *h;
	char *out, buf[160];
	size_t len = 0, cap;
	int n, ret;

	n = sim_query_holders(p, false, hbuf, &h);
	if (n == -ESRCH)
		return sim_result(ctx, "freed");
	if (n < 0)
		return sim_result_errno(ctx, n);
	cap = (size_t)n * 2 * sizeof(buf) + 8;
	out = malloc(cap);
	if (!out) {
		sim_holders_free(hbuf, h);
		return sim_result_errno(ctx, -ENOMEM);
	}
	out[0] = 0;
	for (int i = 0; i < n; i++) {
		sim_holder_format(ctx->world, p, &h[i], buf, sizeof(buf));
		len += (size_t)snprintf(out + len, cap - len, "%s%s", i ? ", " : "", buf);
		if (len >= cap)
			break;
	}
	ret = sim_result(ctx, "%s", n ? out : "none");
	free(out);
	sim_holders_free(hbuf, h);
	return ret;
}

static int cmd_refs(struct sim_ctx *ctx, int argc, char **argv)
{
	struct sim_proc *p = sim_proc_lookup(ctx, argv[1]);
	int users, count, err;

	if (!p)
		return -1;
	if (argc == 3) {
		if (strcmp(argv[2], "holders"))
			return sim_malformed(ctx, "refs: unknown argument '%s' (known: holders)",
					     argv[2]);
		return refs_holders(ctx, p);
	}
	err = mm_query_refs(p->mm_id, &users, &count);
	if (err == -ESRCH)
		return sim_result(ctx, "freed");
	if (err)
		return sim_result_errno(ctx, err);
	return sim_result(ctx, "users=%d count=%d", users, count);
}

static int cmd_get(struct sim_ctx *ctx, int argc, char **argv)
{
	struct sim_proc *p = sim_proc_lookup(ctx, argv[1]);
	struct mm_struct *mm;

	(void)argc;
	if (!p)
		return -1;
	mm = sim_proc_mm(p);
	if (!mm || !mmget_not_zero_tracked(mm, p, SIM_SCRIPT_HOLDER_KIND))
		return sim_result_errno(ctx, -ESRCH);
	p->gets++;
	return sim_result_errno(ctx, 0);
}

static int cmd_put(struct sim_ctx *ctx, int argc, char **argv)
{
	struct sim_proc *p = sim_proc_lookup(ctx, argv[1]);

	(void)argc;
	if (!p)
		return -1;
	if (!p->gets)
		return sim_result_errno(ctx, -EINVAL);
	p->gets--;
	mmput_tracked(p->mm, p, SIM_SCRIPT_HOLDER_KIND);
	return sim_result_errno(ctx, 0);
}

static int cmd_grab(struct sim_ctx *ctx, int argc, char **argv)
{
	struct sim_proc *p = sim_proc_lookup(ctx, argv[1]);
	struct mm_struct *mm;

	(void)argc;
	if (!p)
		return -1;
	mm = sim_proc_mm(p);
	if (!mm)
		return sim_result_errno(ctx, -ESRCH);
	mmgrab_tracked(mm, p, SIM_SCRIPT_HOLDER_KIND);
	p->grabs++;
	return sim_result_errno(ctx, 0);
}

static int cmd_drop(struct sim_ctx *ctx, int argc, char **argv)
{
	struct sim_proc *p = sim_proc_lookup(ctx, argv[1]);

	(void)argc;
	if (!p)
		return -1;
	if (!p->grabs)
		return sim_result_errno(ctx, -EINVAL);
	p->grabs--;
	mmdrop_tracked(p->mm, p, SIM_SCRIPT_HOLDER_KIND);
	return sim_result_errno(ctx, 0);
}

static int cmd_kthread(struct sim_ctx *ctx, int argc, char **argv)
{
	struct sim_kthread *k;

	(void)argc;
	k = sim_obj_new(ctx, &sim_kthread_type, argv[1], sizeof(*k));
	if (!k)
		return -1;
	k->task = kthread_create(argv[1]);
	if (!k->task) {
		sim_obj_discard(ctx->world, &k->obj);
		return sim_result_errno(ctx, -ENOMEM);
	}
	return sim_result_errno(ctx, 0);
}

static int cmd_lazy(struct sim_ctx *ctx, int argc, char **argv)
{
	struct sim_kthread *k = sim_kthread_lookup(ctx, argv[1]);
	struct sim_proc *p;
	int err;

	(void)argc;
	if (!k)
		return -1;
	p = sim_proc_lookup(ctx, argv[2]);
	if (!p)
		return -1;
	err = kthread_switch_lazy(k->task, p->task);
	if (!err)
		k->lazy = p;
	return sim_result_errno(ctx, err);
}

static int cmd_wake(struct sim_ctx *ctx, int argc, char **argv)
{
	struct sim_kthread *k = sim_kthread_lookup(ctx, argv[1]);
	int err;

	(void)argc;
	if (!k)
		return -1;
	err = kthread_switch_away(k->task);
	if (!err)
		k->lazy = NULL;
	return sim_result_errno(ctx, err);
}

const struct sim_cmd sim_cmds_task[] = {
	{"mm", 1, 1, cmd_mm, "mm NAME",
	 "a new process NAME with a fresh address space (users=1 count=1)", "mm p1"},
	{"fork", 2, 2, cmd_fork, "fork PARENT CHILD",
	 "fork PARENT: CHILD gets a copy-on-write copy of its address space", "fork p1 p2"},
	{"exit", 1, 1, cmd_exit, "exit NAME",
	 "NAME exits: its mm_users reference is dropped, then its files are closed", "exit p1"},
	{"refs", 1, 2, cmd_refs, "refs NAME [holders]",
	 "the counters of NAME's mm: users=U count=C, or freed once the struct is gone; "
	 "holders: who holds them (KIND OBJECT users=U count=C, ...)",
	 "refs p1 => users=1 count=1"},
	{"get", 1, 1, cmd_get, "get NAME",
	 "mmget_not_zero on NAME's mm, as a driver would (-ESRCH once users is 0)", "get p1"},
	{"put", 1, 1, cmd_put, "put NAME",
	 "mmput a reference the script took with get (-EINVAL if it holds none)", "put p1"},
	{"grab", 1, 1, cmd_grab, "grab NAME",
	 "mmgrab NAME's mm: pin the struct, not the pages (-ESRCH if unreachable)", "grab p1"},
	{"drop", 1, 1, cmd_drop, "drop NAME",
	 "mmdrop a reference the script took with grab (-EINVAL if it holds none)", "drop p1"},
	{"kthread", 1, 1, cmd_kthread, "kthread K", "a kernel thread K (no mm of its own)",
	 "kthread kworker"},
	{"lazy", 2, 2, cmd_lazy, "lazy K NAME",
	 "K runs right after NAME on a CPU: it borrows NAME's mm as active_mm (mm_count)",
	 "lazy kworker p1"},
	{"wake", 1, 1, cmd_wake, "wake K",
	 "K switches away: its lazy mm_count reference is dropped (-ENOENT if none)",
	 "wake kworker"},
	{NULL},
};
