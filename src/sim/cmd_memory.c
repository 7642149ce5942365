// SPDX-License-Identifier: MIT
/*
 * The memory system calls of a process: mmap, munmap, mprotect, madvise,
 * mremap, write, read. Each maps one-to-one onto the public mm_* call and
 * prints its errno as Linux would return it. A process that has exited can
 * make no system call: -ESRCH.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "secmmu/migrate.h"
#include "secmmu/mm.h"
#include "sim/sim.h"

/*
 * The live mm of process @name. Return: 0 with *mm set (NULL if it exited:
 * the caller answers -ESRCH), or -1 if the name is unknown.
 */
static int target_mm(struct sim_ctx *ctx, const char *name, struct mm_struct **mm)
{
	struct sim_proc *p = sim_proc_lookup(ctx, name);

	if (!p)
		return -1;
	*mm = sim_proc_live_mm(p);
	return 0;
}

/* "file=F:OFFSET": the file and the page offset of the mapping. */
static int parse_file_arg(struct sim_ctx *ctx, const char *arg, struct file **file,
			  unsigned long *pgoff)
{
	char name[SIM_NAME_MAX];
	const char *colon;
	uint64_t off;

	if (strncmp(arg, "file=", 5) || !(colon = strchr(arg + 5, ':')) ||
	    (size_t)(colon - (arg + 5)) >= sizeof(name) || colon == arg + 5)
		return sim_malformed(ctx, "mmap: expected file=F:OFFSET, got '%s'", arg);
	memcpy(name, arg + 5, (size_t)(colon - (arg + 5)));
	name[colon - (arg + 5)] = 0;
	if (sim_arg_size(ctx, colon + 1, &off))
		return -1;
	*file = sim_file_lookup(ctx, name);
	if (!*file)
		return -1;
	if (off & 4095)
		return sim_malformed(ctx, "mmap: file offset %s is not page aligned", colon + 1);
	*pgoff = (unsigned long)(off >> 12);
	return 0;
}

static int cmd_mmap(struct sim_ctx *ctx, int argc, char **argv)
{
	struct file *file = NULL;
	unsigned long pgoff = 0;
	struct mm_struct *mm;
	uint64_t addr, len;
	int prot, flags;

	if (target_mm(ctx, argv[1], &mm) || sim_arg_range(ctx, argv[2], argv[3], &addr, &len))
		return -1;
	prot = sim_parse_prot(argv[4]);
	if (prot < 0)
		return sim_malformed(ctx, "bad PROT '%s' (none r rw rx rwx)", argv[4]);
	flags = sim_parse_map_type(argv[5]);
	if (flags < 0)
		return sim_malformed(ctx, "bad mapping type '%s' (private or shared)", argv[5]);
	if (argc == 7 && parse_file_arg(ctx, argv[6], &file, &pgoff))
		return -1;
	if (!mm)
		return sim_result_errno(ctx, -ESRCH);
	return sim_result_errno(ctx, mm_mmap(mm, addr, len, prot, flags, file, pgoff));
}

/* "CMD NAME ADDR LEN" run as @op on NAME's mm: munmap, munlock. */
static int range_cmd(struct sim_ctx *ctx, char **argv,
		     int (*op)(struct mm_struct *mm, unsigned long addr, unsigned long len))
{
	struct mm_struct *mm;
	uint64_t addr, len;

	if (target_mm(ctx, argv[1], &mm) || sim_arg_range(ctx, argv[2], argv[3], &addr, &len))
		return -1;
	if (!mm)
		return sim_result_errno(ctx, -ESRCH);
	return sim_result_errno(ctx, op(mm, addr, len));
}

static int cmd_munmap(struct sim_ctx *ctx, int argc, char **argv)
{
	(void)argc;
	return range_cmd(ctx, argv, mm_munmap);
}

static int cmd_mprotect(struct sim_ctx *ctx, int argc, char **argv)
{
	struct mm_struct *mm;
	uint64_t addr, len;
	int prot;

	(void)argc;
	if (target_mm(ctx, argv[1], &mm) || sim_arg_range(ctx, argv[2], argv[3], &addr, &len))
		return -1;
	prot = sim_parse_prot(argv[4]);
	if (prot < 0)
		return sim_malformed(ctx, "bad PROT '%s' (none r rw rx rwx)", argv[4]);
	if (!mm)
		return sim_result_errno(ctx, -ESRCH);
	return sim_result_errno(ctx, mm_mprotect(mm, addr, len, prot));
}

