// SPDX-License-Identifier: MIT
/*
 * What /proc shows of a process: `maps` (its VMAs, /proc/PID/maps) and
 * `pagemap` (one letter per page, /proc/PID/pagemap plus kpageflags).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "secmmu/mm.h"
#include "sim/sim.h"

/* Longest `pagemap` answer: 64K pages (256 MiB). */
#define PAGEMAP_MAX_PAGES 65536UL

/*
 * The letters of `pagemap`: the first row whose @mask bits of the page's
 * MM_PAGE_* state equal @value gives the letter. Later kinds of mapping
 * (device private, huge) add a row above the ones they refine.
 */
static const struct {
	uint32_t mask, value;
	char letter;
} pagemap_letters[] = {
	{MM_PAGE_DEVICE, MM_PAGE_DEVICE, 'd'}, /* in device-private memory */
	{MM_PAGE_SWAP, MM_PAGE_SWAP, 's'},     /* swapped (or migrating) */
	{MM_PAGE_PRESENT | MM_PAGE_ZERO, MM_PAGE_PRESENT | MM_PAGE_ZERO, 'z'}, /* zero page */
	/* PMD-mapped transparent huge page: H mapped once, h shared (after fork) */
	{MM_PAGE_THP | MM_PAGE_EXCLUSIVE, MM_PAGE_THP | MM_PAGE_EXCLUSIVE, 'H'},
	{MM_PAGE_THP, MM_PAGE_THP, 'h'},
	{MM_PAGE_PRESENT | MM_PAGE_EXCLUSIVE, MM_PAGE_PRESENT | MM_PAGE_EXCLUSIVE, 'x'},
	{MM_PAGE_PRESENT, MM_PAGE_PRESENT, 'p'}, /* mapped more than once */
	{0, 0, '.'},				 /* not present */
};

static char pagemap_letter(uint32_t state)
{
	for (size_t i = 0; i < sizeof(pagemap_letters) / sizeof(pagemap_letters[0]); i++)
		if ((state & pagemap_letters[i].mask) == pagemap_letters[i].value)
			return pagemap_letters[i].letter;
	return '?';
}

static int proc_mm(struct sim_ctx *ctx, const char *name, struct mm_struct **mm)
{
	struct sim_proc *p = sim_proc_lookup(ctx, name);

	if (!p)
		return -1;
	*mm = sim_proc_live_mm(p);
	return 0;
}

/* "START-END PERMS" as /proc/PID/maps prints the first two columns. */
static int format_vma(char *buf, size_t size, const struct mm_vma_info *v)
{
	return snprintf(buf, size, "%lx-%lx %c%c%c%c", v->start, v->end,
			v->flags & VM_READ ? 'r' : '-', v->flags & VM_WRITE ? 'w' : '-',
			v->flags & VM_EXEC ? 'x' : '-', v->flags & VM_MAYSHARE ? 's' : 'p');
}

static int cmd_maps(struct sim_ctx *ctx, int argc, char **argv)
{
	uint64_t addr = 0, len = UINT64_MAX;
	struct mm_vma_info *v = NULL;
	struct mm_struct *mm;
	char *out, *o;
	long n, got;

	if (proc_mm(ctx, argv[1], &mm))
		return -1;
	if (argc == 4 && sim_arg_range(ctx, argv[2], argv[3], &addr, &len))
		return -1;
	if (argc == 3)
		return sim_malformed(ctx, "maps: expected NAME or NAME ADDR LEN");
	if (!mm)
		return sim_result_errno(ctx, -ESRCH);
	if (!len)
		return sim_result(ctx, "none");
	for (;;) {
		unsigned long end = len - 1 > UINT64_MAX - addr ? UINT64_MAX : addr + len;

		n = mm_get_vmas(mm, addr, end, NULL, 0);
		if (n <= 0)
			return n < 0 ? sim_result_errno(ctx, n) : sim_result(ctx, "none");
		free(v);
		v = calloc((size_t)n, sizeof(*v));
		if (!v)
			return sim_malformed(ctx, "out of memory");
		got = mm_get_vmas(mm, addr, end, v, (unsigned long)n);
		if (got == n)
			break; /* else the VMAs changed in between: again */
	}
	/* "%lx-%lx rwxp," is at most 16 + 1 + 16 + 1 + 4 + 1 characters. */
	o = out = malloc((size_t)n * 40 + 1);
	if (!out) {
		free(v);
		return sim_malformed(ctx, "out of memory");
	}
	for (long i = 0; i < n; i++) {
		if (i)
			*o++ = ',';
		o += format_vma(o, 40, &v[i]);
	}
	*o = 0;
	free(v);
	return sim_result_take(ctx, out);
}

static int cmd_pagemap(struct sim_ctx *ctx, int argc, char **argv)
{
	struct mm_struct *mm;
	unsigned long nr;
	uint64_t addr, len;
	uint32_t *state;
	char *out;
	int err;

	(void)argc;
	if (proc_mm(ctx, argv[1], &mm) || sim_arg_range(ctx, argv[2], argv[3], &addr, &len))
		return -1;
	if (!mm)
		return sim_result_errno(ctx, -ESRCH);
	if (addr & (PAGE_SIZE - 1) || !len || len > PAGEMAP_MAX_PAGES * PAGE_SIZE)
		return sim_result_errno(ctx, -EINVAL);
	nr = (unsigned long)((len + PAGE_SIZE - 1) / PAGE_SIZE);
	state = calloc(nr, sizeof(*state));
	out = malloc(nr + 1);
	if (!state || !out) {
		free(state);
		free(out);
		return sim_malformed(ctx, "out of memory");
	}
	err = mm_pagemap(mm, (unsigned long)addr, nr, state);
	if (err) {
		free(state);
		free(out);
		return sim_result_errno(ctx, err);
	}
	for (unsigned long i = 0; i < nr; i++)
		out[i] = pagemap_letter(state[i]);
	out[nr] = 0;
	free(state);
	return sim_result_take(ctx, out);
}

const struct sim_cmd sim_cmds_proc[] = {
	{"maps", 1, 3, cmd_maps, "maps NAME [ADDR LEN]",
	 "the VMAs (those meeting [ADDR, ADDR+LEN)) as /proc/PID/maps shows them: START-END "
	 "PERMS in hex without 0x, comma-separated in address order, or none",
	 "maps p1 => 10000000-10004000 rw-p"},
	{"pagemap", 3, 3, cmd_pagemap, "pagemap NAME ADDR LEN",
	 "one letter per page: . not present, s swapped, z the zero page, x present and "
	 "mapped once, p present and mapped more than once, d in device-private memory; "
	 "-EINVAL if ADDR is unaligned, LEN "
	 "is 0 or over 256M",
	 "pagemap p1 0x10000000 16K => xz.."},
	{NULL},
};
