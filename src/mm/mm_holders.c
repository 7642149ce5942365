// SPDX-License-Identifier: MIT
/*
 * Reference ownership of struct mm_struct, as the kernel's ref_tracker
 * keeps it for a tracked object: every mm_users / mm_count get and put
 * names its holder (owner pointer + kind), and the core keeps, per mm, what
 * each holder holds now. `check` (src/sim) then verifies that every holder
 * is a live object of the world, and `refs NAME holders` lists them.
 *
 * A put is recorded before the counter drops (the caller's reference keeps
 * the struct alive until then); a get after the counter rose.
 *
 * THE TABLES
 *
 * The first table lives in the mm: MM_HOLDER_SLOTS slots, then a chain of
 * further tables of the same size (mm->holders.next), plus the overflow
 * slot (key NULL / MM_HOLDER_OVERFLOW_KIND) that sums the references of
 * holders that found no slot. The gets and puts run on every device fault
 * (mirror, KVM, GRU, IOMMU, XPMEM: mmget_not_zero() ... mmput()) and from
 * RCU callbacks (mmdrop() of a freed notifier): they take no lock (a lock
 * would be a scheduling point of the interleaving explorer in every fault,
 * and a rank below everything) and never sleep. They allocate only to
 * grow the chain (below), with kzalloc(): a calloc that takes no lock and
 * never sleeps (the kernel would say GFP_ATOMIC / GFP_NOWAIT), which may
 * fail.
 *
 * A slot is one 64-bit word, plus its key:
 *
 *	word:  state:2 | gen:22 | count:20 | users:20
 *	owner, kind, seq
 *
 * users and count are the holder's mm_users / mm_count references, biased
 * (field value CNT_BIAS is zero) so that a holder that put more than it got
 * shows as negative. Because state, generation and both counts are one
 * word, one compare-and-swap moves a slot from one consistent state to the
 * next:
 *
 *	FREE(0)  never used; [0, holders_used) are the slots ever reserved,
 *		 the rest is FREE. A FREE slot is reserved by the fetch_add on
 *		 holders_used, not by a CAS: its reserver alone writes its key
 *		 and publishes LIVE(0)
 *	CLAIMING(g)   taken by one claimer, which writes owner, kind and seq
 *		 (release) and then publishes LIVE(g) (release)
 *	LIVE(g, u, c) the holder owner/kind holds u / c references; a get or
 *		 put is a CAS LIVE(g, u, c) -> LIVE(g, u +- 1, c) (or count)
 *	LIVE(g, 0, 0) idle: the key stays (the same holder's next get reuses
 *		 the slot: a device faulting again and again takes no new slot)
 *		 until a claimer needs a slot and no FREE one is left: then a
 *		 CAS LIVE(g, 0, 0) -> CLAIMING(g + 1) reclaims it for another key
 *
 * So a slot changes hands only when nobody holds a reference recorded in it,
 * and the key of a slot is fixed for a generation: it is written only in
 * CLAIMING(g), before LIVE(g) is published, and the next write of it comes
 * after the CAS to CLAIMING(g + 1).
 *
 * THE ABA
 *
 * A get of holder K scans the slots for a LIVE one whose key is K. Between
 * its load of the word and its CAS, K's slot may go idle, be reclaimed by
 * holder K2, and reach LIVE again with the same counts; a CAS on the bare
 * counts would then add K's reference to K2. The generation is what the
 * CAS compares too: reclaiming bumps it, so the stale CAS fails, the getter
 * reloads the word, sees another key (or CLAIMING) and goes on scanning --
 * at worst it claims a new slot. (22 bits: the slot would have to be
 * reclaimed 4 million times, and come back with equal counts, while one
 * thread sits between its load and its CAS.)
 *
 * The key is read without a lock, so it may be a newer generation's key
 * than the word loaded before it: the getter loads the word (acquire), then
 * the key (acquire), then CASes against the word it loaded. If it read the
 * key of generation g + 1, that key's release store is sequenced after the
 * reclaimer's CAS to CLAIMING(g + 1), so that CAS happens-before the
 * getter's CAS, which therefore cannot find LIVE(g) and fails. If the CAS
 * succeeds, the key read was generation g's, the one it matched. Readers
 * that only look (mm_holders_collect()) check the same way, seqlock style:
 * word, key, word again; a generation change in between means "read again".
 *
 * A put looks for a slot of K with a reference of that kind (> 0) first.
 * Concurrent gets and puts of one holder may leave it two slots (two racing
 * first gets both claim one); readers sum duplicates by key, and a scan
 * may pass the slot that held its reference while another put moves the
 * sums around. So a put that finds no positive slot of K takes, in order:
 * the overflow slot if it holds references (a get that found the table
 * full recorded K's reference there), else any slot of K (going negative
 * where its sum is still right), else a new slot at -1: the reference was
 * put more often than got, which `check` reports.
 *
 * A holder with 2^19 - 1 references of one kind in a slot goes on in
 * another slot of its own (duplicates again).
 *
 * THE CHAIN
 *
 * A claimer first reserves a FREE slot in any table (each table has its
 * own `used`), then reclaims an idle slot in any table; if every slot of
 * every table holds references, it allocates a zeroed table (all FREE(0))
 * and links it with a CAS of the last table's `next` from NULL (release;
 * every reader of `next` loads it acquire, table_next(): a scanner that
 * finds the table sees its zeroed words, not stale memory). A claimer that
 * loses that CAS frees its own table -- nobody can have seen it -- and
 * scans again, finding the winner's FREE slots. `next` is written once and
 * a table is freed only with the mm (mm_holders_destroy() from __mmdrop(),
 * after the last reference, so after the last get or put): a scanner never
 * follows a pointer to freed memory. Slots never move between tables, so
 * the state machine, the generation and the ABA argument above hold per
 * slot unchanged; a scan that started before a table was linked simply
 * does not see it (as it would not see a slot reserved after it loaded
 * `used`), which the fallbacks below already allow for: a get that finds
 * no slot of its key claims one, a put that misses its slot takes the
 * next rule.
 *
 * Only when allocating a table fails (out of memory; fault injection) does
 * a get land in the overflow slot, where the reference is counted but not
 * attributed; the failure is recorded (mm->holders_alloc_failed) and
 * `check` reports the overflow as out of memory. The next claim tries to
 * allocate again. So any number of holders may hold references at once,
 * and an mm may see any number of distinct holders over its life.
 *
 * The order of mm_holders_collect() is that of the claims (seq), the
 * overflow last: with slots never reclaimed it is the slot order. Collect
 * runs under mm_list_lock and does not allocate: its caller
 * (peek_holders()) passes the snapshot storage, sized by
 * mm_holders_slots() outside the lock, and retries on -EAGAIN if the chain
 * grew meanwhile.
 *
 * The sched_point_lockfree()s mark the windows above for the interleaving
 * explorer; they are points only in tests that ask for them
 * (explore_opts.lockfree: tests/unit/test_mm_holders.c), no-ops (a
 * relaxed load and a branch) everywhere else.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "base/alloc.h"
#include "base/sched_explore.h"
#include "base/signal.h"
#include "mm/internal.h"

enum {
	SLOT_FREE,
	SLOT_CLAIMING,
	SLOT_LIVE
};

#define CNT_BITS    20
#define CNT_MASK    ((UINT64_C(1) << CNT_BITS) - 1)
#define CNT_BIAS    (1 << (CNT_BITS - 1)) /* the field value of zero references */
#define CNT_MAX	    (CNT_BIAS - 1)
#define CNT_MIN	    (-CNT_BIAS)
#define USERS_SHIFT 0
#define COUNT_SHIFT CNT_BITS
#define GEN_SHIFT   (2 * CNT_BITS)
#define GEN_BITS    22
#define GEN_MASK    ((UINT64_C(1) << GEN_BITS) - 1)
#define STATE_SHIFT (GEN_SHIFT + GEN_BITS)

