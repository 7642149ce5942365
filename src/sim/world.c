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

#include "secmmu/check.h"
#include "secmmu/err.h"
#include "secmmu/file.h"
#include "secmmu/iommu.h"
#include "secmmu/mm.h"
#include "secmmu/mmu_notifier.h"
#include "secmmu/page.h"
#include "secmmu/sched.h"
#include "secmmu/swap.h"
#include "secmmu/vfio.h"
#include "sim/sim.h"

#define SIM_DEFAULT_PHYS (64UL << 20)

#define SIM_HASH_MIN 256

struct sim_world {
	struct sim_obj *head, *tail;
	struct sim_obj **hash;	    /* live names: chains through hnext */
	size_t hash_size;	    /* a power of two */
	size_t nr_hashed;	    /* objects in @hash */
	struct sim_obj *sync_list;  /* objects whose type has ->sync, in creation order */
	struct sim_obj **sync_tail; /* the last sync_next (or &sync_list) */
	unsigned long pin_handles;  /* pin handles given out */
	bool phys_owned;	    /* this world initialised physical memory */
	bool phys_fixed;	    /* memory is in use: `phys` may no longer come */
	bool swap_owned;	    /* this world created the swap device */
	unsigned long base_frames;  /* frames in use before the run (not ours) */
	unsigned long base_stale;   /* stale translations used before the run */
	unsigned long base_rules;   /* rule violations seen before the run */
	unsigned long base_mms;	    /* mm structs alive before the run */
	long base_files;	    /* struct files alive before the run */
	unsigned int base_pasids;   /* PASIDs allocated before the run */
	unsigned long base_pins;    /* pins outstanding before the run */
	struct sim_run run;	    /* how the runner reports, and its counts */
};

struct sim_run *sim_world_run(struct sim_world *w)
{
	return &w->run;
}

struct sim_world *sim_world_new(void)
{
	struct sim_world *w = calloc(1, sizeof(*w));

	if (!w)
		return NULL;
	w->sync_tail = &w->sync_list;
	w->hash_size = SIM_HASH_MIN;
	w->hash = calloc(w->hash_size, sizeof(*w->hash));
	if (!w->hash) {
		free(w);
		return NULL;
	}
	thp_set_mode(THP_MADVISE); /* every run starts with the default setting */
	thp_set_use_zero_page(1);
	if (phys_initialized()) {
		w->base_frames = phys_used_frames();
		w->base_pins = phys_total_pins();
	}
	w->base_mms = mm_live_count();
	w->base_stale = phys_initialized() ? phys_stale_count() : 0;
	w->base_rules = secmmu_rule_violations(NULL, 0);
	secmmu_rule_violations_forget_first();
	w->base_files = file_live_count();
	mmu_notifier_synchronize(); /* PASIDs of notifiers already put are freed */
	w->base_pasids = iommu_pasid_nr_allocated();
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

static size_t name_hash(const char *name)
{
	size_t h = 5381;

	while (*name)
		h = h * 33 + (unsigned char)*name++;
	return h;
}

static void hash_insert(struct sim_world *w, struct sim_obj *o)
{
	size_t b;

	if (w->nr_hashed >= w->hash_size) { /* grow: load factor <= 1 */
		size_t size = w->hash_size * 2;
		struct sim_obj **hash = calloc(size, sizeof(*hash));

		if (hash) {
			for (size_t i = 0; i < w->hash_size; i++) {
				while (w->hash[i]) {
					struct sim_obj *x = w->hash[i];

					w->hash[i] = x->hnext;
					x->hnext = hash[name_hash(x->name) & (size - 1)];
					hash[name_hash(x->name) & (size - 1)] = x;
				}
			}
			free(w->hash);
			w->hash = hash;
			w->hash_size = size;
		}
	}
	b = name_hash(o->name) & (w->hash_size - 1);
	o->hnext = w->hash[b];
	w->hash[b] = o;
	w->nr_hashed++;
}

static void hash_remove(struct sim_world *w, struct sim_obj *o)
{
	struct sim_obj **pp = &w->hash[name_hash(o->name) & (w->hash_size - 1)];

	for (; *pp; pp = &(*pp)->hnext) {
		if (*pp == o) {
			*pp = o->hnext;
			o->hnext = NULL;
			w->nr_hashed--;
			return;
		}
	}
}

/* The live (not retired) object called @name: O(1) through the name index. */
static struct sim_obj *find_any(struct sim_world *w, const char *name)
{
	struct sim_obj *o = w->hash[name_hash(name) & (w->hash_size - 1)];

