// SPDX-License-Identifier: GPL-2.0
/*
 * itree - augmented AVL interval tree.  See itree.h for the invariants and
 * the argument for why overlap iteration prunes correctly.
 */
#include "base/itree.h"

#include <stdio.h>

static inline int node_height(const struct itree_node *n)
{
	return n ? n->height : 0;
}

static inline int max_int(int a, int b)
{
	return a > b ? a : b;
}

static inline unsigned long max_ul(unsigned long a, unsigned long b)
{
	return a > b ? a : b;
}

/* Recompute ->height and ->subtree_last of @n from its children. */
static void node_update(struct itree_node *n)
{
	unsigned long sl = n->last;

	if (n->left)
		sl = max_ul(sl, n->left->subtree_last);
	if (n->right)
		sl = max_ul(sl, n->right->subtree_last);
	n->subtree_last = sl;
	n->height = 1 + max_int(node_height(n->left), node_height(n->right));
}

static inline int balance_factor(const struct itree_node *n)
{
	return node_height(n->left) - node_height(n->right);
}

/* Make @new take @old's place under @parent (or as the root). */
static void replace_child(struct itree_node *parent, struct itree_node *old, struct itree_node *new,
			  struct itree_root *root)
{
	if (!parent)
		root->node = new;
	else if (parent->left == old)
		parent->left = new;
	else
		parent->right = new;
	if (new)
		new->parent = parent;
}

/*
 *     x              y
 *    / \            / \
 *   a   y    ->    x   c
 *      / \        / \
 *     b   c      a   b
 */
static struct itree_node *rotate_left(struct itree_node *x, struct itree_root *root)
{
	struct itree_node *y = x->right;

	x->right = y->left;
	if (y->left)
		y->left->parent = x;
	replace_child(x->parent, x, y, root);
	y->left = x;
	x->parent = y;
	node_update(x);
	node_update(y);
	return y;
}

/* Mirror image of rotate_left(). */
static struct itree_node *rotate_right(struct itree_node *x, struct itree_root *root)
{
	struct itree_node *y = x->left;

	x->left = y->right;
	if (y->right)
		y->right->parent = x;
	replace_child(x->parent, x, y, root);
	y->right = x;
	x->parent = y;
	node_update(x);
	node_update(y);
	return y;
}

/*
 * Restore the AVL property at @n (whose children are valid AVL subtrees
 * differing in height by at most 2) and return the new subtree root.
 */
static struct itree_node *balance_node(struct itree_node *n, struct itree_root *root)
{
	int bf;

	node_update(n);
	bf = balance_factor(n);
	if (bf > 1) {
		if (balance_factor(n->left) < 0)
			rotate_left(n->left, root);
		return rotate_right(n, root);
	}
	if (bf < -1) {
		if (balance_factor(n->right) > 0)
			rotate_right(n->right, root);
		return rotate_left(n, root);
	}
	return n;
}

/*
 * Walk from @n up to the root, rebalancing and refreshing the augmented
 * data.  Always going all the way up keeps subtree_last correct on every
 * ancestor; the path is O(log n) long.
 */
static void rebalance_upward(struct itree_node *n, struct itree_root *root)
{
	while (n) {
		n = balance_node(n, root);
		n = n->parent;
	}
}

/**
 * itree_insert - add a node to an interval tree
 * @node:	node to insert; @node->start and @node->last must be set
 *		by the caller with start <= last
 * @root:	tree root
 *
 * Duplicates are allowed.  The node is placed after every existing node
 * with the same ->start.  The caller serializes against all other
 * operations on @root.  O(log n).
 */
void itree_insert(struct itree_node *node, struct itree_root *root)
{
	struct itree_node **link = &root->node, *parent = NULL;

	while (*link) {
		parent = *link;
		if (node->start < parent->start)
			link = &parent->left;
		else
			link = &parent->right;
	}
	node->parent = parent;
	node->left = NULL;
	node->right = NULL;
	node->height = 1;
	node->subtree_last = node->last;
	*link = node;
	root->count++;
	rebalance_upward(parent, root);
}

/*
 * Unlink @node, which has two children, by putting its in-order successor
 * in its place.  Returns the lowest node whose subtree changed.
 */