_Static_assert(STATE_SHIFT + 2 == 64, "mm_holder_slot word layout");

static const char overflow_kind[] = MM_HOLDER_OVERFLOW_KIND;

static inline unsigned int w_state(uint64_t w)
{
	return (unsigned int)(w >> STATE_SHIFT);
}

static inline unsigned int w_gen(uint64_t w)
{
	return (unsigned int)((w >> GEN_SHIFT) & GEN_MASK);
}

static inline int w_field(uint64_t w, bool users)
{
	return (int)((w >> (users ? USERS_SHIFT : COUNT_SHIFT)) & CNT_MASK) - CNT_BIAS;
}

static inline uint64_t mk_word(unsigned int state, unsigned int gen, int users, int count)
{
	return (uint64_t)state << STATE_SHIFT | ((uint64_t)gen & GEN_MASK) << GEN_SHIFT |
	       (uint64_t)(count + CNT_BIAS) << COUNT_SHIFT |
	       (uint64_t)(users + CNT_BIAS) << USERS_SHIFT;
}

/* @w with its users (or count) field moved by @delta; the caller checked the range. */
static inline uint64_t w_add(uint64_t w, bool users, int delta)
{
	return mk_word(w_state(w), w_gen(w), w_field(w, true) + (users ? delta : 0),
		       w_field(w, false) + (users ? 0 : delta));
}