static int cmd_madvise(struct sim_ctx *ctx, int argc, char **argv)
{
	struct mm_struct *mm;
	uint64_t addr, len;
	int advice;

	(void)argc;
	if (target_mm(ctx, argv[1], &mm) || sim_arg_range(ctx, argv[2], argv[3], &addr, &len))
		return -1;
	advice = sim_parse_advice(argv[4]);
	if (advice < 0)
		return sim_malformed(
			ctx,
			"bad advice '%s' (dontneed pageout mergeable unmergeable dontfork dofork "
			"wipeonfork keeponfork free remove populate_read populate_write cold "
			"hugepage "
			"nohugepage collapse)",
			argv[4]);
	if (!mm)
		return sim_result_errno(ctx, -ESRCH);
	return sim_result_errno(ctx, mm_madvise(mm, addr, len, advice));
}

/* "maymove,fixed,dontunmap" (any subset, comma-separated, or 0): MREMAP_* flags, or -1. */
static int parse_mremap_flags(const char *arg)
{
	static const struct {
		const char *name;
		int flag;
	} names[] = {{"maymove", MREMAP_MAYMOVE},
		     {"fixed", MREMAP_FIXED},
		     {"dontunmap", MREMAP_DONTUNMAP}};
	int flags = 0;

	if (!strcmp(arg, "0"))
		return 0;
	for (const char *p = arg; *p;) {
		size_t n = strcspn(p, ","), i;

		for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
			if (strlen(names[i].name) == n && !strncmp(p, names[i].name, n))
				break;
		if (i == sizeof(names) / sizeof(names[0]))
			return -1;
		flags |= names[i].flag;
		p += n;
		if (*p == ',' && *++p == 0)
			return -1;
	}
	return flags;
}

/*
 * With NEWADDR: MREMAP_MAYMOVE|MREMAP_FIXED, as the differential tester
 * calls Linux. Without: flags 0, a resize in place (-ENOMEM if it cannot
 * grow there). A last argument FLAGS (maymove,fixed,dontunmap) gives the
 * flags explicitly.
 */
static int cmd_mremap(struct sim_ctx *ctx, int argc, char **argv)
{
	uint64_t old_addr, old_len, new_len, new_addr = 0;
	struct mm_struct *mm;
	int flags = 0;
	long ret;

	if (target_mm(ctx, argv[1], &mm) ||
	    sim_arg_range(ctx, argv[2], argv[3], &old_addr, &old_len) ||
	    sim_arg_size(ctx, argv[4], &new_len))
		return -1;
	if (argc >= 6 && ((argv[argc - 1][0] >= 'a' && argv[argc - 1][0] <= 'z') ||
			  (argc == 7 && !strcmp(argv[6], "0")))) {
		flags = parse_mremap_flags(argv[argc - 1]);
		if (flags < 0)
			return sim_malformed(
				ctx, "mremap: bad FLAGS '%s' (maymove,fixed,dontunmap or 0)",
				argv[argc - 1]);
		argc--;
		if (argc == 6) {
			if (sim_arg_num(ctx, argv[5], &new_addr))
				return -1;
			if (new_len && new_len - 1 > UINT64_MAX - new_addr)
				return sim_malformed(ctx, "range %s + %s wraps past 2^64", argv[5],
						     argv[4]);
		}
	} else if (argc == 7) {
		return sim_malformed(ctx, "mremap: bad FLAGS '%s' (maymove,fixed,dontunmap or 0)",
				     argv[6]);
	} else if (argc == 6) {
		if (sim_arg_range(ctx, argv[5], argv[4], &new_addr, &new_len))
			return -1;
		flags = MREMAP_MAYMOVE | MREMAP_FIXED;
	} else if (new_len && new_len - 1 > UINT64_MAX - old_addr) {
		return sim_malformed(ctx, "range %s + %s wraps past 2^64", argv[2], argv[4]);
	}
	if (!mm)
		return sim_result_errno(ctx, -ESRCH);
	ret = mm_mremap(mm, old_addr, old_len, new_len, flags, new_addr);
	return sim_result_errno(ctx, ret < 0 ? ret : 0);
}