static struct itree_node *remove_two_children(struct itree_node *node, struct itree_root *root)
{
	struct itree_node *succ = node->right, *fix;

	while (succ->left)
		succ = succ->left;

	if (succ == node->right) {
		fix = succ;
	} else {
		fix = succ->parent;
		fix->left = succ->right;
		if (succ->right)
			succ->right->parent = fix;
		succ->right = node->right;
		node->right->parent = succ;
	}
	succ->left = node->left;
	node->left->parent = succ;
	replace_child(node->parent, node, succ, root);
	return fix;
}

/**
 * itree_remove - unlink a node from an interval tree
 * @node:	node currently linked into @root
 * @root:	tree root
 *
 * The node's memory is not touched afterwards and may be reused or
 * reinserted.  The caller serializes against all other operations on
 * @root.  O(log n).
 */
void itree_remove(struct itree_node *node, struct itree_root *root)
{
	struct itree_node *fix;

	if (node->left && node->right) {
		fix = remove_two_children(node, root);
	} else {
		struct itree_node *child = node->left ? node->left : node->right;

		fix = node->parent;
		replace_child(node->parent, node, child, root);
	}
	root->count--;
	rebalance_upward(fix, root);
	node->left = node->right = node->parent = NULL;
}

/*
 * Return the leftmost node in the subtree rooted at @node that overlaps
 * [start, last], or NULL.  Precondition: @node->subtree_last >= start.
 */
static struct itree_node *subtree_search(struct itree_node *node, unsigned long start,
					 unsigned long last)
{
	for (;;) {
		/* Invariant: some node in this subtree has last >= start. */
		if (node->left && node->left->subtree_last >= start) {
			/* The leftmost last >= start node lies there. */
			node = node->left;
			continue;
		}
		if (node->start > last)
			return NULL; /* it and everything after: too far */
		if (node->last >= start)
			return node;
		if (!node->right || node->right->subtree_last < start)
			return NULL;
		node = node->right;
	}
}

/**
 * itree_iter_first - find the first node overlapping [start, last]
 * @root:	tree root
 * @start:	first address of the query range
 * @last:	last address of the query range (inclusive), start <= last
 *
 * Return: the first node in (start, insertion) order whose interval
 * intersects [@start, @last], or NULL if none.  For a tree of disjoint
 * intervals, itree_iter_first(root, addr, ULONG_MAX) is the first node
 * with ->last >= addr.  The caller serializes.  O(log n).
 */
struct itree_node *itree_iter_first(struct itree_root *root, unsigned long start,
				    unsigned long last)
{
	struct itree_node *node = root->node;

	if (!node || node->subtree_last < start)
		return NULL;
	return subtree_search(node, start, last);
}

/**
 * itree_iter_next - find the next node overlapping [start, last]
 * @node:	a node returned by itree_iter_first()/itree_iter_next() for
 *		the same [@start, @last]
 * @start:	first address of the query range
 * @last:	last address of the query range (inclusive)
 *
 * Return: the next overlapping node after @node in tree order, or NULL.
 * The tree must not be modified between calls (a removal may rotate
 * the tree under the cursor).  The caller serializes.
 * O(log n) per call; reporting k matches costs O(log n + k) for typical
 * clustered results and O(k log n) in the worst case.
 */
struct itree_node *itree_iter_next(struct itree_node *node, unsigned long start, unsigned long last)
{
	struct itree_node *right = node->right, *prev;

	for (;;) {
		/* Invariant: node->start <= last, right == node->right. */
		if (right && right->subtree_last >= start)
			return subtree_search(right, start, last);

		/* Climb until we arrive from a left child. */
		do {
			prev = node;
			node = node->parent;
			if (!node)
				return NULL;
			right = node->right;
		} while (prev == right);

		if (node->start > last)
			return NULL;
		if (node->last >= start)
			return node;
	}
}

/**
 * itree_first - first node in (start, insertion) order
 * @root: tree root
 *
 * Return: the leftmost node or NULL if empty.  Caller serializes.  O(log n).
 */
struct itree_node *itree_first(struct itree_root *root)
{
	struct itree_node *n = root->node;

	if (!n)
		return NULL;
	while (n->left)
		n = n->left;
	return n;
}