static inline bool w_idle(uint64_t w)
{
	return w_state(w) == SLOT_LIVE && !w_field(w, true) && !w_field(w, false);
}

static bool same_kind(const char *a, const char *b)
{
	if (a == b)
		return true;
	return a && b && !strcmp(a, b);
}

/*
 * Is @s's key @owner/@kind? Trusted only for the generation of a word loaded
 * (acquire) before the call and still there at a later CAS or load. Acquire
 * pairs with the release stores of claim_slot(): a key of generation g + 1
 * read here means the CAS to CLAIMING(g + 1) happened before what follows.
 */
static bool key_is(struct mm_holder_slot *s, const void *owner, const char *kind)
{
	if (atomic_load_explicit(&s->owner, memory_order_acquire) != owner)
		return false;
	return same_kind(atomic_load_explicit(&s->kind, memory_order_acquire), kind);
}

/* Slots [0, return) of @t were reserved at some point. */
static int slots_used(struct mm_holder_table *t)
{
	int used = atomic_load_explicit(&t->used, memory_order_relaxed);

	return used < MM_HOLDER_SLOTS ? used : MM_HOLDER_SLOTS;
}

/*
 * The table after @t, or NULL. Acquire pairs with the release CAS in
 * grow_chain(): the new table's zeroed (FREE) slots are seen as such.
 */
static struct mm_holder_table *table_next(struct mm_holder_table *t)
{
	return atomic_load_explicit(&t->next, memory_order_acquire);
}

#define for_each_holder_table(t, mm) for (t = &(mm)->holders; t; t = table_next(t))

/*
 * Add @delta to a slot of @owner/@kind: the first with room, for a put
 * (@delta < 0) the first with a reference of that kind unless @negative.
 * Return: false if there is none.
 */
static bool slot_add(struct mm_struct *mm, bool users, const void *owner, const char *kind,
		     int delta, bool negative)
{
	struct mm_holder_table *t;

	for_each_holder_table (t, mm) {
		int used = slots_used(t);

		for (int i = 0; i < used; i++) {
			struct mm_holder_slot *s = &t->slots[i];
			/* Acquire pairs with the release store of LIVE in claim_slot(). */
			uint64_t w = atomic_load_explicit(&s->word, memory_order_acquire);

			while (w_state(w) == SLOT_LIVE && key_is(s, owner, kind)) {
				int v = w_field(w, users) + delta;

				if (v < CNT_MIN || v > CNT_MAX || (v < 0 && !negative))
					break; /* full, or none of this kind here: the holder's next
						  slot */
				sched_point_lockfree("holder cas");
				/*
				 * Fails if the slot changed at all since @w, in particular
				 * if it was reclaimed (the generation): see THE ABA above.
				 * The failure's reload is acquire for the key_is() that
				 * follows, as the load above (and C11 wants the success
				 * order at least as strong).
				 */
				if (atomic_compare_exchange_weak_explicit(
					    &s->word, &w, w_add(w, users, delta),
					    memory_order_acquire, memory_order_acquire))
					return true;
			}
		}
	}
	return false;
}

/*
 * The overflow slot: add @delta, for a put only while it holds references
 * of that kind (@only_positive). Return: false if not recorded.
 */
static bool overflow_add(struct mm_struct *mm, bool users, int delta, bool only_positive)
{
	struct mm_holder_slot *s = &mm->holders_overflow;
	uint64_t w = atomic_load_explicit(&s->word, memory_order_relaxed);

	for (;;) {
		int v = w_field(w, users) + delta;

		if (only_positive && v < 0)
			return false;
		if (WARN_ON_ONCE(v < CNT_MIN || v > CNT_MAX))
			return false; /* 2^19 unattributed references: `check` sees the sums differ
				       */
		sched_point_lockfree("holder overflow cas");
		if (atomic_compare_exchange_weak_explicit(&s->word, &w, w_add(w, users, delta),
							  memory_order_relaxed,
							  memory_order_relaxed))
			return true;
	}
}

/*
 * Take an idle slot (LIVE, no references) for another key: CAS it to
 * CLAIMING with the next generation, so that every CAS and every reader
 * still holding its old word fails or reads again. Return: the slot, its
 * new generation in @gen; NULL if every slot holds references.
 */
static struct mm_holder_slot *reclaim_idle(struct mm_struct *mm, unsigned int *gen)
{
	struct mm_holder_table *t;

