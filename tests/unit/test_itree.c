// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests for the augmented interval tree (src/base/itree.c).
 *
 * The randomized tests keep a brute-force oracle (an array of live items
 * with an insertion sequence number) and after every batch check that:
 *   - itree_verify() passes and root->count matches,
 *   - the in-order walk is exactly the oracle sorted by (start, seq), i.e.
 *     sorted by start with ties in insertion order, forwards and backwards,
 *   - for random query ranges, iter_first/iter_next return exactly the
 *     overlapping oracle items, in that same order.
 * The seed can be overridden with ITREE_SEED=<n>.
 */
#include "../harness.h"
#include "base/itree.h"

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct item {
	struct itree_node node;
	unsigned long seq; /* insertion sequence number */
	bool live;
};

/* ---- deterministic PRNG (xorshift64*) ---- */

static uint64_t rng_state;

static void rng_seed(uint64_t seed)
{
	const char *env = getenv("ITREE_SEED");

	if (env)
		seed = strtoull(env, NULL, 0);
	rng_state = seed ? seed : 0x9e3779b97f4a7c15ull;
	printf("itree seed %llu\n", (unsigned long long)rng_state);
}

static uint64_t rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

/* Uniform-ish value in [0, n), n > 0. */
static unsigned long rng_below(unsigned long n)
{
	return (unsigned long)(rng() % n);
}

/* ---- helpers ---- */

static void set_iv(struct item *it, unsigned long start, unsigned long last)
{
	it->node.start = start;
	it->node.last = last;
}

static struct item *to_item(struct itree_node *n)
{
	return n ? itree_entry(n, struct item, node) : NULL;
}

static unsigned long sat_add(unsigned long a, unsigned long d)
{
	return a > ULONG_MAX - d ? ULONG_MAX : a + d;
}

static bool overlaps(const struct itree_node *n, unsigned long start, unsigned long last)
{
	return n->start <= last && n->last >= start;
}

static int cmp_item(const void *a, const void *b)
{
	const struct item *x = *(struct item *const *)a;
	const struct item *y = *(struct item *const *)b;

	if (x->node.start != y->node.start)
		return x->node.start < y->node.start ? -1 : 1;
	if (x->seq != y->seq)
		return x->seq < y->seq ? -1 : 1;
	return 0;
}

/* The overlap query's results must be exactly @expect[0..n), in order. */
static void check_query(struct itree_root *root, unsigned long start, unsigned long last,
			struct item **expect, size_t n)
{
	struct itree_node *it;
	size_t i = 0;

	for (it = itree_iter_first(root, start, last); it;
	     it = itree_iter_next(it, start, last), i++) {
		if (i >= n)
			FAIL("query [%#lx,%#lx]: extra result [%#lx,%#lx]", start, last, it->start,
			     it->last);
		if (to_item(it) != expect[i])
			FAIL("query [%#lx,%#lx]: result %zu is [%#lx,%#lx] seq %lu, expected "
			     "[%#lx,%#lx] seq %lu",
			     start, last, i, it->start, it->last, to_item(it)->seq,
			     expect[i]->node.start, expect[i]->node.last, expect[i]->seq);
	}
	if (i != n)
		FAIL("query [%#lx,%#lx]: %zu results, expected %zu", start, last, i, n);
}

/* Brute-force the overlap set of @sorted (already in tree order). */
static size_t brute_query(struct item **sorted, size_t n, unsigned long start, unsigned long last,
			  struct item **out)
{
	size_t i, k = 0;

	for (i = 0; i < n; i++)
		if (overlaps(&sorted[i]->node, start, last))
			out[k++] = sorted[i];
	return k;
}

/* Whole-tree walk in both directions must equal @sorted[0..n). */
static void check_walk(struct itree_root *root, struct item **sorted, size_t n)
{
	struct itree_node *it;
	size_t i = 0;

	for (it = itree_first(root); it; it = itree_next(it), i++) {
		ASSERT(i < n);
		ASSERT_PTR_EQ(to_item(it), sorted[i]);
	}
	ASSERT_UEQ(i, n);
	for (it = itree_last(root); it; it = itree_prev(it)) {
		ASSERT(i > 0);
		ASSERT_PTR_EQ(to_item(it), sorted[--i]);
	}
	ASSERT_UEQ(i, 0);
}

