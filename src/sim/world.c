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
	struct sim_world_stats st;  /* the work the index and the lists did (tests) */
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
		w->st.visits++;
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

	w->st.lookups++;
	for (; o; o = o->hnext) {
		w->st.visits++;
		if (!strcmp(o->name, name))
			return o;
	}
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
	w->st.objects++;
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

		while (*pp && *pp != obj) {
			w->st.visits++;
			pp = &(*pp)->sync_next;
		}
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
	w->st.objects--;
	free(obj);
}

/* --- processes and kernel threads ------------------------------------------ */

struct mm_struct *sim_proc_live_mm(struct sim_proc *p)
{
	if (!p->task || task_exited(p->task))
		return NULL;
	return p->mm;
}

int sim_query_holders(struct sim_proc *p, bool peek, struct mm_holder *buf, struct mm_holder **out)
{
	struct mm_holder *h = buf;
	int max = SIM_MAX_HOLDERS, n;

	for (;;) {
		n = peek ? mm_peek_holders(p->mm_id, h, max) : mm_query_holders(p->mm_id, h, max);
		if (n <= max)
			break;
		if (h != buf)
			free(h);
		max = n + 16; /* more may come meanwhile */
		h = calloc((size_t)max, sizeof(*h));
		if (!h) {
			*out = buf;
			return -ENOMEM;
		}
	}
	*out = h;
	return n;
}

void sim_holders_free(struct mm_holder *buf, struct mm_holder *h)
{
	if (h != buf)
		free(h);
}

struct mm_struct *sim_proc_mm(struct sim_proc *p)
{
	struct mm_holder buf[SIM_MAX_HOLDERS], *h;
	struct mm_struct *mm = NULL;
	int n;

	if (sim_proc_live_mm(p) || p->gets || p->grabs)
		return p->mm;
	if (!p->mm)
		return NULL;
	/* No grace-period wait: a holder whose last put is pending is not claimed. */
	n = sim_query_holders(p, true, buf, &h);
	for (int i = 0; i < n; i++)
		if (!sim_holder_kind_is(&h[i], MM_HOLDER_USERS_KIND) &&
		    sim_holder_claimant(p->world, p, &h[i])) {
			mm = p->mm;
			break;
		}
	sim_holders_free(buf, h);
	return mm;
}

bool sim_holder_kind_is(const struct mm_holder *h, const char *kind)
{
	if (!h->kind || !kind)
		return h->kind == kind;
	return !strcmp(h->kind, kind);
}

struct sim_obj *sim_holder_claimant(struct sim_world *w, struct sim_proc *p,
				    const struct mm_holder *h)
{
	/* Retired objects too: a reused name does not end the old object's holds. */
	sim_for_each_obj(w, o) if (o->type->holds_ref && o->type->holds_ref(o, p, h)) return o;
	return NULL;
}

/*
 * "KIND NAME users=U count=C" for holder @h of @p's mm (zero counts left
 * out): NAME is the live object that claims it, "?" if none; an untracked
 * holder (NULL kind) is "untracked", without a name.
 */
int sim_holder_format(struct sim_world *w, struct sim_proc *p, const struct mm_holder *h, char *buf,
		      size_t size)
{
	struct sim_obj *o = sim_holder_claimant(w, p, h);
	const char *name = o ? o->name : "?";
	int len;

	if (*name == '@') /* an internal object (a pin handle): no '@' shown */
		name++;
	if (h->kind)
		len = snprintf(buf, size, "%s %s", h->kind, name);
	else
		len = snprintf(buf, size, "untracked");

	if (h->users && len >= 0 && (size_t)len < size)
		len += snprintf(buf + len, size - (size_t)len, " users=%d", h->users);
	if (h->count && len >= 0 && (size_t)len < size)
		len += snprintf(buf + len, size - (size_t)len, " count=%d", h->count);
	return len;
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
			mmput_tracked(p->mm, p, SIM_SCRIPT_HOLDER_KIND);
		for (; p->grabs; p->grabs--)
			mmdrop_tracked(p->mm, p, SIM_SCRIPT_HOLDER_KIND);
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
 * The process claims: its task's mm_users while the task has not exited,
 * the script's get/grab references (owner: this sim_proc, exactly
 * p->gets / p->grabs of them), and the one mm_count all users share.
 */
static bool process_holds_ref(struct sim_obj *obj, struct sim_proc *p, const struct mm_holder *h)
{
	struct sim_proc *me = (struct sim_proc *)obj;

	if (me != p)
		return false;
	if (h->owner == me && sim_holder_kind_is(h, SIM_SCRIPT_HOLDER_KIND))
		return h->users == (int)me->gets && h->count == (int)me->grabs;
	if (me->task && h->owner == me->task && sim_holder_kind_is(h, TASK_HOLDER_KIND))
		return sim_proc_live_mm(me) != NULL;
	return h->owner == me->mm && sim_holder_kind_is(h, MM_HOLDER_USERS_KIND);
}

