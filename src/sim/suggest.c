// SPDX-License-Identifier: MIT
/*
 * "Did you mean ...?": the nearest known name to a mistyped word, by edit
 * distance (insertions, deletions, substitutions and swaps of two adjacent
 * letters each cost 1). A name is near when it is at most one edit away per
 * three letters of the word (at least one), so that "mmapp" suggests "mmap"
 * but "frob" suggests nothing.
 */
#include <string.h>

#include "sim/sim.h"

#define WORD_MAX 32

static size_t min3(size_t a, size_t b, size_t c)
{
	size_t m = a < b ? a : b;

	return m < c ? m : c;
}

/* Optimal string alignment distance of @a and @b, both shorter than WORD_MAX. */
static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	size_t d[WORD_MAX + 1][WORD_MAX + 1];

	for (size_t i = 0; i <= la; i++)
		d[i][0] = i;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = j;
	for (size_t i = 1; i <= la; i++) {
		for (size_t j = 1; j <= lb; j++) {
			size_t cost = a[i - 1] != b[j - 1];

			d[i][j] = min3(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    d[i - 2][j - 2] + 1 < d[i][j])
				d[i][j] = d[i - 2][j - 2] + 1;
		}
	}
	return d[la][lb];
}

const char *sim_nearest(const char *word, const char *const *names, size_t n)
{
	size_t len = strlen(word), limit, best_d = (size_t)-1;
	const char *best = NULL;

	if (!len || len >= WORD_MAX)
		return NULL;
	limit = len / 3 ? len / 3 : 1;
	for (size_t i = 0; i < n; i++) {
		size_t d;

		if (strlen(names[i]) >= WORD_MAX)
			continue;
		d = edit_distance(word, names[i]);
		if (d <= limit && d < best_d) {
			best_d = d;
			best = names[i];
		}
	}
	return best;
}

struct suggest {
	const char *word;
	const char *best;
	size_t best_d;
};

static void consider(const struct sim_cmd *cmd, void *arg)
{
	struct suggest *s = arg;
	const char *name = cmd->name;
	const char *near = sim_nearest(s->word, &name, 1);
	size_t d;

	if (!near)
		return;
	d = edit_distance(s->word, near);
	if (d < s->best_d) {
		s->best_d = d;
		s->best = near;
	}
}

const char *sim_cmd_suggest(const char *word)
{
	struct suggest s = {.word = word, .best_d = (size_t)-1};

	sim_cmd_for_each(consider, &s);
	return s.best;
}
