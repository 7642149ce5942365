// SPDX-License-Identifier: MIT
/*
 * Transparent huge pages: the system setting, khugepaged's collapse of one
 * range, and a khugepaged pass. (madvise hugepage|nohugepage|collapse are
 * advices of `madvise`; `mem NAME` reports thp=N.)
 */
#include <errno.h>
#include <string.h>

#include "secmmu/mm.h"
#include "secmmu/page.h"
#include "sim/sim.h"

static int cmd_thp(struct sim_ctx *ctx, int argc, char **argv)
{
	static const char *const names[] = {
		[THP_NEVER] = "never", [THP_MADVISE] = "madvise", [THP_ALWAYS] = "always"};

	if (argc == 1)
		return sim_result(ctx, "%s", names[thp_get_mode()]);
	if (!strcmp(argv[1], "use_zero_page")) {
		if (argc == 2)
			return sim_result(ctx, "%d", thp_get_use_zero_page());
		if (strcmp(argv[2], "0") && strcmp(argv[2], "1"))
			return sim_malformed(ctx, "thp use_zero_page: 0 or 1, not '%s'", argv[2]);
		return sim_result_errno(ctx, thp_set_use_zero_page(argv[2][0] - '0'));
	}
	if (argc > 2)
		return sim_malformed(ctx, "thp: too many arguments");
	for (int mode = THP_NEVER; mode <= THP_ALWAYS; mode++)
		if (!strcmp(argv[1], names[mode]))
			return sim_result_errno(ctx, thp_set_mode(mode));
	return sim_malformed(ctx, "thp: unknown setting '%s' (always madvise never)", argv[1]);
}

static int cmd_collapse(struct sim_ctx *ctx, int argc, char **argv)
{
	struct sim_proc *p = sim_proc_lookup(ctx, argv[1]);
	struct mm_struct *mm;
	uint64_t addr;

	(void)argc;
	if (!p || sim_arg_num(ctx, argv[2], &addr))
		return -1;
	mm = sim_proc_live_mm(p);
	if (!mm)
		return sim_result_errno(ctx, -ESRCH);
	return sim_result_errno(ctx, mm_collapse(mm, (unsigned long)addr));
}

static int cmd_khugepaged(struct sim_ctx *ctx, int argc, char **argv)
{
	uint64_t n;

	(void)argc;
	if (sim_arg_num(ctx, argv[1], &n))
		return -1;
	if (!phys_initialized())
		return sim_result(ctx, "collapsed=0");
	return sim_result(ctx, "collapsed=%lu", khugepaged_scan((unsigned long)n));
}

const struct sim_cmd sim_cmds_thp[] = {
	{"thp", 0, 2, cmd_thp, "thp [always|madvise|never] | thp use_zero_page [0|1]",
	 "the transparent-huge-page setting (/sys/kernel/mm/transparent_hugepage/enabled; "
	 "madvise at the start of every run); without an argument -> the current one. "
	 "use_zero_page (its use_zero_page, 1 at the start of every run): a read fault maps "
	 "the huge zero page (1) or allocates a huge page (0)",
	 "thp always"},
	{"collapse", 2, 2, cmd_collapse, "collapse NAME ADDR",
	 "khugepaged's collapse of the aligned 2 MiB around ADDR into one huge PMD (notifies "
	 "the 2 MiB) -> ok, -EINVAL (not eligible / nothing mapped), -EAGAIN (a page is pinned, "
	 "swapped, KSM or too shared), -ENOMEM, -EFAULT (no VMA)",
	 "collapse p1 0x40000000"},
	{"khugepaged", 1, 1, cmd_khugepaged, "khugepaged N",
	 "one khugepaged pass over every process, collapsing up to N ranges -> collapsed=K",
	 "khugepaged 8 => collapsed=1"},
	{NULL},
};
