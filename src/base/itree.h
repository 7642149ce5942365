/* SPDX-License-Identifier: GPL-2.0 */
/*
 * itree - augmented AVL interval tree over closed intervals [start, last].
 *
 * Nodes are ordered by ->start; nodes with equal ->start keep insertion
 * order (a new node goes after every existing node with the same start).
 * Overlapping and identical intervals are allowed.
 *
 * Augmentation invariant: for every node N,
 *
 *	N->subtree_last == max(N->last, N->left->subtree_last,
 *			       N->right->subtree_last)
 *
 * i.e. the largest ->last anywhere in the subtree rooted at N.  It is
 * restored bottom-up after every link change (insert, remove, rotation),
 * on the path from the change to the root, so maintenance is O(log n).
 *
 * Why the overlap search prunes correctly: a node X overlaps [start, last]
 * iff  (A) X->last >= start  and  (B) X->start <= last.
 *   - If a subtree's subtree_last < start, no node in it satisfies (A), so
 *     the whole subtree is skipped.
 *   - The in-order ->start sequence is non-decreasing.  Let M be the
 *     leftmost node (in order) satisfying (A).  Nodes before M fail (A).
 *     If M fails (B), every node after M has start >= M->start > last and
 *     fails (B) too, so there is no match at all.  Hence the first match,
 *     if any, is exactly M, and descending left whenever the left subtree
 *     can satisfy (A) finds it in O(log n).
 *   - itree_iter_next() continues from a match with the same rule on the
 *     remaining (in-order later) nodes and stops at the first ancestor
 *     whose ->start > last, since everything after it fails (B).
 *
 * The tree is not thread-safe: callers serialize all operations on one
 * root (including iteration against concurrent modification).
 */
#ifndef SECMMU_BASE_ITREE_H
#define SECMMU_BASE_ITREE_H

#include <stdbool.h>
#include <stddef.h>

struct itree_node {
	struct itree_node *left, *right, *parent;
	unsigned long start, last;  /* closed interval, start <= last */
	unsigned long subtree_last; /* max last in this subtree (private) */
	int height;		    /* AVL height, leaf == 1 (private) */
};

struct itree_root {
	struct itree_node *node;
	unsigned long count;
};

#define ITREE_ROOT_INIT                                                                            \
	{                                                                                          \
		NULL, 0                                                                            \
	}

/**
 * itree_entry - get the struct embedding an itree_node
 * @ptr:	the &struct itree_node pointer
 * @type:	the type of the containing struct
 * @member:	the name of the itree_node within @type
 */
#define itree_entry(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

/**
 * itree_init - initialize an empty tree
 * @root: tree root
 */
static inline void itree_init(struct itree_root *root)
{
	root->node = NULL;
	root->count = 0;
}

/**
 * itree_empty - test whether a tree holds no nodes
 * @root: tree root
 *
 * Return: true if @root is empty.  O(1).
 */
static inline bool itree_empty(const struct itree_root *root)
{
	return root->node == NULL;
}

void itree_insert(struct itree_node *node, struct itree_root *root);
void itree_remove(struct itree_node *node, struct itree_root *root);

struct itree_node *itree_iter_first(struct itree_root *root, unsigned long start,
				    unsigned long last);
struct itree_node *itree_iter_next(struct itree_node *node, unsigned long start,
				   unsigned long last);

struct itree_node *itree_first(struct itree_root *root);
struct itree_node *itree_next(struct itree_node *node);
struct itree_node *itree_prev(struct itree_node *node);
struct itree_node *itree_last(struct itree_root *root);

int itree_verify(const struct itree_root *root);

#endif /* SECMMU_BASE_ITREE_H */