	for_each_holder_table (t, mm) {
		int used = slots_used(t);

		for (int i = 0; i < used; i++) {
			struct mm_holder_slot *s = &t->slots[i];
			uint64_t w = atomic_load_explicit(&s->word, memory_order_relaxed);

			while (w_idle(w)) {
				unsigned int g = (w_gen(w) + 1) & GEN_MASK;

				sched_point_lockfree("holder reclaim");
				/* Fails if a get of the old key made it busy first: look on. */
				if (atomic_compare_exchange_weak_explicit(
					    &s->word, &w, mk_word(SLOT_CLAIMING, g, 0, 0),
					    memory_order_relaxed, memory_order_relaxed)) {
					*gen = g;
					return s;
				}
			}
		}
	}
	return NULL;
}

/*
 * Chain a new table after @last, the last table seen. Allocating here is
 * a calloc that takes no lock and never sleeps (the kernel's GFP_ATOMIC
 * / GFP_NOWAIT); it may fail (fault injection). Return: false if the
 * allocation failed; true if @last has a next table now, ours or that of
 * a racing claimer (then ours is freed: nobody saw it).
 */
static bool grow_chain(struct mm_holder_table *last)
{
	struct mm_holder_table *t = kzalloc(sizeof(*t)), *expected = NULL;

	if (!t)
		return false;
	sched_point_lockfree("holder grow");
	/*
	 * Release: pairs with the acquire load in table_next(), so a scanner
	 * that finds @t sees its zeroed slots. The failure order is relaxed:
	 * the winner's table is read through table_next() again.
	 */
	if (!atomic_compare_exchange_strong_explicit(&last->next, &expected, t,
						     memory_order_release, memory_order_relaxed))
		kfree(t);
	return true;
}

/*
 * A slot for @owner/@kind holding @delta: a never-used one while there are
 * any (the slot reserved through holders_used is ours alone), else an idle
 * one reclaimed, else the overflow slot.
 */
static void claim_slot(struct mm_struct *mm, bool users, const void *owner, const char *kind,
		       int delta)
{
	struct mm_holder_slot *s = NULL;
	struct mm_holder_table *t, *last;
	unsigned int gen = 0;
	unsigned long seq;

	for (;;) {
		last = NULL;
		for_each_holder_table (t, mm) {
			last = t;
			if (atomic_load_explicit(&t->used, memory_order_relaxed) <
			    MM_HOLDER_SLOTS) {
				int i = atomic_fetch_add_explicit(&t->used, 1,
								  memory_order_relaxed);

				if (i < MM_HOLDER_SLOTS) {
					s = &t->slots[i]; /* FREE(0): nobody else writes it */
					break;
				}
			}
		}
		if (!s)
			s = reclaim_idle(mm, &gen);
		if (s)
			break;
		if (!grow_chain(last)) {
			atomic_store_explicit(&mm->holders_alloc_failed, true,
					      memory_order_relaxed);
			overflow_add(mm, users, delta, false);
			return;
		}
	}
	sched_point_lockfree("holder claimed");
	seq = atomic_fetch_add_explicit(&mm->holders_seq, 1, memory_order_relaxed);
	/*
	 * Release: a reader (key_is(), read_slot()) that sees this key sees
	 * our CAS to CLAIMING too (pairs with their acquire loads of the key).
	 */
	atomic_store_explicit(&s->owner, owner, memory_order_release);
	atomic_store_explicit(&s->kind, kind, memory_order_release);
	atomic_store_explicit(&s->seq, seq, memory_order_release);
	sched_point_lockfree("holder publish");
	/* Release: pairs with the acquire loads of the word before key_is() and in read_slot(). */
	atomic_store_explicit(&s->word,
			      mk_word(SLOT_LIVE, gen, users ? delta : 0, users ? 0 : delta),
			      memory_order_release);
}

/* Record @delta (+1 or -1) references of @owner/@kind (mm_users if @users). */
static void holder_add(struct mm_struct *mm, bool users, const void *owner, const char *kind,
		       int delta)
{
	if (slot_add(mm, users, owner, kind, delta, false))
		return;
	if (delta < 0) {
		if (overflow_add(mm, users, delta, true))
			return; /* got while the table was full */
		if (slot_add(mm, users, owner, kind, delta, true))
			return; /* another slot of the holder holds it, or an unbalanced put */
	}
	claim_slot(mm, users, owner, kind, delta);
}