	for (; o; o = o->hnext)
		if (!strcmp(o->name, name))
			return o;
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

static void *obj_new(struct sim_ctx *ctx, const struct sim_type *type, const char *name,
		     size_t size)
{
	struct sim_world *w = ctx->world;
	struct sim_obj *o;

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
	o->prev = w->tail;
	if (w->tail)
		w->tail->next = o;
	else
		w->head = o;
	w->tail = o;
	hash_insert(w, o);
	if (type->sync) {
		*w->sync_tail = o;
		w->sync_tail = &o->sync_next;
	}
	return o;
}

void *sim_obj_new(struct sim_ctx *ctx, const struct sim_type *type, const char *name, size_t size)
{
	if (!valid_name(name)) {
		sim_malformed(ctx, "bad name '%.*s' (letters, digits, _ - . ; at most %d)",
			      SIM_NAME_MAX, name, SIM_NAME_MAX - 1);
		return NULL;
	}
	return obj_new(ctx, type, name, size);
}

void *sim_obj_new_internal(struct sim_ctx *ctx, const struct sim_type *type, const char *name,
			   size_t size)
{
	char full[SIM_NAME_MAX];

	if (snprintf(full, sizeof(full), "@%s", name) >= (int)sizeof(full)) {
		sim_malformed(ctx, "internal name '%s' too long", name);
		return NULL;
	}
	return obj_new(ctx, type, full, size);
}

void sim_obj_retire(struct sim_world *w, struct sim_obj *obj)
{
	if (obj->retired)
		return;
	hash_remove(w, obj);
	obj->retired = true;
}

void sim_obj_unretire(struct sim_world *w, struct sim_obj *obj)
{
	if (!obj->retired || find_any(w, obj->name))
		return;
	obj->retired = false;
	hash_insert(w, obj);
}

unsigned long sim_world_next_pin_handle(struct sim_world *w)
{
	return ++w->pin_handles;
}

void sim_obj_discard(struct sim_world *w, struct sim_obj *obj)
{
	if (!obj->retired)
		hash_remove(w, obj);
	if (obj->type->sync) {
		struct sim_obj **pp = &w->sync_list;

		while (*pp && *pp != obj)
			pp = &(*pp)->sync_next;
		if (*pp) {
			*pp = obj->sync_next;
			if (w->sync_tail == &obj->sync_next)
				w->sync_tail = pp;
		}
	}
	if (obj->prev)
		obj->prev->next = obj->next;
	else
		w->head = obj->next;
	if (obj->next)
		obj->next->prev = obj->prev;
	else
		w->tail = obj->prev;
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
	if (sim_proc_live_mm(p) || p->gets || p->grabs || p->holds || p->user_holds)
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
 * mm_users and mm_count must EQUAL what the world knows to be held: on
 * mm_users the live task, the script's gets and the devices' (a
 * wrong-mm-users bond); on mm_count the one reference all users share, the
 * script's grabs, and every other world object's (lazy kernel threads, pin
 * handles, VFIO containers bound to the mm, SVA bonds and the SVA notifier,
 * mirrors, VMs, GRUs, XPMEM segments), kept exact by sim_world_sync(). Read
 * through mm_query_refs(), which waits for pending RCU callbacks and works
 * on a freed struct too: a struct freed while held, or alive with no
 * holder (a leaked reference), is reported as well.
 *
 * Then the memory the mm has pinned and locked: pinned_vm is what the
 * script's pin handles pin; locked_vm is the VFIO-preregistered pages
 * (charged once per mm) plus the longterm pin handles plus the pages of
 * the VM_LOCKED VMAs (mlock).
 */
static unsigned long mlocked_vma_pages(struct mm_struct *mm)
{
	struct mm_vma_info *v;
	unsigned long pages = 0;
	long n = mm_get_vmas(mm, 0, TASK_SIZE, NULL, 0);

	if (n <= 0)
		return 0;
	v = calloc((size_t)n, sizeof(*v));
	if (!v)
		return 0;
	n = mm_get_vmas(mm, 0, TASK_SIZE, v, (unsigned long)n);
	for (long i = 0; i < n; i++)
		if (v[i].flags & VM_LOCKED)
			pages += (v[i].end - v[i].start) >> PAGE_SHIFT;
	free(v);
	return pages;
}

static void process_check(struct sim_ctx *ctx, struct sim_obj *obj)
{
	struct sim_proc *p = (struct sim_proc *)obj;
	int users, count, want_users, want_count;
	struct mm_struct *mm;
	struct mm_stats st;
	unsigned long vfio, mlocked;

	if (!p->task && !p->mm)
		return;
	want_users = (sim_proc_live_mm(p) ? 1 : 0) + (int)p->gets + (int)p->user_holds;
	want_count = (want_users ? 1 : 0) + (int)p->grabs + (int)p->holds;
	if (mm_query_refs(p->mm_id, &users, &count)) {
		if (want_users || want_count)
			sim_check_report(ctx, "%s: mm freed but the world holds users=%d count=%d",
					 obj->name, want_users, want_count);
		return;
	}
	if (users != want_users)
		sim_check_report(ctx, "%s: mm_users %d != %d held (task %d, gets %u, devices %u)",
				 obj->name, users, want_users, sim_proc_live_mm(p) ? 1 : 0, p->gets,
				 p->user_holds);
	if (count != want_count)
		sim_check_report(ctx, "%s: mm_count %d != %d held (users %d, grabs %u, holders %u)",
				 obj->name, count, want_count, want_users ? 1 : 0, p->grabs,
				 p->holds);
	mm = sim_proc_mm(p);
	if (!mm)
		return;
	mm_get_stats(mm, &st);
	vfio = mm_iommu_pinned_pages(mm);
	if (st.pinned_vm != p->locked_pages)
		sim_check_report(ctx, "%s: pinned_vm %lu != %lu pinned longterm by pin handles",
				 obj->name, st.pinned_vm, p->locked_pages);
	mlocked = mlocked_vma_pages(mm);
	if (st.locked_vm != vfio + p->locked_pages + mlocked)
		sim_check_report(ctx,
				 "%s: locked_vm %lu != %lu preregistered (VFIO) + %lu longterm "
				 "pinned + %lu mlocked",
				 obj->name, st.locked_vm, vfio, p->locked_pages, mlocked);
}

unsigned long sim_world_known_pins(struct sim_world *w)
{
	unsigned long n = 0;

	sim_for_each_obj(w, o)
	{
		struct sim_proc *p = (struct sim_proc *)o;
		struct mm_struct *mm;

		if (o->type != &sim_process_type)
			continue;
		n += p->pinned_frames;
		mm = sim_proc_mm(p);
		if (mm)
			n += mm_iommu_pinned_pages(mm);
	}
	return n + w->base_pins;
}

unsigned int sim_world_base_pasids(struct sim_world *w)
{
	return w->base_pasids;
}

/* O(objects with ->sync), not O(objects): it runs after every command. */
void sim_world_sync(struct sim_world *w)
{
	for (struct sim_obj *o = w->sync_list; o; o = o->sync_next)
		o->type->sync(w, o);
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
	unsigned long frames = 0, pins = 0, mms;
	unsigned int pasids;
	long files;
	int ret = 0;

	if (!w)
		return 0;
	for (int phase = 0; phase < SIM_NR_PHASES; phase++) {
		sim_for_each_obj(w, o) if (o->type->teardown)
			o->type->teardown(w, o, (enum sim_phase)phase);
		if (phase < SIM_PHASE_FREE)
			sim_world_sync(w);
	}
	wait_for_callbacks();
	mmu_notifier_synchronize(); /* PASIDs go with their notifiers */
	if (phys_initialized()) {
		frames = phys_used_frames();
		pins = phys_total_pins();
	}
	mms = mm_live_count();
	files = file_live_count();
	pasids = iommu_pasid_nr_allocated();
	frames = frames > w->base_frames ? frames - w->base_frames : 0;
	mms = mms > w->base_mms ? mms - w->base_mms : 0;
	pins = pins > w->base_pins ? pins - w->base_pins : 0;
	files = files > w->base_files ? files - w->base_files : 0;
	pasids = pasids > w->base_pasids ? pasids - w->base_pasids : 0;
	if (frames || mms || swap_slots_used() || pins || files || pasids) {
		if (report)
			fprintf(report,
				"end: error: leaked %lu frames / %lu mm structs / %lu swap slots / "
				"%lu pins / %u PASIDs / %ld files\n",
				frames, mms, swap_slots_used(), pins, pasids, files);
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
	free(w->hash);
	free(w);
	return ret;
}

void sim_world_swap_set_owned(struct sim_world *w)
{
	w->swap_owned = true;
}

unsigned long sim_world_new_rules(struct sim_world *w, char *first, unsigned long len)
{
	unsigned long now = secmmu_rule_violations(first, len);

	return now > w->base_rules ? now - w->base_rules : 0;
}

unsigned long sim_world_new_stale(struct sim_world *w)
{
	unsigned long now = phys_initialized() ? phys_stale_count() : 0;

	return now > w->base_stale ? now - w->base_stale : 0;
}
