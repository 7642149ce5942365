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
 * The first table lives in the mm (mm->holders, its MM_HOLDER_SLOTS slots
 * mm->holder_slots); a chain of further tables follows (mm->holders.next),
 * each with twice the slots of the one before (up to MM_HOLDER_TABLE_MAX),
 * plus the overflow slot (key NULL / MM_HOLDER_OVERFLOW_KIND) that sums
 * the references of holders that found no slot. The gets and puts run on
 * every device fault (mirror, KVM, GRU, IOMMU, XPMEM: mmget_not_zero() ...
 * mmput()) and from RCU callbacks (mmdrop() of a freed notifier): they take
 * no lock (a lock would be a scheduling point of the interleaving explorer
 * in every fault, and a rank below everything) and never sleep. They
 * allocate only to grow the chain (below), with kzalloc(): a calloc that
 * takes no lock and never sleeps (the kernel would say GFP_ATOMIC /
 * GFP_NOWAIT), which may fail.
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
 *	FREE(0)  never used (an all-zero word: a table comes zeroed). A
 *		 claimer reserves it with a CAS FREE(0) -> CLAIMING(0); of
 *		 claimers racing for it one CAS succeeds, the others fail, see
 *		 CLAIMING and look on. No transition leads back to FREE
 *	CLAIMING(g)   taken by one claimer (the one whose CAS made it
 *		 CLAIMING), which alone writes owner, kind and seq (release)
 *		 and then publishes LIVE(g) (release)
 *	LIVE(g, u, c) the holder owner/kind holds u / c references; a get or
 *		 put is a CAS LIVE(g, u, c) -> LIVE(g, u +- 1, c) (or count)
 *	LIVE(g, 0, 0) idle: the key stays (the same holder's next get reuses
 *		 the slot: a device faulting again and again takes no new slot)
 *		 until a claimer needs a slot and no FREE one is left in its
 *		 windows: then a CAS LIVE(g, 0, 0) -> CLAIMING(g + 1) reclaims it
 *		 for another key
 *
 * So a slot changes hands only when nobody holds a reference recorded in it,
 * and the key of a slot is fixed for a generation: it is written only in
 * CLAIMING(g), by the one thread whose CAS (from FREE(0) or from an idle
 * LIVE(g - 1)) entered it, before LIVE(g) is published, and the next write
 * of it comes after the next CAS to CLAIMING(g + 1), which only an idle
 * LIVE(g) allows.
 *
 * THE WINDOWS
 *
 * A holder's slots lie only in its probe window of each table: the
 * MM_HOLDER_WINDOW slots from window_start() (a hash of the owner pointer,
 * seeded by the table's level), wrapping at the table's end. Only the owner
 * is hashed: kinds are compared by strcmp(), not by pointer, so the few
 * kinds of one owner share its window. A get, a put, a claim and its
 * reclaim of an idle slot look at the key's windows only (MM_HOLDER_WINDOW
 * slots per table), never at the rest of a table; "any slot of K" is still
 * found by scanning K's windows in all tables, since nothing puts K's key
 * anywhere else.
 *
 * A claimer takes, scanning a window from its start, the first FREE slot
 * it can reserve: every slot before it was seen not FREE, and no slot
 * becomes FREE again. An idle slot is reclaimed only in a table whose
 * window the claimer had seen without a FREE slot (claim_slot() reclaims
 * in the tables of its FREE scan only). So in every table, a slot of K is
 * preceded in K's window only by slots that are not FREE, and a scan for K
 * may stop at the first FREE slot of the window (the slots after it are
 * not K's, or were claimed after the scan passed there: a claim racing
 * with the scan, which the fallbacks below allow for anyway). The first
 * FREE slot that the scan of a get or put met is, for the same reason, the
 * slot its claim would reserve first: a claim after a miss tries it before
 * scanning the windows again.
 *
 * THE ABA
 *
 * A get of holder K scans K's windows for a LIVE slot whose key is K.
 * Between its load of the word and its CAS, K's slot may go idle, be
 * reclaimed by holder K2 (whose window overlaps K's there), and reach LIVE
 * again with the same counts; a CAS on the bare counts would then add K's
 * reference to K2. The generation is what the CAS compares too: reclaiming
 * bumps it, so the stale CAS fails, the getter reloads the word, sees
 * another key (or CLAIMING) and goes on scanning -- at worst it claims a
 * new slot. (22 bits: the slot would have to be reclaimed 4 million times,
 * and come back with equal counts, while one thread sits between its load
 * and its CAS.) A slot reserved from FREE(0) has no earlier key: the CAS
 * that reserves it expects FREE, which no other transition produces, so
 * it succeeds for one claimer once, and nobody else writes the key of
 * generation 0; a getter or reader that loads FREE or CLAIMING does not
 * read the key at all.
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
 * A holder with MM_HOLDER_REFS_MAX (2^19 - 1) references of one kind in a
 * slot goes on in another slot of its own (duplicates again).
 *
 * THE CHAIN
 *
 * A claimer first reserves a FREE slot in its window of any table (the
 * first table first), then reclaims an idle slot in its window of any of
 * those tables; only if its window in every table holds references in
 * every slot does it allocate a zeroed table (all FREE(0)) of twice the
 * size of the last one, in one block with its header (its own slot count
 * and level), and link it with a CAS of the last table's `next` from NULL
 * (release; every reader of `next` loads it acquire, table_next(): a
 * scanner that finds the table sees its header and its zeroed words, not
 * stale memory). A claimer that loses that CAS frees its own table --
 * nobody can have seen it -- and scans again, finding the winner's FREE
 * slots. `next` is written once and a table is freed only with the mm
 * (mm_holders_destroy() from __mmdrop(), after the last reference, so
 * after the last get or put): a scanner never follows a pointer to freed
 * memory. Slots never move between tables, so the state machine, the
 * generation and the ABA argument above hold per slot unchanged; a scan
 * that started before a table was linked simply does not see it (as it
 * would not see a slot reserved after it passed), which the fallbacks
 * above already allow for: a get that finds no slot of its key claims one,
 * a put that misses its slot takes the next rule.
 *
 * Since the tables double, n holders need O(log n) tables (the chain grows
 * only when a window is full in every table, which the last, largest
 * table makes unlikely until it is well loaded), and a get or put looks at
 * O(MM_HOLDER_WINDOW * log n) slots, none of them outside its windows
 * (mm_holders_scanned() counts them, for the tests).
 *
 * Only when allocating a table fails (out of memory; fault injection) does
 * a get land in the overflow slot, where the reference is counted but not
 * attributed; the failure is recorded (mm->holders_alloc_failed) and
 * `check` reports the overflow as out of memory. The next claim tries to
 * allocate again. So any number of holders may hold references at once,
 * and an mm may see any number of distinct holders over its life.
 *
 * The order of mm_holders_collect() is that of the claims (seq), the
 * overflow last. Collect runs under mm_list_lock and does not allocate:
 * its caller (peek_holders()) passes the snapshot storage, sized by
 * mm_holders_slots() (all slots of all tables) outside the lock, and
 * retries on -EAGAIN if the chain grew meanwhile. It reads every slot
 * (skipping those not LIVE or idle), sorts the snapshot by key to sum
 * duplicates (heapsort, in place: O(n log n)), then by seq.
 *
 * The sched_point_lockfree()s mark the windows above for the interleaving
 * explorer; they are points only in tests that ask for them
 * (explore_opts.lockfree: tests/unit/test_mm_holders.c), no-ops (a
 * relaxed load and a branch) everywhere else.
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>

#include "base/alloc.h"
#include "base/sched_explore.h"
#include "base/signal.h"
#include "base/thread.h"
#include "mm/internal.h"

enum {
	SLOT_FREE, /* must be 0: a zeroed word is FREE(0) */
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
_Static_assert(CNT_MAX == MM_HOLDER_REFS_MAX, "MM_HOLDER_REFS_MAX is the slot's maximum");
_Static_assert((MM_HOLDER_SLOTS & (MM_HOLDER_SLOTS - 1)) == 0 &&
		       (MM_HOLDER_TABLE_MAX & (MM_HOLDER_TABLE_MAX - 1)) == 0 &&
		       MM_HOLDER_WINDOW <= MM_HOLDER_SLOTS,
	       "holder tables are powers of two, each at least a window");

static const char overflow_kind[] = MM_HOLDER_OVERFLOW_KIND;

/*
 * A chained table: its header and its slots in one allocation (the first
 * table's slots are in the mm).
 */
struct holder_table_block {
	struct mm_holder_table t; /* first: the chain points here */
	struct mm_holder_slot slots[];
};

/* Slots this thread looked at in its gets and puts (tests: mm_holders_scanned()). */
static SM_THREAD_TLS unsigned long holders_scanned;

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

/* Slots of the table at @level of a chain. */
static unsigned int level_slots(unsigned int level)
{
	unsigned int n = MM_HOLDER_SLOTS;

	for (unsigned int l = 0; l < level && n < MM_HOLDER_TABLE_MAX; l++)
		n *= 2;
	return n;
}

/*
 * The first slot of @owner's window in a table of @nslots slots at @level:
 * a 64-bit mix (murmur3's finalizer) of the owner pointer, seeded by the
 * level, so that owners crowding one window of a table spread over the
 * next one.
 */
static inline unsigned int hash_window(const void *owner, unsigned int level, unsigned int nslots)
{
	uint64_t x = (uint64_t)(uintptr_t)owner + level * UINT64_C(0x9e3779b97f4a7c15);

	x ^= x >> 33;
	x *= UINT64_C(0xff51afd7ed558ccd);
	x ^= x >> 33;
	x *= UINT64_C(0xc4ceb9fe1a85ec53);
	x ^= x >> 33;
	return (unsigned int)x & (nslots - 1);
}

static inline unsigned int window_start(const struct mm_holder_table *t, const void *owner)
{
	return hash_window(owner, t->level, t->nslots);
}

/* Slot @j (0 <= @j < MM_HOLDER_WINDOW) of the window from @start of @t. */
static inline struct mm_holder_slot *window_slot(struct mm_holder_table *t, unsigned int start,
						 unsigned int j)
{
	return &t->slots[(start + j) & (t->nslots - 1)];
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

/*
 * The table after @t, or NULL. Acquire pairs with the release CAS in
 * grow_chain(): the new table's header and zeroed (FREE) slots are seen as
 * such.
 */
static struct mm_holder_table *table_next(struct mm_holder_table *t)
{
	return atomic_load_explicit(&t->next, memory_order_acquire);
}

#define for_each_holder_table(t, mm) for (t = &(mm)->holders; t; t = table_next(t))

/*
 * Add @delta to a slot of @owner/@kind in its windows: the first with room,
 * for a put (@delta < 0) the first with a reference of that kind unless
 * @negative. Counts the slots looked at in *@scanned. Sets *@hint to the
 * first FREE slot the scan met (the scan of a window stops there), or
 * NULL: the slot reserve_free() would try first, every slot before it in
 * the key's windows having been seen not FREE (see THE WINDOWS), so that a
 * claim after a miss need not scan the windows again.
 * Return: false if there is none.
 */
static bool slot_add(struct mm_struct *mm, bool users, const void *owner, const char *kind,
		     int delta, bool negative, struct mm_holder_slot **hint, unsigned long *scanned)
{
	struct mm_holder_table *t;

	*hint = NULL;
	for_each_holder_table (t, mm) {
		unsigned int start = window_start(t, owner);

		for (unsigned int j = 0; j < MM_HOLDER_WINDOW; j++) {
			struct mm_holder_slot *s = window_slot(t, start, j);
			/* Acquire pairs with the release store of LIVE in claim_slot(). */
			uint64_t w = atomic_load_explicit(&s->word, memory_order_acquire);

			(*scanned)++;
			if (w_state(w) == SLOT_FREE) {
				if (!*hint)
					*hint = s;
				break; /* no slot of the key past it: see THE WINDOWS */
			}
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
 * Reserve @s if it is FREE: CAS FREE(0) -> CLAIMING(0), which succeeds for
 * one claimer only (no transition leads back to FREE), so the key of the
 * slot is ours alone to write. A claimer that loses the CAS to another sees
 * CLAIMING and looks on. Relaxed: the key and LIVE are published with
 * release stores after it (claim_slot()). Return: true if @s is ours.
 */
static bool reserve_slot(struct mm_holder_slot *s)
{
	uint64_t w = atomic_load_explicit(&s->word, memory_order_relaxed);

	/* A spurious failure finds it FREE again: the first FREE one stays ours to try. */
	while (w_state(w) == SLOT_FREE) {
		sched_point_lockfree("holder reserve");
		if (atomic_compare_exchange_weak_explicit(
			    &s->word, &w, mk_word(SLOT_CLAIMING, 0, 0, 0), memory_order_relaxed,
			    memory_order_relaxed))
			return true;
	}
	return false;
}

/*
 * Reserve the first FREE slot of @owner's window in @t that we can
 * (reserve_slot()). Return: the slot, or NULL if the window has no FREE
 * slot left.
 */
static struct mm_holder_slot *reserve_free(struct mm_holder_table *t, const void *owner,
					   unsigned long *scanned)
{
	unsigned int start = window_start(t, owner);

	for (unsigned int j = 0; j < MM_HOLDER_WINDOW; j++) {
		struct mm_holder_slot *s = window_slot(t, start, j);

		(*scanned)++;
		if (reserve_slot(s))
			return s;
	}
	return NULL;
}

/*
 * Take an idle slot (LIVE, no references) of the window from @start of @t
 * for another key: CAS it to CLAIMING with the next generation, so that
 * every CAS and every reader still holding its old word fails or reads
 * again. Return: the slot, its new generation in @gen; NULL if every slot
 * of the window holds references.
 */
static struct mm_holder_slot *reclaim_in_window(struct mm_holder_table *t, unsigned int start,
						unsigned int *gen, unsigned long *scanned)
{
	for (unsigned int j = 0; j < MM_HOLDER_WINDOW; j++) {
		struct mm_holder_slot *s = window_slot(t, start, j);
		uint64_t w = atomic_load_explicit(&s->word, memory_order_relaxed);

		(*scanned)++;
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
	return NULL;
}

/*
 * Reclaim an idle slot (reclaim_in_window()) of @owner's windows in the
 * tables up to @last: those whose windows the caller saw without a FREE
 * slot (see THE WINDOWS). Return: the slot, its new generation in @gen;
 * NULL if every slot of those windows holds references.
 */
static struct mm_holder_slot *reclaim_idle(struct mm_struct *mm, struct mm_holder_table *last,
					   const void *owner, unsigned int *gen,
					   unsigned long *scanned)
{
	struct mm_holder_table *t;

	for_each_holder_table (t, mm) {
		struct mm_holder_slot *s =
			reclaim_in_window(t, window_start(t, owner), gen, scanned);

		if (s)
			return s;
		if (t == last)
			break;
	}
	return NULL;
}

static size_t table_block_size(unsigned int nslots)
{
	return sizeof(struct holder_table_block) + (size_t)nslots * sizeof(struct mm_holder_slot);
}

/*
 * Chain a new table, twice the size of @last (up to MM_HOLDER_TABLE_MAX),
 * after @last, the last table seen. Allocating here is a calloc that takes
 * no lock and never sleeps (the kernel's GFP_ATOMIC / GFP_NOWAIT); it may
 * fail (fault injection). Return: false if the allocation failed; true if
 * @last has a next table now, ours or that of a racing claimer (then ours
 * is freed: nobody saw it).
 */
static bool grow_chain(struct mm_holder_table *last)
{
	unsigned int nslots = last->nslots < MM_HOLDER_TABLE_MAX ? 2 * last->nslots : last->nslots;
	struct holder_table_block *b = kzalloc(table_block_size(nslots));
	struct mm_holder_table *expected = NULL;

	if (!b)
		return false;
	/* Zeroed: every slot FREE(0), next NULL. Written before the CAS publishes it. */
	b->t.slots = b->slots;
	b->t.nslots = nslots;
	b->t.level = last->level + 1;
	sched_point_lockfree("holder grow");
	/*
	 * Release: pairs with the acquire load in table_next(), so a scanner
	 * that finds the table sees its header and zeroed slots. The failure
	 * order is relaxed: the winner's table is read through table_next()
	 * again.
	 */
	if (!atomic_compare_exchange_strong_explicit(&last->next, &expected, &b->t,
						     memory_order_release, memory_order_relaxed))
		kfree_sized(b, table_block_size(nslots));
	return true;
}

/*
 * A slot for @owner/@kind holding @delta: a FREE one of its windows while
 * there is any (reserved by CAS: ours alone; @hint first, the first FREE
 * slot slot_add() met, if any), else an idle one of its windows reclaimed,
 * else one of a new table, else the overflow slot.
 */
static void claim_slot(struct mm_struct *mm, bool users, const void *owner, const char *kind,
		       int delta, struct mm_holder_slot *hint, unsigned long *scanned)
{
	struct mm_holder_slot *s = NULL;
	struct mm_holder_table *t, *last;
	unsigned int gen = 0;
	unsigned long seq;

	if (hint && reserve_slot(hint))
		s = hint; /* what the scan below would take first */
	while (!s) {
		last = NULL;
		for_each_holder_table (t, mm) {
			last = t;
			s = reserve_free(t, owner, scanned);
			if (s)
				break;
		}
		if (!s)
			s = reclaim_idle(mm, last, owner, &gen, scanned);
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
	struct mm_holder_slot *hint;
	unsigned long scanned = 0;

	if (slot_add(mm, users, owner, kind, delta, false, &hint, &scanned))
		goto out;
	if (delta < 0) {
		if (overflow_add(mm, users, delta, true))
			goto out; /* got while the table was full */
		if (slot_add(mm, users, owner, kind, delta, true, &hint, &scanned))
			goto out; /* another slot of the holder holds it, or an unbalanced put */
	}
	claim_slot(mm, users, owner, kind, delta, hint, &scanned);
out:
	holders_scanned += scanned;
}

void mm_holders_init(struct mm_struct *mm)
{
	struct mm_holder_slot *o = &mm->holders_overflow;

	atomic_init(&o->owner, NULL);
	atomic_init(&o->kind, overflow_kind);
	atomic_init(&o->seq, ~0UL); /* listed last */
	atomic_init(&o->word, mk_word(SLOT_LIVE, 0, 0, 0));
	for (int i = 0; i < MM_HOLDER_SLOTS; i++) {
		struct mm_holder_slot *s = &mm->holder_slots[i];

		atomic_init(&s->word, 0); /* FREE(0) */
		atomic_init(&s->owner, NULL);
		atomic_init(&s->kind, NULL);
		atomic_init(&s->seq, 0);
	}
	mm->holders.slots = mm->holder_slots;
	mm->holders.nslots = MM_HOLDER_SLOTS;
	mm->holders.level = 0;
	atomic_init(&mm->holders.next, NULL);
	atomic_init(&mm->holders_alloc_failed, false);
	atomic_init(&mm->holders_seq, 0);
}

void mm_holders_destroy(struct mm_struct *mm)
{
	struct mm_holder_table *t = atomic_load_explicit(&mm->holders.next, memory_order_acquire);

	while (t) {
		struct mm_holder_table *next = atomic_load_explicit(&t->next, memory_order_acquire);

		/* The block starts with its header (struct holder_table_block). */
		kfree_sized(t, table_block_size(t->nslots));
		t = next;
	}
	atomic_store_explicit(&mm->holders.next, NULL, memory_order_relaxed);
}

int mm_holders_slots(struct mm_struct *mm)
{
	struct mm_holder_table *t;
	long n = 1; /* the overflow slot */

	for_each_holder_table (t, mm) {
		n += t->nslots;
		if (n >= INT_MAX)
			return INT_MAX; /* no snapshot that large will be allocated anyway */
	}
	return (int)n;
}

int mm_holders_tables(struct mm_struct *mm)
{
	struct mm_holder_table *t;
	int n = 0;

	for_each_holder_table (t, mm)
		n++;
	return n;
}

unsigned int mm_holder_window(const void *owner, unsigned int level)
{
	return hash_window(owner, level, level_slots(level));
}

unsigned long mm_holders_claims(struct mm_struct *mm)
{
	return atomic_load_explicit(&mm->holders_seq, memory_order_relaxed);
}

unsigned long mm_holders_scanned(void)
{
	return holders_scanned;
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

typedef int (*snap_cmp_t)(const struct holder_snap *a, const struct holder_snap *b);

/* By key: owner pointer, then kind (NULL first, then by strcmp(), as same_kind()). */
static int snap_cmp_key(const struct holder_snap *a, const struct holder_snap *b)
{
	uintptr_t x = (uintptr_t)a->h.owner, y = (uintptr_t)b->h.owner;

	if (x != y)
		return x < y ? -1 : 1;
	if (a->h.kind == b->h.kind)
		return 0;
	if (!a->h.kind || !b->h.kind)
		return a->h.kind ? 1 : -1;
	return strcmp(a->h.kind, b->h.kind);
}

/* By claim (seq); the overflow's seq is ~0UL: last. */
static int snap_cmp_seq(const struct holder_snap *a, const struct holder_snap *b)
{
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

static void snap_swap(struct holder_snap *a, struct holder_snap *b)
{
	struct holder_snap x = *a;

	*a = *b;
	*b = x;
}

static void sift_down(struct holder_snap *snap, int root, int n, snap_cmp_t cmp)
{
	for (;;) {
		int child = 2 * root + 1;

		if (child >= n)
			return;
		if (child + 1 < n && cmp(&snap[child], &snap[child + 1]) < 0)
			child++;
		if (cmp(&snap[root], &snap[child]) >= 0)
			return;
		snap_swap(&snap[root], &snap[child]);
		root = child;
	}
}

/* Heapsort: O(n log n), in place (collect may not allocate). */
static void sort_snap(struct holder_snap *snap, int n, snap_cmp_t cmp)
{
	for (int i = n / 2 - 1; i >= 0; i--)
		sift_down(snap, i, n, cmp);
	for (int end = n - 1; end > 0; end--) {
		snap_swap(&snap[0], &snap[end]);
		sift_down(snap, 0, end, cmp);
	}
}

/*
 * mm_holders_collect() - the holders of @mm into @out (at most @max; see
 * mm_query_holders()), read through @snap, @cap entries of the caller's
 * storage. Caller holds mm_list_lock (so @mm and its tables stay); takes
 * no other lock, does not allocate or sleep; O(s + n log n) for s slots
 * of which n hold references. Return: the number of holders, or -EAGAIN
 * if more than @cap slots hold references (the chain grew since the
 * caller asked mm_holders_slots()).
 */
int mm_holders_collect(struct mm_struct *mm, struct holder_snap *snap, int cap,
		       struct mm_holder *out, int max)
{
	struct mm_holder_table *t;
	struct holder_snap x;
	int n = 0, k = 0;

	for_each_holder_table (t, mm) {
		for (unsigned int i = 0; i < t->nslots; i++) {
			if (!read_slot(&t->slots[i], &x))
				continue;
			if (n == cap)
				return -EAGAIN; /* the chain grew since the caller sized @snap */
			snap[n++] = x;
		}
	}
	if (read_slot(&mm->holders_overflow, &x)) {
		if (n == cap)
			return -EAGAIN;
		snap[n++] = x;
	}
	/*
	 * Duplicates of a holder (adjacent once sorted by key) summed into one
	 * entry with the first claim's seq; those summed to zero drop out.
	 */
	sort_snap(snap, n, snap_cmp_key);
	for (int i = 0; i < n; i++) {
		if (k && !snap_cmp_key(&snap[k - 1], &snap[i])) {
			snap[k - 1].h.users += snap[i].h.users;
			snap[k - 1].h.count += snap[i].h.count;
			if (snap[i].seq < snap[k - 1].seq)
				snap[k - 1].seq = snap[i].seq;
		} else {
			if (k && !snap[k - 1].h.users && !snap[k - 1].h.count)
				k--; /* the previous key summed to zero */
			snap[k++] = snap[i];
		}
	}
	if (k && !snap[k - 1].h.users && !snap[k - 1].h.count)
		k--;
	sort_snap(snap, k, snap_cmp_seq);
	n = 0;
	for (int i = 0; i < k; i++) {
		if (n < max)
			out[n] = snap[i].h;
		n++;
	}
	return n;
}
