// SPDX-License-Identifier: MIT
/*
 * The world a script builds: a list of named objects (processes, kernel
 * threads, and whatever later command files add), physical memory, and the
 * teardown with its leak check at the end of every run.
 *
 * The runner is single-threaded: objects are created, used and destroyed
 * only from the thread executing the script.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "secmmu/err.h"
#include "secmmu/mm.h"
#include "secmmu/page.h"
#include "secmmu/sched.h"
#include "secmmu/swap.h"
#include "sim/sim.h"

#define SIM_DEFAULT_PHYS (64UL << 20)

struct sim_world {
	struct sim_obj *head, *tail;
	bool phys_owned;	   /* this world initialised physical memory */
	bool phys_fixed;	   /* memory is in use: `phys` may no longer come */
	bool swap_owned;	   /* this world created the swap device */
	unsigned long base_frames; /* frames in use before the run (not ours) */
	unsigned long base_mms;	   /* mm structs alive before the run */
};

struct sim_world *sim_world_new(void)
{
	struct sim_world *w = calloc(1, sizeof(*w));

	if (!w)
		return NULL;
	if (phys_initialized())
		w->base_frames = phys_used_frames();
	w->base_mms = mm_live_count();
	return w;
}

struct sim_obj *sim_world_first(struct sim_world *w)
{
	return w->head;
}

int sim_world_need_phys(struct sim_world *w)
{
	int err = 0;

	if (!phys_initialized()) {
		err = phys_init(SIM_DEFAULT_PHYS);
		if (!err)
			w->phys_owned = true;
	}
	if (!err)
		w->phys_fixed = true;
	return err;
}

bool sim_world_phys_fixed(struct sim_world *w)
{
	return w->phys_fixed;
}

void sim_world_phys_set_owned(struct sim_world *w)
{
	w->phys_owned = true;
}

/* --- named objects --------------------------------------------------------- */