static void check_tree_basic(struct itree_root *root, size_t n)
{
	ASSERT_EQ(itree_verify(root), 0);
	ASSERT_UEQ(root->count, n);
	ASSERT_EQ(itree_empty(root), n == 0);
}

/* ---- interval generators ---- */

/* Dense small coordinates: lots of overlaps and duplicate starts. */
static void gen_small(struct item *it)
{
	unsigned long s = rng_below(4096);

	set_iv(it, s, s + rng_below(rng_below(8) ? 16 : 512));
}

/* Edge-hugging intervals touching 0 or ULONG_MAX. */
static void gen_edge(struct item *it)
{
	switch (rng_below(5)) {
	case 0:
		set_iv(it, 0, rng_below(3) ? rng_below(100) : ULONG_MAX);
		break;
	case 1:
		set_iv(it, ULONG_MAX - rng_below(100), ULONG_MAX);
		break;
	case 2:
		set_iv(it, ULONG_MAX, ULONG_MAX);
		break;
	case 3:
		set_iv(it, 0, 0);
		break;
	default:
		set_iv(it, rng_below(ULONG_MAX / 2), ULONG_MAX - rng_below(50));
		break;
	}
}

/* Anything in the full range. */
static void gen_wide(struct item *it)
{
	unsigned long a = (unsigned long)rng(), b = (unsigned long)rng();

	if (a > b) {
		unsigned long t = a;

		a = b;
		b = t;
	}
	set_iv(it, a, b);
}

static void gen_interval(struct item *it, struct item **live, size_t nlive)
{
	unsigned long r = rng_below(100);

	if (r < 15 && nlive) {
		/* exact duplicate of a live interval */
		struct item *d = live[rng_below(nlive)];

		set_iv(it, d->node.start, d->node.last);
	} else if (r < 70) {
		gen_small(it);
	} else if (r < 80) {
		gen_edge(it);
	} else {
		gen_wide(it);
	}
}

static void gen_query(unsigned long *start, unsigned long *last)
{
	unsigned long r = rng_below(10), a, b;

	if (r < 6) {
		a = rng_below(4600);
		b = a + rng_below(rng_below(2) ? 4 : 800);
	} else if (r < 7) {
		a = rng_below(2) ? 0 : ULONG_MAX - rng_below(200);
		b = sat_add(a, rng_below(100));
	} else if (r < 8) {
		a = 0;
		b = ULONG_MAX;
	} else {
		a = (unsigned long)rng();
		b = (unsigned long)rng();
		if (a > b) {
			unsigned long t = a;

			a = b;
			b = t;
		}
	}
	*start = a;
	*last = b;
}

/* ---- randomized test against the oracle ---- */

#define POOL_MAX 5000

struct oracle {
	struct itree_root root;
	struct item *pool;    /* POOL_MAX items */
	struct item **live;   /* live items, unordered */
	struct item **sorted; /* scratch: live in tree order */
	struct item **expect; /* scratch: query results */
	size_t nlive;
	unsigned long seq;
};

static void oracle_init(struct oracle *o)
{
	itree_init(&o->root);
	o->pool = calloc(POOL_MAX, sizeof(*o->pool));
	o->live = calloc(POOL_MAX, sizeof(*o->live));
	o->sorted = calloc(POOL_MAX, sizeof(*o->sorted));
	o->expect = calloc(POOL_MAX, sizeof(*o->expect));
	ASSERT(o->pool && o->live && o->sorted && o->expect);
	o->nlive = 0;
	o->seq = 0;
}

static void oracle_fini(struct oracle *o)
{
	free(o->pool);
	free(o->live);
	free(o->sorted);
	free(o->expect);
}

static void oracle_insert(struct oracle *o)
{
	struct item *it = NULL;
	size_t i;

	/* pick a free pool slot, starting at a random place */
	for (i = rng_below(POOL_MAX);; i = (i + 1) % POOL_MAX) {
		if (!o->pool[i].live) {
			it = &o->pool[i];
			break;
		}
	}
	gen_interval(it, o->live, o->nlive);
	it->seq = o->seq++;
	it->live = true;
	itree_insert(&it->node, &o->root);
	o->live[o->nlive++] = it;
}