/*
 * Every reference on the mm must have a holder that a live object of the
 * world claims (the core's reference tracker, include/secmmu/mm.h): the
 * task, the script, lazy kernel threads, pin handles, VFIO containers, SVA
 * bonds and the SVA notifier, mirrors, VMs, GRUs, XPMEM segments -- each
 * type says which holders are its own (sim_type.holds_ref), never how many
 * references a driver takes. A holder nobody claims (a leak: a destroyed
 * object's reference, an untracked get) and a holder that put more than it
 * got are reported by kind and name. Read through mm_query_holders(), which
 * waits for pending RCU callbacks; a struct freed while the world still
 * holds it is reported as well.
 *
 * Then the memory the mm has pinned and locked: pinned_vm is what the
 * script's pin handles pin; locked_vm is the VFIO-preregistered pages
 * (charged once per mm) plus the longterm pin handles plus the pages of
 * the VM_LOCKED VMAs (mlock).
 */
/*
 * make KERNEL_NOTIFIER=...: Linux's own notifier core (kshim) takes its
 * mm_count references with plain mmgrab() -- the kernel records no owner --
 * so they are untracked and no world object can claim them. In that build
 * an untracked, mm_count-only holder is not reported; the sums below still
 * have to match. Our core records every one under its owner.
 */
#ifdef CONFIG_MMU_NOTIFIER
static const bool kernel_notifier_core = true;
#else
static const bool kernel_notifier_core = false;
#endif

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
	struct mm_holder hbuf[SIM_MAX_HOLDERS], *h;
	int users, count, n, sum_users = 0, sum_count = 0;
	struct mm_struct *mm;
	struct mm_stats st;
	unsigned long vfio, mlocked;
	char buf[160];

	if (!p->task && !p->mm)
		return;
	n = sim_query_holders(p, false, hbuf, &h);
	if (n == -ENOMEM) {
		sim_check_report(ctx, "%s: out of memory: its holders are unchecked", obj->name);
		return;
	}
	if (n == -ESRCH || mm_query_refs(p->mm_id, &users, &count)) {
		sim_holders_free(hbuf, h);
		if (sim_proc_live_mm(p) || p->gets || p->grabs)
			sim_check_report(ctx, "%s: mm freed but the world holds users=%d count=%d",
					 obj->name, (sim_proc_live_mm(p) ? 1 : 0) + (int)p->gets,
					 (int)p->grabs);
		return;
	}
	for (int i = 0; i < n; i++) {
		sum_users += h[i].users;
		sum_count += h[i].count;
		sim_holder_format(ctx->world, p, &h[i], buf, sizeof(buf));
		if (h[i].users < 0 || h[i].count < 0)
			sim_check_report(ctx, "%s: %s: put more references than it took", obj->name,
					 buf);
		else if (kernel_notifier_core && !h[i].kind && !h[i].users)
			continue; /* Linux's notifier core's own mmgrab()s: see above */
		else if (sim_holder_kind_is(&h[i], MM_HOLDER_OVERFLOW_KIND))
			sim_check_report(ctx,
					 "%s: out of memory for the core's holder table: "
					 "users=%d count=%d held by holders it could not record, "
					 "unchecked",
					 obj->name, h[i].users, h[i].count);
		else if (!sim_holder_claimant(ctx->world, p, &h[i]))
			sim_check_report(ctx, "%s: %s: held by no live object", obj->name, buf);
	}
	sim_holders_free(hbuf, h);
	if (sum_users != users || sum_count != count)
		sim_check_report(ctx,
				 "%s: users=%d count=%d but the holders hold users=%d count=%d",
				 obj->name, users, count, sum_users, sum_count);
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
	for (struct sim_obj *o = w->sync_list; o; o = o->sync_next) {
		w->st.visits++;
		o->type->sync(w, o);
	}
}

void sim_world_get_stats(struct sim_world *w, struct sim_world_stats *st)
{
	*st = w->st;
	st->live_names = w->nr_hashed;
	st->sync_objects = 0;
	for (struct sim_obj *o = w->sync_list; o; o = o->sync_next)
		st->sync_objects++;
}

const struct sim_type sim_process_type = {
	.name = "process",
	.teardown = process_teardown,
	.check = process_check,
	.holds_ref = process_holds_ref,
};

static void kthread_teardown(struct sim_world *w, struct sim_obj *obj, enum sim_phase phase)
{
	struct sim_kthread *k = (struct sim_kthread *)obj;

	(void)w;
	if (!k->task)
		return;
	if (phase == SIM_PHASE_DETACH && k->lazy) {
		kthread_switch_away(k->task);
		k->lazy = NULL;
	} else if (phase == SIM_PHASE_FREE) {
		task_free(k->task);
		k->task = NULL;
	}
}

/* A kernel thread claims its lazy-TLB mm_count on the process it borrows from. */
static bool kthread_holds_ref(struct sim_obj *obj, struct sim_proc *p, const struct mm_holder *h)
{
	struct sim_kthread *k = (struct sim_kthread *)obj;

	return k->task && k->lazy == p && h->owner == k->task &&
	       sim_holder_kind_is(h, LAZY_TLB_HOLDER_KIND);
}

const struct sim_type sim_kthread_type = {
	.name = "kernel thread",
	.teardown = kthread_teardown,
	.holds_ref = kthread_holds_ref,
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