/* "current,future,onfault" (any subset) or a number: MCL_* flags, or -1. */
static long parse_mcl_flags(struct sim_ctx *ctx, const char *arg)
{
	static const struct {
		const char *name;
		int flag;
	} names[] = {{"current", MCL_CURRENT}, {"future", MCL_FUTURE}, {"onfault", MCL_ONFAULT}};
	uint64_t num;
	long flags = 0;

	if (arg[0] >= '0' && arg[0] <= '9') {
		if (sim_arg_num(ctx, arg, &num))
			return -1;
		if (num > 0x7fffffff)
			return sim_malformed(ctx, "mlockall: FLAGS %s is not an int", arg);
		return (long)num;
	}
	for (const char *p = arg; *p;) {
		size_t n = strcspn(p, ","), i;

		for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
			if (strlen(names[i].name) == n && !strncmp(p, names[i].name, n))
				break;
		if (i == sizeof(names) / sizeof(names[0]))
			return sim_malformed(
				ctx,
				"mlockall: bad FLAGS '%s' (current,future,onfault or a "
				"number)",
				arg);
		flags |= names[i].flag;
		p += n;
		if (*p == ',' && *++p == 0)
			return sim_malformed(ctx, "mlockall: bad FLAGS '%s'", arg);
	}
	return flags;
}

static int cmd_mlock(struct sim_ctx *ctx, int argc, char **argv)
{
	struct mm_struct *mm;
	uint64_t addr, len;
	unsigned int flags = 0;

	if (target_mm(ctx, argv[1], &mm) || sim_arg_range(ctx, argv[2], argv[3], &addr, &len))
		return -1;
	if (argc == 5) {
		uint64_t num;

		if (!strcmp(argv[4], "onfault"))
			flags = MLOCK_ONFAULT;
		else if (argv[4][0] >= '0' && argv[4][0] <= '9' &&
			 !sim_arg_num(ctx, argv[4], &num) && num <= 0xffffffffu)
			flags = (unsigned int)num;
		else
			return sim_malformed(ctx, "mlock: bad FLAGS '%s' (onfault or a number)",
					     argv[4]);
	}
	if (!mm)
		return sim_result_errno(ctx, -ESRCH);
	return sim_result_errno(ctx, mm_mlock(mm, addr, len, flags));
}

static int cmd_munlock(struct sim_ctx *ctx, int argc, char **argv)
{
	(void)argc;
	return range_cmd(ctx, argv, mm_munlock);
}

static int cmd_mlockall(struct sim_ctx *ctx, int argc, char **argv)
{
	struct mm_struct *mm;
	long flags;

	(void)argc;
	if (target_mm(ctx, argv[1], &mm))
		return -1;
	flags = parse_mcl_flags(ctx, argv[2]);
	if (flags < 0)
		return -1;
	if (!mm)
		return sim_result_errno(ctx, -ESRCH);
	return sim_result_errno(ctx, mm_mlockall(mm, (int)flags));
}

static int cmd_munlockall(struct sim_ctx *ctx, int argc, char **argv)
{
	struct mm_struct *mm;

	(void)argc;
	if (target_mm(ctx, argv[1], &mm))
		return -1;
	if (!mm)
		return sim_result_errno(ctx, -ESRCH);
	return sim_result_errno(ctx, mm_munlockall(mm));
}

static int cpu_read(void *mm, unsigned long addr, void *buf, size_t len)
{
	return mm_read(mm, addr, buf, len);
}

static int cpu_write(void *mm, unsigned long addr, const void *buf, size_t len)
{
	return mm_write(mm, addr, buf, len);
}

static int cmd_write(struct sim_ctx *ctx, int argc, char **argv)
{
	struct mm_struct *mm;

	(void)argc;
	if (target_mm(ctx, argv[1], &mm))
		return -1;
	return sim_xfer_write(ctx, argv[2], argv[3], mm ? 0 : -ESRCH, cpu_write, mm);
}

static int cmd_read(struct sim_ctx *ctx, int argc, char **argv)
{
	struct mm_struct *mm;

	(void)argc;
	if (target_mm(ctx, argv[1], &mm))
		return -1;
	return sim_xfer_read(ctx, "read", argv[2], argv[3], mm ? 0 : -ESRCH, cpu_read, mm);
}