static bool valid_name(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n >= SIM_NAME_MAX)
		return false;
	for (const char *p = name; *p; p++)
		if (!(*p == '_' || *p == '-' || *p == '.' || (*p >= '0' && *p <= '9') ||
		      (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
			return false;
	return true;
}

static struct sim_obj *find_any(struct sim_world *w, const char *name)
{
	sim_for_each_obj(w, o) if (!o->retired && !strcmp(o->name, name)) return o;
	return NULL;
}

void *sim_obj_find(struct sim_world *w, const struct sim_type *type, const char *name)
{
	struct sim_obj *o = find_any(w, name);

	return o && o->type == type ? o : NULL;
}

void *sim_obj_lookup(struct sim_ctx *ctx, const struct sim_type *type, const char *name)
{
	struct sim_obj *o = find_any(ctx->world, name);

	if (!o) {
		sim_malformed(ctx, "unknown %s '%s'", type->name, name);
		return NULL;
	}
	if (o->type != type) {
		sim_malformed(ctx, "'%s' is a %s, not a %s", name, o->type->name, type->name);
		return NULL;
	}
	return o;
}

void *sim_obj_new(struct sim_ctx *ctx, const struct sim_type *type, const char *name, size_t size)
{
	struct sim_world *w = ctx->world;
	struct sim_obj *o;

	if (!valid_name(name)) {
		sim_malformed(ctx, "bad name '%.*s' (letters, digits, _ - . ; at most %d)",
			      SIM_NAME_MAX, name, SIM_NAME_MAX - 1);
		return NULL;
	}
	o = find_any(w, name);
	if (o) {
		sim_malformed(ctx, "'%s' already names a %s", name, o->type->name);
		return NULL;
	}
	o = calloc(1, size < sizeof(*o) ? sizeof(*o) : size);
	if (!o) {
		sim_malformed(ctx, "out of memory");
		return NULL;
	}
	o->type = type;
	strcpy(o->name, name);
	if (w->tail)
		w->tail->next = o;
	else
		w->head = o;
	w->tail = o;
	return o;
}

void sim_obj_retire(struct sim_obj *obj)
{
	obj->retired = true;
}

void sim_obj_discard(struct sim_world *w, struct sim_obj *obj)
{
	struct sim_obj **pp = &w->head, *prev = NULL;

	while (*pp && *pp != obj) {
		prev = *pp;
		pp = &(*pp)->next;
	}
	if (!*pp)
		return;
	*pp = obj->next;
	if (w->tail == obj)
		w->tail = prev;
	free(obj);
}

/* --- processes and kernel threads ------------------------------------------ */

struct mm_struct *sim_proc_live_mm(struct sim_proc *p)
{
	if (!p->task || task_exited(p->task))
		return NULL;
	return p->mm;
}

struct mm_struct *sim_proc_mm(struct sim_proc *p)
{
	if (sim_proc_live_mm(p) || p->gets || p->grabs || p->holds)
		return p->mm;
	return NULL;
}

struct sim_proc *sim_proc_lookup(struct sim_ctx *ctx, const char *name)
{
	return sim_obj_lookup(ctx, &sim_process_type, name);
}

struct sim_kthread *sim_kthread_lookup(struct sim_ctx *ctx, const char *name)
{
	return sim_obj_lookup(ctx, &sim_kthread_type, name);
}

static void process_teardown(struct sim_world *w, struct sim_obj *obj, enum sim_phase phase)
{
	struct sim_proc *p = (struct sim_proc *)obj;

	(void)w;
	if (!p->task)
		return;
	switch (phase) {
	case SIM_PHASE_EXIT:
		if (!task_exited(p->task))
			task_exit(p->task);
		break;
	case SIM_PHASE_DETACH:
		for (; p->gets; p->gets--)
			mmput(p->mm);
		for (; p->grabs; p->grabs--)
			mmdrop(p->mm);
		break;
	case SIM_PHASE_FREE:
		task_free(p->task);
		p->task = NULL;
		break;
	default:
		break;
	}
}

/*
 * What the world knows to be held on the mm: the live task's mm_users and the
 * script's gets; on mm_count, the one reference all users share, the
 * script's grabs and other holders. The real counters may be higher (the
 * core's and drivers' own references) but never lower.
 */
static void process_check(struct sim_ctx *ctx, struct sim_obj *obj)
{
	struct sim_proc *p = (struct sim_proc *)obj;
	struct mm_struct *mm = sim_proc_mm(p);
	int users, count, want_users, want_count;

	if (!mm)
		return;
	users = mm_users_read(mm);
	count = mm_count_read(mm);
	want_users = (sim_proc_live_mm(p) ? 1 : 0) + (int)p->gets;
	want_count = (want_users ? 1 : 0) + (int)p->grabs + (int)p->holds;
	if (users < want_users)
		sim_check_report(ctx, "%s: mm_users %d < %d held", obj->name, users, want_users);
	if (count < want_count)
		sim_check_report(ctx, "%s: mm_count %d < %d held", obj->name, count, want_count);
	if (users > 0 && count < 1)
		sim_check_report(ctx, "%s: mm_users %d with mm_count %d", obj->name, users, count);
}

const struct sim_type sim_process_type = {
	.name = "process",
	.teardown = process_teardown,
	.check = process_check,
};

static void kthread_teardown(struct sim_world *w, struct sim_obj *obj, enum sim_phase phase)
{
	struct sim_kthread *k = (struct sim_kthread *)obj;

	(void)w;
	if (!k->task)
		return;
	if (phase == SIM_PHASE_DETACH && k->lazy) {
		kthread_switch_away(k->task);
		k->lazy->holds--;
		k->lazy = NULL;
	} else if (phase == SIM_PHASE_FREE) {
		task_free(k->task);
		k->task = NULL;
	}
}

const struct sim_type sim_kthread_type = {
	.name = "kernel thread",
	.teardown = kthread_teardown,
};

/* --- teardown -------------------------------------------------------------- */

/* Wait for pending RCU callbacks: mm_query_refs() does, even for a dead id. */
static void wait_for_callbacks(void)
{
	int users, count;

	mm_query_refs(ULONG_MAX, &users, &count);
}

int sim_world_destroy(struct sim_world *w, FILE *report)
{
	unsigned long frames = 0, mms;
	int ret = 0;

	if (!w)
		return 0;
	for (int phase = 0; phase < SIM_NR_PHASES; phase++)
		sim_for_each_obj(w, o) if (o->type->teardown)
			o->type->teardown(w, o, (enum sim_phase)phase);
	wait_for_callbacks();
	if (phys_initialized())
		frames = phys_used_frames();
	mms = mm_live_count();
	frames = frames > w->base_frames ? frames - w->base_frames : 0;
	mms = mms > w->base_mms ? mms - w->base_mms : 0;
	if (frames || mms || swap_slots_used()) {
		if (report)
			fprintf(report, "end: error: leaked %lu frames / %lu mm structs / %lu swap slots\n",
				frames, mms, swap_slots_used());
		ret = -1;
	}
	if (w->swap_owned)
		swap_off();
	if (w->phys_owned && phys_initialized())
		phys_exit();
	while (w->head) {
		struct sim_obj *o = w->head;

		w->head = o->next;
		free(o);
	}
	free(w);
	return ret;
}

void sim_world_swap_set_owned(struct sim_world *w)
{
	w->swap_owned = true;
}