static void oracle_remove(struct oracle *o)
{
	size_t i = rng_below(o->nlive);
	struct item *it = o->live[i];

	/* bias toward removing the root now and then */
	if (rng_below(20) == 0) {
		it = to_item(o->root.node);
		for (i = 0; o->live[i] != it; i++)
			;
	}
	itree_remove(&it->node, &o->root);
	it->live = false;
	o->live[i] = o->live[--o->nlive];
}

static void oracle_check(struct oracle *o, int nqueries)
{
	unsigned long start, last;
	size_t n = o->nlive, k;
	int q;

	check_tree_basic(&o->root, n);
	memcpy(o->sorted, o->live, n * sizeof(*o->sorted));
	qsort(o->sorted, n, sizeof(*o->sorted), cmp_item);
	check_walk(&o->root, o->sorted, n);

	for (q = 0; q < nqueries; q++) {
		gen_query(&start, &last);
		k = brute_query(o->sorted, n, start, last, o->expect);
		check_query(&o->root, start, last, o->expect, k);
	}
	/* queries anchored at live intervals' own endpoints */
	for (q = 0; n && q < nqueries / 4; q++) {
		struct item *it = o->live[rng_below(n)];

		start = it->node.last;
		last = sat_add(start, rng_below(3));
		k = brute_query(o->sorted, n, start, last, o->expect);
		check_query(&o->root, start, last, o->expect, k);
	}
}

/*
 * @nops insert/remove operations, checked every @batch operations.  The
 * insert probability follows a sawtooth so the live population repeatedly
 * grows toward POOL_MAX and drains back toward zero.
 */
static void run_random(uint64_t seed, int nops, int batch)
{
	struct oracle o;
	size_t peak = 0;
	int op;

	rng_seed(seed);
	oracle_init(&o);
	for (op = 0; op < nops; op++) {
		bool grow = (op / 2500) % 2 == 0;
		unsigned long p_insert = grow ? 95 : 25;

		if (o.nlive < POOL_MAX && (o.nlive == 0 || rng_below(100) < p_insert))
			oracle_insert(&o);
		else
			oracle_remove(&o);
		if (o.nlive > peak)
			peak = o.nlive;
		if ((op + 1) % batch == 0)
			oracle_check(&o, 40);
	}
	printf("peak live nodes %zu\n", peak);
	ASSERT_UEQ(peak, POOL_MAX);
	oracle_check(&o, 200);
	while (o.nlive)
		oracle_remove(&o);
	oracle_check(&o, 10);
	oracle_fini(&o);
}

TEST(itree_random_20000_ops)
{
	run_random(20240601, 20000, 200);
}

TEST(itree_random_fine_grained)
{
	/* small populations, verified after every single operation */
	rng_seed(7);
	for (int round = 0; round < 20; round++) {
		struct oracle o;
		int op;

		oracle_init(&o);
		for (op = 0; op < 300; op++) {
			if (o.nlive == 0 || rng_below(100) < 60)
				oracle_insert(&o);
			else
				oracle_remove(&o);
			oracle_check(&o, 8);
		}
		oracle_fini(&o);
	}
}

/* ---- edge cases ---- */

TEST(itree_empty_tree)
{
	struct itree_root root = ITREE_ROOT_INIT;
	struct itree_root root2;

	itree_init(&root2);
	ASSERT(itree_empty(&root));
	ASSERT(itree_empty(&root2));
	ASSERT_UEQ(root.count, 0);
	ASSERT_EQ(itree_verify(&root), 0);
	ASSERT_NULL(itree_first(&root));
	ASSERT_NULL(itree_last(&root));
	ASSERT_NULL(itree_iter_first(&root, 0, ULONG_MAX));
	ASSERT_NULL(itree_iter_first(&root, 0, 0));
	ASSERT_NULL(itree_iter_first(&root, ULONG_MAX, ULONG_MAX));
}