void mm_holders_init(struct mm_struct *mm)
{
	struct mm_holder_slot *o = &mm->holders_overflow;

	atomic_init(&o->owner, NULL);
	atomic_init(&o->kind, overflow_kind);
	atomic_init(&o->seq, ~0UL); /* listed last */
	atomic_init(&o->word, mk_word(SLOT_LIVE, 0, 0, 0));
	atomic_init(&mm->holders.used, 0);
	atomic_init(&mm->holders.next, NULL);
	atomic_init(&mm->holders_alloc_failed, false);
	atomic_init(&mm->holders_seq, 0);
}

void mm_holders_destroy(struct mm_struct *mm)
{
	struct mm_holder_table *t = atomic_load_explicit(&mm->holders.next, memory_order_acquire);

	while (t) {
		struct mm_holder_table *next = atomic_load_explicit(&t->next, memory_order_acquire);

		kfree_sized(t, sizeof(*t));
		t = next;
	}
	atomic_store_explicit(&mm->holders.next, NULL, memory_order_relaxed);
}

int mm_holders_slots(struct mm_struct *mm)
{
	struct mm_holder_table *t;
	int n = 1; /* the overflow slot */

	for_each_holder_table (t, mm)
		n += MM_HOLDER_SLOTS;
	return n;
}

bool mm_holders_alloc_failed(struct mm_struct *mm)
{
	return atomic_load_explicit(&mm->holders_alloc_failed, memory_order_relaxed);
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

/*
 * One slot's holder now, if it holds references: the word, the key, the
 * word again (acquire each time, so the loads stay in that order); the key
 * belongs to the counts only if the generation did not change in between
 * (see THE ABA above), else read again.
 */
static bool read_slot(struct mm_holder_slot *s, struct holder_snap *out)
{
	uint64_t w = atomic_load_explicit(&s->word, memory_order_acquire);

	for (;;) {
		uint64_t again;

		if (w_state(w) != SLOT_LIVE)
			return false;
		out->h.owner = atomic_load_explicit(&s->owner, memory_order_acquire);
		out->h.kind = atomic_load_explicit(&s->kind, memory_order_acquire);
		out->seq = atomic_load_explicit(&s->seq, memory_order_acquire);
		sched_point_lockfree("holder read");
		again = atomic_load_explicit(&s->word, memory_order_acquire);
		if (w_state(again) == SLOT_LIVE && w_gen(again) == w_gen(w)) {
			out->h.users = w_field(again, true);
			out->h.count = w_field(again, false);
			return out->h.users || out->h.count;
		}
		w = again;
	}
}

/* In claim order; mostly sorted already: no allocation. */
static void sort_by_seq(struct holder_snap *snap, int n)
{
	for (int i = 1; i < n; i++) {
		struct holder_snap x = snap[i];
		int j = i;

		for (; j > 0 && snap[j - 1].seq > x.seq; j--)
			snap[j] = snap[j - 1];
		snap[j] = x;
	}
}

/*
 * mm_holders_collect() - the holders of @mm into @out (at most @max; see
 * mm_query_holders()), read through @snap, @cap entries of the caller's
 * storage. Caller holds mm_list_lock (so @mm and its tables stay); takes
 * no other lock, does not allocate or sleep. Return: the number of
 * holders, or -EAGAIN if @cap is less than the slots to read (the chain
 * grew since the caller asked mm_holders_slots()).
 */
int mm_holders_collect(struct mm_struct *mm, struct holder_snap *snap, int cap,
		       struct mm_holder *out, int max)
{
	struct mm_holder_table *t;
	int n = 0, k = 0;

	for_each_holder_table (t, mm) {
		int used = slots_used(t);

		for (int i = 0; i < used; i++) {
			if (n == cap)
				return -EAGAIN; /* the chain grew since the caller sized @snap */
			if (read_slot(&t->slots[i], &snap[n]))
				n++;
		}
	}
	if (n == cap)
		return -EAGAIN;
	if (read_slot(&mm->holders_overflow, &snap[n]))
		n++;
	sort_by_seq(snap, n);
	/* Duplicates of a holder summed into its first; those summed to zero drop out. */
	for (int i = 0; i < n; i++) {
		int j;

		for (j = 0; j < k; j++)
			if (snap[j].h.owner == snap[i].h.owner &&
			    same_kind(snap[j].h.kind, snap[i].h.kind))
				break;
		if (j < k) {
			snap[j].h.users += snap[i].h.users;
			snap[j].h.count += snap[i].h.count;
		} else {
			snap[k++] = snap[i];
		}
	}
	n = 0;
	for (int i = 0; i < k; i++) {
		if (!snap[i].h.users && !snap[i].h.count)
			continue;
		if (n < max)
			out[n] = snap[i].h;
		n++;
	}
	return n;
}