static int cmd_migrate(struct sim_ctx *ctx, int argc, char **argv)
{
	struct mm_struct *mm;
	uint64_t addr, len;

	(void)argc;
	if (target_mm(ctx, argv[1], &mm) || sim_arg_range(ctx, argv[2], argv[3], &addr, &len))
		return -1;
	if (!mm)
		return sim_result_errno(ctx, -ESRCH);
	return sim_result_errno(ctx, migrate_range(mm, addr, len));
}

const struct sim_cmd sim_cmds_memory[] = {
	{"migrate", 3, 3, cmd_migrate, "migrate NAME ADDR LEN",
	 "move the present pages of the range to new frames (MMU_NOTIFY_CLEAR), content "
	 "intact -> ok, or -EBUSY if a page is pinned (the others still move), -EAGAIN if one "
	 "stayed busy (a transient reference) through 10 passes",
	 "migrate p1 0x10000000 16K"},
	{"mmap", 5, 6, cmd_mmap, "mmap NAME ADDR LEN PROT private|shared [file=F:OFFSET]",
	 "map anonymous memory (or file F from OFFSET) at ADDR (MAP_FIXED); PROT: none r rw "
	 "rx rwx",
	 "mmap p1 0x10000000 16K rw private"},
	{"munmap", 3, 3, cmd_munmap, "munmap NAME ADDR LEN",
	 "unmap [ADDR, ADDR+LEN); nothing mapped there is still ok", "munmap p1 0x10000000 4K"},
	{"mprotect", 4, 4, cmd_mprotect, "mprotect NAME ADDR LEN PROT",
	 "change the protection; -ENOMEM if part of the range is unmapped",
	 "mprotect p1 0x10000000 4K r"},
	{"madvise", 4, 4, cmd_madvise, "madvise NAME ADDR LEN ADVICE",
	 "madvise(2) the range: dontneed pageout mergeable unmergeable dontfork dofork "
	 "wipeonfork keeponfork free remove populate_read populate_write cold hugepage "
	 "nohugepage collapse",
	 "madvise p1 0x10000000 4K dontneed"},
	{"mremap", 4, 6, cmd_mremap, "mremap NAME OLDADDR OLDLEN NEWLEN [NEWADDR] [FLAGS]",
	 "move (NEWADDR: MREMAP_MAYMOVE|MREMAP_FIXED) or resize in place; FLAGS "
	 "maymove,fixed,dontunmap (or 0) overrides the flags",
	 "mremap p1 0x10000000 8K 16K 0x20000000"},
	{"mlock", 3, 4, cmd_mlock, "mlock NAME ADDR LEN [onfault]",
	 "mlock2(): VM_LOCKED, charged to locked_vm, faulted in (not with onfault = "
	 "MLOCK_ONFAULT) -> ok, -ENOMEM (over the memlock limit, or unmapped), -EPERM (limit "
	 "0), -EINVAL (bad flags), -EAGAIN",
	 "mlock p1 0x10000000 8K"},
	{"munlock", 3, 3, cmd_munlock, "munlock NAME ADDR LEN",
	 "munlock(): clear VM_LOCKED -> ok, -ENOMEM (unmapped)", "munlock p1 0x10000000 8K"},
	{"mlockall", 2, 2, cmd_mlockall, "mlockall NAME FLAGS",
	 "mlockall(): FLAGS current,future,onfault (or a number) -> ok, -EINVAL, -EPERM, -ENOMEM",
	 "mlockall p1 current,future"},
	{"munlockall", 1, 1, cmd_munlockall, "munlockall NAME", "munlockall() -> ok",
	 "munlockall p1"},
	{"write", 3, 3, cmd_write, "write NAME ADDR DATA",
	 "copy_to_user; DATA is 0xHEX, \"text\" or fill:BYTE:LEN", "write p1 0x10000000 \"hello\""},
	{"read", 3, 3, cmd_read, "read NAME ADDR LEN",
	 "copy_from_user: the bytes in lower-case hex, or -EFAULT",
	 "read p1 0x10000000 5 => 68656c6c6f"},
	{NULL},
};