TEST(itree_single_node)
{
	struct itree_root root = ITREE_ROOT_INIT;
	struct item a;

	set_iv(&a, 100, 200);
	itree_insert(&a.node, &root);
	check_tree_basic(&root, 1);
	ASSERT_PTR_EQ(root.node, &a.node);
	ASSERT_PTR_EQ(itree_first(&root), &a.node);
	ASSERT_PTR_EQ(itree_last(&root), &a.node);
	ASSERT_NULL(itree_next(&a.node));
	ASSERT_NULL(itree_prev(&a.node));

	/* boundaries of a closed interval */
	ASSERT_PTR_EQ(itree_iter_first(&root, 0, 100), &a.node);
	ASSERT_PTR_EQ(itree_iter_first(&root, 200, 300), &a.node);
	ASSERT_PTR_EQ(itree_iter_first(&root, 150, 150), &a.node);
	ASSERT_PTR_EQ(itree_iter_first(&root, 0, ULONG_MAX), &a.node);
	ASSERT_NULL(itree_iter_first(&root, 0, 99));
	ASSERT_NULL(itree_iter_first(&root, 201, ULONG_MAX));
	ASSERT_NULL(itree_iter_next(&a.node, 0, ULONG_MAX));

	itree_remove(&a.node, &root);
	check_tree_basic(&root, 0);
	ASSERT_NULL(root.node);
	ASSERT_NULL(itree_iter_first(&root, 0, ULONG_MAX));

	/* a removed node can be reinserted with a new interval */
	set_iv(&a, 5, 5);
	itree_insert(&a.node, &root);
	check_tree_basic(&root, 1);
	ASSERT_PTR_EQ(itree_iter_first(&root, 5, 5), &a.node);
	ASSERT_NULL(itree_iter_first(&root, 6, 6));
}

TEST(itree_extreme_bounds)
{
	struct itree_root root = ITREE_ROOT_INIT;
	struct item zero, top, all, mid;
	struct itree_node *n;

	set_iv(&zero, 0, 0);
	set_iv(&top, ULONG_MAX, ULONG_MAX);
	set_iv(&all, 0, ULONG_MAX);
	set_iv(&mid, 1, ULONG_MAX - 1);
	itree_insert(&top.node, &root);
	itree_insert(&zero.node, &root);
	itree_insert(&mid.node, &root);
	itree_insert(&all.node, &root);
	check_tree_basic(&root, 4);
	ASSERT_UEQ(root.node->subtree_last, ULONG_MAX);

	/* order: zero, all (same start, inserted later), mid, top */
	n = itree_first(&root);
	ASSERT_PTR_EQ(n, &zero.node);
	ASSERT_PTR_EQ(n = itree_next(n), &all.node);
	ASSERT_PTR_EQ(n = itree_next(n), &mid.node);
	ASSERT_PTR_EQ(n = itree_next(n), &top.node);
	ASSERT_NULL(itree_next(n));
	ASSERT_PTR_EQ(itree_last(&root), &top.node);

	/* [0,0]: zero, all */
	n = itree_iter_first(&root, 0, 0);
	ASSERT_PTR_EQ(n, &zero.node);
	ASSERT_PTR_EQ(n = itree_iter_next(n, 0, 0), &all.node);
	ASSERT_NULL(itree_iter_next(n, 0, 0));

	/* [ULONG_MAX,ULONG_MAX]: all, top */
	n = itree_iter_first(&root, ULONG_MAX, ULONG_MAX);
	ASSERT_PTR_EQ(n, &all.node);
	ASSERT_PTR_EQ(n = itree_iter_next(n, ULONG_MAX, ULONG_MAX), &top.node);
	ASSERT_NULL(itree_iter_next(n, ULONG_MAX, ULONG_MAX));

	/* [1,ULONG_MAX-1]: all, mid */
	n = itree_iter_first(&root, 1, ULONG_MAX - 1);
	ASSERT_PTR_EQ(n, &all.node);
	ASSERT_PTR_EQ(n = itree_iter_next(n, 1, ULONG_MAX - 1), &mid.node);
	ASSERT_NULL(itree_iter_next(n, 1, ULONG_MAX - 1));

	/* everything */
	n = itree_iter_first(&root, 0, ULONG_MAX);
	ASSERT_PTR_EQ(n, &zero.node);
	ASSERT_PTR_EQ(n = itree_iter_next(n, 0, ULONG_MAX), &all.node);
	ASSERT_PTR_EQ(n = itree_iter_next(n, 0, ULONG_MAX), &mid.node);
	ASSERT_PTR_EQ(n = itree_iter_next(n, 0, ULONG_MAX), &top.node);
	ASSERT_NULL(itree_iter_next(n, 0, ULONG_MAX));

	/* subtree_last must drop back when the ULONG_MAX intervals leave */
	itree_remove(&all.node, &root);
	itree_remove(&top.node, &root);
	check_tree_basic(&root, 2);
	ASSERT_UEQ(root.node->subtree_last, ULONG_MAX - 1);
	ASSERT_NULL(itree_iter_first(&root, ULONG_MAX, ULONG_MAX));
	itree_remove(&mid.node, &root);
	check_tree_basic(&root, 1);
	ASSERT_UEQ(root.node->subtree_last, 0);
	ASSERT_NULL(itree_iter_first(&root, 1, ULONG_MAX));
}

