// SPDX-License-Identifier: MIT
/*
 * Reference ownership of struct mm_struct, as the kernel's ref_tracker
 * keeps it for a tracked object: every mm_users / mm_count get and put
 * names its holder (owner pointer + kind), and the core keeps, per mm, what
 * each holder holds now. `check` (src/sim) then verifies that every holder
 * is a live object of the world, and `refs NAME holders` lists them.
 *
 * The table lives in the mm (MM_HOLDER_SLOTS slots, the last one the
 * overflow for holders beyond it) and is lock-free: the gets and puts run
 * in every fault path and must add no lock (the interleaving explorer
 * schedules at every lock). A slot is claimed once and never reused, so a
 * reader never sees a slot change hands; duplicates of one holder (two
 * racing first gets) are summed by readers.
 *
 * A put is recorded before the counter drops (the caller's reference keeps
 * the struct alive until then); a get after the counter rose.
 */
#include <string.h>

#include "base/signal.h"
#include "mm/internal.h"

enum {
	SLOT_FREE,
	SLOT_CLAIMING,
	SLOT_LIVE
};

#define OVERFLOW_SLOT (MM_HOLDER_SLOTS - 1)
static const char overflow_kind[] = MM_HOLDER_OVERFLOW_KIND;

static bool same_kind(const char *a, const char *b)
{
	if (a == b)
		return true;
	return a && b && !strcmp(a, b);
}

/* The slot of @owner/@kind, claiming a free one if @create. NULL if none. */
static struct mm_holder_slot *find_slot(struct mm_struct *mm, const void *owner, const char *kind,
					bool create)
{
	for (int i = 0; i < OVERFLOW_SLOT; i++) {
		struct mm_holder_slot *s = &mm->holders[i];
		/* Acquire pairs with the release store of SLOT_LIVE below. */
		int state = atomic_load_explicit(&s->state, memory_order_acquire);

		if (state == SLOT_LIVE) {
			if (s->owner == owner && same_kind(s->kind, kind))
				return s;
			continue;
		}
		if (state == SLOT_CLAIMING)
			continue; /* somebody else's holder (or a duplicate of ours: summed) */
		if (!create)
			return NULL; /* slots are claimed in order: no live one beyond */
		if (!atomic_compare_exchange_strong(&s->state, &state, SLOT_CLAIMING))
			continue;
		s->owner = owner;
		s->kind = kind;
		atomic_store_explicit(&s->state, SLOT_LIVE, memory_order_release);
		return s;
	}
	return create ? &mm->holders[OVERFLOW_SLOT] : NULL;
}

/* Record @delta references of @owner/@kind (mm_users if @users). */
static void holder_add(struct mm_struct *mm, bool users, const void *owner, const char *kind,
		       int delta)
{
	struct mm_holder_slot *s = find_slot(mm, owner, kind, true);

	atomic_fetch_add_explicit(users ? &s->users : &s->count, delta, memory_order_relaxed);
}

void mm_holders_init(struct mm_struct *mm)
{
	struct mm_holder_slot *o = &mm->holders[OVERFLOW_SLOT];

	o->owner = NULL;
	o->kind = overflow_kind;
	atomic_store(&o->state, SLOT_LIVE);
}

void mm_holder_get(struct mm_struct *mm, bool users, const void *owner, const char *kind)
{
	holder_add(mm, users, owner, kind, 1);
}

void mm_holder_put(struct mm_struct *mm, bool users, const void *owner, const char *kind)
{
	holder_add(mm, users, owner, kind, -1);
}

void mm_holder_move(struct mm_struct *mm, bool users, const void *from, const char *from_kind,
		    const void *to, const char *to_kind)
{
	holder_add(mm, users, to, to_kind, 1);
	holder_add(mm, users, from, from_kind, -1);
}

/* Add @s into @out[0..*n) (summing duplicates); @max limits what is filled. */
static void collect(const struct mm_holder_slot *s, struct mm_holder *out, int max, int *n)
{
	int users =
		atomic_load_explicit(&((struct mm_holder_slot *)s)->users, memory_order_relaxed);
	int count =
		atomic_load_explicit(&((struct mm_holder_slot *)s)->count, memory_order_relaxed);

	if (!users && !count)
		return;
	for (int i = 0; i < *n && i < max; i++) {
		if (out[i].owner == s->owner && same_kind(out[i].kind, s->kind)) {
			out[i].users += users;
			out[i].count += count;
			return;
		}
	}
	if (*n < max)
		out[*n] = (struct mm_holder){
			.owner = s->owner, .kind = s->kind, .users = users, .count = count};
	(*n)++;
}

int mm_holders_collect(struct mm_struct *mm, struct mm_holder *out, int max)
{
	int n = 0;

	for (int i = 0; i < MM_HOLDER_SLOTS; i++) {
		struct mm_holder_slot *s = &mm->holders[i];

		if (atomic_load_explicit(&s->state, memory_order_acquire) != SLOT_LIVE)
			continue;
		collect(s, out, max, &n);
	}
	/* Duplicates summed to zero drop out. */
	for (int i = 0; i < n && i < max;) {
		if (out[i].users || out[i].count) {
			i++;
			continue;
		}
		memmove(&out[i], &out[i + 1], (size_t)((n < max ? n : max) - i - 1) * sizeof(*out));
		n--;
	}
	return n;
}