/**
 * itree_last - last node in (start, insertion) order
 * @root: tree root
 *
 * Return: the rightmost node or NULL if empty.  Caller serializes.
 * O(log n).
 */
struct itree_node *itree_last(struct itree_root *root)
{
	struct itree_node *n = root->node;

	if (!n)
		return NULL;
	while (n->right)
		n = n->right;
	return n;
}

/**
 * itree_next - in-order successor
 * @node: a node linked into a tree
 *
 * Return: the next node in (start, insertion) order or NULL.  Caller
 * serializes.  O(log n) worst case, O(1) amortized over a full walk.
 */
struct itree_node *itree_next(struct itree_node *node)
{
	struct itree_node *parent;

	if (node->right) {
		node = node->right;
		while (node->left)
			node = node->left;
		return node;
	}
	while ((parent = node->parent) && node == parent->right)
		node = parent;
	return parent;
}

/**
 * itree_prev - in-order predecessor
 * @node: a node linked into a tree
 *
 * Return: the previous node in (start, insertion) order or NULL.  Caller
 * serializes.  O(log n) worst case, O(1) amortized over a full walk.
 */
struct itree_node *itree_prev(struct itree_node *node)
{
	struct itree_node *parent;

	if (node->left) {
		node = node->left;
		while (node->right)
			node = node->right;
		return node;
	}
	while ((parent = node->parent) && node == parent->left)
		node = parent;
	return parent;
}

struct verify_state {
	unsigned long seen;	       /* nodes visited so far */
	unsigned long limit;	       /* root->count, guards against cycles */
	const struct itree_node *prev; /* previous node in order */
};

static int verify_fail(const struct itree_node *n, const char *what)
{
	fprintf(stderr, "itree_verify: node %p [%#lx, %#lx]: %s\n", (const void *)n, n->start,
		n->last, what);
	return -1;
}

static int verify_links(const struct itree_node *n)
{
	if (n->start > n->last)
		return verify_fail(n, "start > last");
	if (n->left && n->left->parent != n)
		return verify_fail(n, "left child's parent link is wrong");
	if (n->right && n->right->parent != n)
		return verify_fail(n, "right child's parent link is wrong");
	return 0;
}

static int verify_augment(const struct itree_node *n)
{
	unsigned long sl = n->last;
	int lh = node_height(n->left), rh = node_height(n->right);

	if (n->left)
		sl = max_ul(sl, n->left->subtree_last);
	if (n->right)
		sl = max_ul(sl, n->right->subtree_last);
	if (n->subtree_last != sl)
		return verify_fail(n, "subtree_last is stale");
	if (n->height != 1 + max_int(lh, rh))
		return verify_fail(n, "height is stale");
	if (lh - rh > 1 || rh - lh > 1)
		return verify_fail(n, "AVL balance violated");
	return 0;
}

/* Post-order check, so children's stored heights are validated first. */
static int verify_subtree(const struct itree_node *n, struct verify_state *st)
{
	if (!n)
		return 0;
	if (++st->seen > st->limit)
		return verify_fail(n, "more nodes than root->count (cycle?)");
	if (verify_links(n))
		return -1;
	if (verify_subtree(n->left, st))
		return -1;
	if (st->prev && st->prev->start > n->start)
		return verify_fail(n, "in-order start sequence decreases");
	st->prev = n;
	if (verify_subtree(n->right, st))
		return -1;
	return verify_augment(n);
}

/**
 * itree_verify - check every structural invariant of a tree (debug aid)
 * @root: tree root
 *
 * Checks parent links, in-order ->start ordering, start <= last, stored
 * heights, AVL balance, ->subtree_last and root->count.  The first problem
 * found is printed to stderr.  Caller serializes.  O(n) time, O(height)
 * stack.
 *
 * Return: 0 if the tree is consistent, -1 otherwise.
 */
int itree_verify(const struct itree_root *root)
{
	struct verify_state st = {0, root->count, NULL};

	if (root->node && root->node->parent) {
		fprintf(stderr, "itree_verify: root node has a parent\n");
		return -1;
	}
	if (verify_subtree(root->node, &st))
		return -1;
	if (st.seen != root->count) {
		fprintf(stderr, "itree_verify: count %lu but %lu nodes linked\n", root->count,
			st.seen);
		return -1;
	}
	return 0;
}