TEST(itree_duplicates_keep_insertion_order)
{
	struct itree_root root = ITREE_ROOT_INIT;
	struct item d[64];
	struct itree_node *n;
	int i;

	for (i = 0; i < 64; i++) {
		set_iv(&d[i], 10, 20);
		itree_insert(&d[i].node, &root);
		ASSERT_EQ(itree_verify(&root), 0);
	}
	for (i = 0, n = itree_iter_first(&root, 20, 20); n; n = itree_iter_next(n, 20, 20), i++)
		ASSERT_PTR_EQ(n, &d[i].node);
	ASSERT_EQ(i, 64);

	/* remove every third one; the rest stay in insertion order */
	for (i = 0; i < 64; i += 3)
		itree_remove(&d[i].node, &root);
	check_tree_basic(&root, 64 - 22);
	n = itree_first(&root);
	for (i = 0; i < 64; i++) {
		if (i % 3 == 0)
			continue;
		ASSERT_PTR_EQ(n, &d[i].node);
		n = itree_next(n);
	}
	ASSERT_NULL(n);

	/* a re-inserted duplicate goes to the end of its run */
	itree_insert(&d[0].node, &root);
	ASSERT_PTR_EQ(itree_last(&root), &d[0].node);
	ASSERT_EQ(itree_verify(&root), 0);
}

TEST(itree_remove_root_repeatedly)
{
	enum {
		N = 1000
	};
	struct itree_root root = ITREE_ROOT_INIT;
	struct item *v = calloc(N, sizeof(*v));
	struct itree_node *n, *p;
	unsigned long left = N;
	int i;

	ASSERT_NOT_NULL(v);
	/* ascending inserts: worst case for an unbalanced tree */
	for (i = 0; i < N; i++) {
		set_iv(&v[i], (unsigned long)i * 10,
		       (unsigned long)i * 10 + (unsigned long)(i % 7) * 25);
		itree_insert(&v[i].node, &root);
	}
	check_tree_basic(&root, N);
	ASSERT_LE(root.node->height, 15); /* AVL: < 1.44 log2(N+2) */

	while (!itree_empty(&root)) {
		itree_remove(root.node, &root);
		left--;
		check_tree_basic(&root, left);
		for (p = NULL, n = itree_first(&root); n; p = n, n = itree_next(n))
			if (p)
				ASSERT_ULE(p->start, n->start);
	}
	ASSERT_UEQ(left, 0);
	free(v);
}

TEST(itree_first_last_next_prev)
{
	enum {
		N = 257
	};
	struct itree_root root = ITREE_ROOT_INIT;
	struct item v[N];
	int perm[N], i;
	struct itree_node *n;

	rng_seed(99);
	for (i = 0; i < N; i++)
		perm[i] = i;
	for (i = N - 1; i > 0; i--) {
		int j = (int)rng_below((unsigned long)i + 1), t = perm[i];

		perm[i] = perm[j];
		perm[j] = t;
	}
	for (i = 0; i < N; i++) {
		int k = perm[i];

		set_iv(&v[k], (unsigned long)k * 3, (unsigned long)k * 3 + 1);
		itree_insert(&v[k].node, &root);
	}
	check_tree_basic(&root, N);
	ASSERT_PTR_EQ(itree_first(&root), &v[0].node);
	ASSERT_PTR_EQ(itree_last(&root), &v[N - 1].node);
	for (i = 0; i < N; i++) {
		n = &v[i].node;
		if (i > 0)
			ASSERT_PTR_EQ(itree_prev(n), &v[i - 1].node);
		else
			ASSERT_NULL(itree_prev(n));
		if (i < N - 1)
			ASSERT_PTR_EQ(itree_next(n), &v[i + 1].node);
		else
			ASSERT_NULL(itree_next(n));
	}
	/* gaps between intervals: [3k+2, 3k+2] overlaps nothing */
	for (i = 0; i < N; i++) {
		unsigned long g = (unsigned long)i * 3 + 2;

		ASSERT_NULL(itree_iter_first(&root, g, g));
		/* g + 1 is the start of v[i + 1] */
		if (i + 1 < N)
			ASSERT_PTR_EQ(itree_iter_first(&root, g, g + 1), &v[i + 1].node);
		else
			ASSERT_NULL(itree_iter_first(&root, g, g + 1));
	}
}

/* VMA-tree usage: disjoint intervals, "first VMA with last >= addr". */
TEST(itree_vma_lookup)
{
	enum {
		N = 2000
	};
	struct itree_root root = ITREE_ROOT_INIT;
	struct item *v = calloc(N, sizeof(*v));
	unsigned long addr = 0x1000;
	int i, q;

	ASSERT_NOT_NULL(v);
	rng_seed(4242);
	for (i = 0; i < N; i++) {
		addr += (1 + rng_below(16)) * 0x1000; /* gap */
		set_iv(&v[i], addr, addr + (1 + rng_below(64)) * 0x1000 - 1);
		addr = v[i].node.last + 1;
	}
	for (i = N - 1; i >= 0; i -= 2) /* odd order, then evens */
		itree_insert(&v[i].node, &root);
	for (i = N - 2; i >= 0; i -= 2)
		itree_insert(&v[i].node, &root);
	check_tree_basic(&root, N);

	for (q = 0; q < 20000; q++) {
		unsigned long a = rng_below(addr + 0x10000);
		struct itree_node *n = itree_iter_first(&root, a, ULONG_MAX);
		int lo = 0, hi = N;

		/* oracle: binary search for first v[i].last >= a */
		while (lo < hi) {
			int m = (lo + hi) / 2;

			if (v[m].node.last >= a)
				hi = m;
			else
				lo = m + 1;
		}
		ASSERT_PTR_EQ(n, lo < N ? &v[lo].node : NULL);
		/* point lookup: the containing VMA, if any */
		n = itree_iter_first(&root, a, a);
		if (lo < N && v[lo].node.start <= a)
			ASSERT_PTR_EQ(n, &v[lo].node);
		else
			ASSERT_NULL(n);
	}
	free(v);
}

/* itree_verify() must catch corruption, or the tests above prove nothing. */
TEST(itree_verify_detects_corruption)
{
	struct itree_root root = ITREE_ROOT_INIT;
	struct item v[15];
	struct itree_node *r;
	unsigned long saved;
	int i;

	for (i = 0; i < 15; i++) {
		set_iv(&v[i], (unsigned long)i * 10, (unsigned long)i * 10 + 5);
		itree_insert(&v[i].node, &root);
	}
	ASSERT_EQ(itree_verify(&root), 0);
	r = root.node;
	ASSERT(r->left && r->right);
	fprintf(stderr, "(expected itree_verify diagnostics follow)\n");

	saved = r->left->subtree_last; /* stale augmentation */
	r->left->subtree_last = saved + 1;
	ASSERT_EQ(itree_verify(&root), -1);
	r->left->subtree_last = saved;

	saved = r->start; /* ordering violation */
	r->start = r->right->subtree_last + 100;
	r->last = r->start;
	ASSERT_EQ(itree_verify(&root), -1);
	r->start = saved;
	r->last = saved + 5;

	r->left->parent = r->right; /* broken parent link */
	ASSERT_EQ(itree_verify(&root), -1);
	r->left->parent = r;

	root.count++; /* count mismatch */
	ASSERT_EQ(itree_verify(&root), -1);
	root.count--;

	r->height++; /* stale height */
	ASSERT_EQ(itree_verify(&root), -1);
	r->height--;

	ASSERT_EQ(itree_verify(&root), 0);
}
