/* SPDX-License-Identifier: MIT */
/*
 * The scenario language: parser pieces, the world of named objects a script
 * builds, the command table, and the runner.
 *
 * Everything here drives the system only through the public API in
 * include/secmmu/, exactly as a user's C program would.
 *
 * ADDING COMMANDS (later subsystems: vm, vcpu, iommu, vfio, pin ...)
 *
 *   1. In a new file src/sim/cmd_<area>.c define
 *
 *        static int cmd_sptes(struct sim_ctx *ctx, int argc, char **argv) { ... }
 *
 *        const struct sim_cmd sim_cmds_<area>[] = {
 *                { "sptes", 1, 1, cmd_sptes, "sptes V",
 *                  "installed shadow PTEs of VM V", "sptes v1 => 3" },
 *                { NULL }
 *        };
 *
 *      argv[0] is the command word, argv[1..argc-1] its arguments; the
 *      runner has already checked min_args <= argc-1 <= max_args.
 *   2. Declare the array below (SIM_CMD_SET) and add it to the list in
 *      src/sim/commands.c. That list is the only shared edit: the parser,
 *      the runner and `secmmu help` pick the commands up from it.
 *
 *   New kinds of named objects (a VM, a device, a container) get a
 *   struct sim_type with a teardown hook and are created with sim_obj_new();
 *   the runner tears them down at the end of every run, in phases.
 *
 * A handler returns 0 after setting the line's RESULT (sim_result(),
 * sim_result_errno()), or -1 after sim_malformed() for a line that is not a
 * valid command (the run stops with exit status 2). A handler must never
 * crash or abort on any input: every argument is untrusted text.
 */
#ifndef SECMMU_SIM_SIM_H
#define SECMMU_SIM_SIM_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "secmmu/mm.h"

struct mm_struct;
struct task_struct;
struct sim_world;
struct sim_proc;
struct mm_holder;
struct sim_ctx;

/* --- parser pieces (src/sim/parse.c) ----------------------------------- */

#define SIM_MAX_ARGS 16
/* Largest DATA and read length, as the differential tester allows. */
#define SIM_MAX_XFER (256UL << 20)
#define SIM_NAME_MAX 64

/*
 * sim_parse_num() - a number: decimal or 0x-hex, no sign, no suffix.
 * sim_parse_size() - the same, optionally followed by K, M or G (x1024^n).
 * Return: 0, -EINVAL (not a number), -ERANGE (does not fit in 64 bits).
 */
int sim_parse_num(const char *s, uint64_t *v);
int sim_parse_size(const char *s, uint64_t *v);

/* @buf as lower-case hex without 0x: a malloc()ed string, or NULL. */
char *sim_hex(const unsigned char *buf, size_t len);

/* PROT word (none r rw rx rwx) -> PROT_* bits, or -EINVAL. */
int sim_parse_prot(const char *s);
/* private|shared -> MAP_PRIVATE/MAP_SHARED, or -EINVAL. */
int sim_parse_map_type(const char *s);
/* dontneed pageout mergeable unmergeable -> MADV_*, or -EINVAL. */
int sim_parse_advice(const char *s);

/**
 * sim_parse_data() - a DATA argument: 0x0011ff, "text" or fill:BYTE:LEN
 * @buf: out, malloc()ed bytes the caller frees (NULL when @len is 0)
 * @why: out, a static explanation on failure
 *
 * "text" accepts the escapes \n \t \r \0 \" \\ and \xNN.
 * Return: 0, -EINVAL (malformed), -E2BIG (more than SIM_MAX_XFER bytes or
 * empty), -ENOMEM.
 */
int sim_parse_data(const char *s, unsigned char **buf, size_t *len, const char **why);

/**
 * sim_split_line() - take a raw script line apart
 * @line:     the line (no newline needed; one is ignored)
 * @cmd:      out, the command text: comment and "=> EXPECTED" removed,
 *            trimmed, runs of blanks outside "..." collapsed to one space
 * @expected: out, the EXPECTED text normalised the same way, or "" if the
 *            line has no "=>"; *has_expect tells which
 * Both outputs are malloc()ed (the caller frees them).
 * Return: 0, -EINVAL (unterminated "..."; *why says so), -ENOMEM.
 */
int sim_split_line(const char *line, char **cmd, char **expected, bool *has_expect,
		   const char **why);

/**
 * sim_tokenize() - split a normalised command into words, in place
 * A "..." word (with \-escapes) is one word even if it contains blanks.
 * Return: the number of words, or -E2BIG (more than @max).
 */
int sim_tokenize(char *cmd, char **argv, int max);

/* --- the world: named objects (src/sim/world.c) ------------------------ */

/*
 * Teardown phases, run in this order over every object at the end of a run:
 * EXIT   user tasks exit (mm_users dropped, files closed), devices stop;
 * DETACH holders of references let go (kernel threads switch away, the
 *        script's get/grab references are returned, bindings undone);
 * FREE   task structs and the objects' own memory are freed.
 */
enum sim_phase {
	SIM_PHASE_EXIT,
	SIM_PHASE_DETACH,
	SIM_PHASE_FREE,
	SIM_NR_PHASES,
};

struct sim_obj;

struct sim_type {
	const char *name; /* "process", "kernel thread": used in messages */
	/* May be NULL. Called once per phase; must not fail. */
	void (*teardown)(struct sim_world *w, struct sim_obj *obj, enum sim_phase phase);
	/* For `check`, may be NULL: report problems with sim_check_report(). */
	void (*check)(struct sim_ctx *ctx, struct sim_obj *obj);
	/*
	 * May be NULL. Re-learn state that can change behind the world's back
	 * (a file closed by a process's exit, a bond undone by a file's
	 * release). Called by sim_world_sync() after every command and every
	 * teardown phase; must not touch an mm it does not hold.
	 */
	void (*sync)(struct sim_world *w, struct sim_obj *obj);
	/*
	 * May be NULL. Is this object, live now, the holder @h of a reference
	 * on @p's mm (include/secmmu/mm.h: the core's reference tracker)?
	 * Identity only -- the owner pointer is this object's driver object
	 * and the kind is one it holds references as -- never how many
	 * references: the core counts them. `check` reports every holder that
	 * no live object claims; `refs NAME holders` names holders by it.
	 */
	bool (*holds_ref)(struct sim_obj *obj, struct sim_proc *p, const struct mm_holder *h);
};

/*
 * Every named object begins with this header; the type's data follows (embed
 * struct sim_obj as the first member).
 */
struct sim_obj {
	struct sim_obj *next, *prev; /* the world's list, in creation order */
	struct sim_obj *hnext;	     /* the world's name index (live names only) */
	struct sim_obj *sync_next;   /* the world's objects whose type has ->sync */
	const struct sim_type *type;
	bool retired; /* its name was reused: no lookups, still torn down */
	char name[SIM_NAME_MAX];
};

/**
 * sim_obj_new() - create a named object of @size bytes (zeroed)
 * Fails (NULL, a malformed-line error set on @ctx) if the name is invalid,
 * already used by a live object, or memory runs out. An object of @type
 * marked replaceable by sim_obj_retire() frees its name for reuse.
 */
void *sim_obj_new(struct sim_ctx *ctx, const struct sim_type *type, const char *name, size_t size);
/*
 * sim_obj_new_internal() - an object the world keeps for itself (a pin
 * handle, the VFIO counters): its @name gets a '@' prefix, which no script
 * name can have, so it never takes a name from the script's name space.
 * Find it with sim_obj_find(w, type, "@NAME").
 */
void *sim_obj_new_internal(struct sim_ctx *ctx, const struct sim_type *type, const char *name,
			   size_t size);
/* The live object called @name of @type, or NULL. */
void *sim_obj_find(struct sim_world *w, const struct sim_type *type, const char *name);
/* Same, but sets "unknown <type> 'NAME'" on @ctx when missing. */
void *sim_obj_lookup(struct sim_ctx *ctx, const struct sim_type *type, const char *name);
/* Hide @obj from lookups (its name may be reused); it is still torn down. */
void sim_obj_retire(struct sim_world *w, struct sim_obj *obj);
/* Undo sim_obj_retire() (the command that reused the name failed). */
void sim_obj_unretire(struct sim_world *w, struct sim_obj *obj);
/* The next pin handle number of the world: 1, 2, 3 ... */
unsigned long sim_world_next_pin_handle(struct sim_world *w);
/* Unlink and free an object whose creation failed (nothing to tear down). */
void sim_obj_discard(struct sim_world *w, struct sim_obj *obj);
/* Iterate over every object (retired ones too). */
#define sim_for_each_obj(w, o) for (struct sim_obj *o = sim_world_first(w); o; o = o->next)
struct sim_obj *sim_world_first(struct sim_world *w);

/* Processes and kernel threads (src/sim/world.c). */
struct sim_proc {
	struct sim_obj obj;
	struct sim_world *world;
	struct task_struct *task;
	struct mm_struct *mm; /* valid while sim_proc_mm() says so */
	unsigned long mm_id;
	unsigned int gets;	     /* mm_users references taken by the script (get) */
	unsigned int grabs;	     /* mm_count references taken by the script (grab) */
	unsigned long pinned_pages;  /* pages the script's pin handles pin (pinned_vm) */
	unsigned long pinned_frames; /* of those, not the zero page (carry a pin count) */
	unsigned long locked_pages;  /* of those, longterm ones (charged to locked_vm) */
};

struct sim_kthread {
	struct sim_obj obj;
	struct task_struct *task;
	struct sim_proc *lazy; /* the process whose mm it borrows, or NULL */
};

extern const struct sim_type sim_process_type;
extern const struct sim_type sim_kthread_type;

struct sim_proc *sim_proc_lookup(struct sim_ctx *ctx, const char *name);
struct sim_kthread *sim_kthread_lookup(struct sim_ctx *ctx, const char *name);
/*
 * The process's mm for use by the script: NULL once the task has exited
 * (a system call on it is then -ESRCH). The task's mm_users reference
 * stands behind the pointer.
 */
struct mm_struct *sim_proc_live_mm(struct sim_proc *p);
/*
 * The mm struct while somebody the world knows keeps it allocated (the live
 * task, a script get/grab, a live world object the core's tracker names as
 * a holder), else NULL: only then may the runner touch it.
 */
struct mm_struct *sim_proc_mm(struct sim_proc *p);

/* The kind under which the script's get/grab references are tracked (owner: the sim_proc). */
#define SIM_SCRIPT_HOLDER_KIND "script"

/* Holders of one mm that `check` and `refs NAME holders` read without allocating. */
#define SIM_MAX_HOLDERS 128

/* Does @h's kind equal @kind (either may be NULL: untracked)? */
bool sim_holder_kind_is(const struct mm_holder *h, const char *kind);
/*
 * sim_query_holders() - the holders of @p's mm, any number of them: into
 * @buf (SIM_MAX_HOLDERS entries) if they fit, else into an array it
 * allocates; *@out points at the answer (free it with sim_holders_free()).
 * @peek: mm_peek_holders() (no grace-period wait) instead of
 * mm_query_holders(). Return: the number of holders or a negative errno.
 */
int sim_query_holders(struct sim_proc *p, bool peek, struct mm_holder *buf, struct mm_holder **out);
void sim_holders_free(struct mm_holder *buf, struct mm_holder *h);

/*
 * The live world object that claims holder @h of @p's mm (sim_type.holds_ref),
 * or NULL.
 */
struct sim_obj *sim_holder_claimant(struct sim_world *w, struct sim_proc *p,
				    const struct mm_holder *h);
/* "KIND NAME[ users=U][ count=C]" (NAME "?" if no live object claims @h). */
int sim_holder_format(struct sim_world *w, struct sim_proc *p, const struct mm_holder *h, char *buf,
		      size_t size);

/*
 * The work of the world's bookkeeping, for tests that hold its complexity
 * (test_sim_reliability): a command must cost O(1) in the number of objects
 * a script ever made, so a test counts instead of timing.
 */
struct sim_world_stats {
	unsigned long lookups; /* name lookups (sim_obj_find/lookup/new) */
	unsigned long visits;  /* objects examined by lookups, index removals, ->sync walks */
	size_t objects;	       /* objects on the world's list (retired ones too) */
	size_t live_names;     /* objects in the name index (not retired) */
	size_t sync_objects;   /* objects on the ->sync list */
};
void sim_world_get_stats(struct sim_world *w, struct sim_world_stats *st);

/*
 * sim_world_sync() - let every object re-learn what changed behind the
 * world's back (sim_type.sync); the runner calls it after every command.
 */
void sim_world_sync(struct sim_world *w);

/*
 * For `check`: the pages the world knows to be pinned (pin handles and the
 * VFIO regions of every mm it can reach), and the distinct PASIDs of the
 * bonds in the PASID tables of the world's IOMMU devices (cmd_iommu.c).
 */
unsigned long sim_world_known_pins(struct sim_world *w);
unsigned int sim_iommu_known_pasids(struct sim_world *w);
/* PASIDs allocated before the run (not ours). */
unsigned int sim_world_base_pasids(struct sim_world *w);

/* Physical memory: initialise the default 64M unless set up already. */
int sim_world_need_phys(struct sim_world *w);
/* Memory is in use: `phys` may no longer come. */
bool sim_world_phys_fixed(struct sim_world *w);
/*
 * Rule violations the core saw during this run (secmmu_rule_violations()
 * since it began); @first gets the first one's message.
 */
unsigned long sim_world_new_rules(struct sim_world *w, char *first, unsigned long len);
/* Stale translations devices used during this run (phys_stale_count() since it began). */
unsigned long sim_world_new_stale(struct sim_world *w);
/* `swap SIZE` succeeded: this world removes the device at the end. */
void sim_world_swap_set_owned(struct sim_world *w);
/* `phys SIZE` succeeded: this world owns (and will destroy) physical memory. */
void sim_world_phys_set_owned(struct sim_world *w);

/*
 * How a run reports, and what it counted (src/sim/runner.c). The counts are
 * atomic: commands of concurrent blocks may finish on other threads.
 */
enum sim_format {
	SIM_FORMAT_TEXT, /* LINE: COMMAND -> RESULT [FAIL (expected EXPECTED)] */
	SIM_FORMAT_JSON, /* one JSON object per line (JSON Lines) */
};

struct sim_run {
	enum sim_format format;
	/*
	 * Where malformed-line errors go, as FILE:LINE: error: WHY with @file
	 * as FILE; NULL: on the output stream as LINE: error: WHY (the
	 * library's default, and what the unit tests read).
	 */
	FILE *err;
	const char *file;
	_Atomic unsigned long commands;	    /* command lines executed */
	_Atomic unsigned long expectations; /* of those, with "=> EXPECTED" */
	_Atomic unsigned long failed;	    /* expectations not met, and failing checks */
};

/* The run settings and counts of @w; set them before the first line. */
struct sim_run *sim_world_run(struct sim_world *w);

struct sim_world *sim_world_new(void);
/**
 * sim_world_destroy() - tear down everything the run created and check
 * that every frame and every mm struct came back
 * @report: where to print "end: error: leaked ..." (may be NULL)
 * Return: 0, or -1 if something leaked.
 */
int sim_world_destroy(struct sim_world *w, FILE *report);

/* `check`: add one problem (printf-style) to the current check result. */
void sim_check_report(struct sim_ctx *ctx, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* --- commands (src/sim/commands.c) ------------------------------------- */

struct sim_cmd {
	const char *name;
	int min_args, max_args; /* arguments after the command word */
	int (*run)(struct sim_ctx *ctx, int argc, char **argv);
	const char *usage;   /* "mmap NAME ADDR LEN PROT private|shared" */
	const char *help;    /* one line */
	const char *example; /* one script line */
};

#define SIM_CMD_SET(set) extern const struct sim_cmd set[]
SIM_CMD_SET(sim_cmds_system);
SIM_CMD_SET(sim_cmds_task);
SIM_CMD_SET(sim_cmds_memory);
SIM_CMD_SET(sim_cmds_thp);
SIM_CMD_SET(sim_cmds_mirror);
SIM_CMD_SET(sim_cmds_pin);
SIM_CMD_SET(sim_cmds_file);
/* The file called @name (malformed-line error if unknown), no reference taken. */
struct file *sim_file_lookup(struct sim_ctx *ctx, const char *name);
SIM_CMD_SET(sim_cmds_iommu);
SIM_CMD_SET(sim_cmds_vfio);
SIM_CMD_SET(sim_cmds_gru);
SIM_CMD_SET(sim_cmds_xpmem);
SIM_CMD_SET(sim_cmds_kvm);
SIM_CMD_SET(sim_cmds_proc);
SIM_CMD_SET(sim_cmds_bug);

/* The command called @name, or NULL. */
const struct sim_cmd *sim_cmd_find(const char *name);
/* Call @fn for every command, in table order. */
void sim_cmd_for_each(void (*fn)(const struct sim_cmd *cmd, void *arg), void *arg);

/* --- a line being executed --------------------------------------------- */

struct sim_ctx {
	struct sim_world *world;
	int line;
	char *result;	 /* malloc()ed RESULT text */
	char *error;	 /* malloc()ed WHY of a malformed line */
	bool check_mode; /* collecting `check` problems */
};

/* Set RESULT (printf-style). Return: 0. */
int sim_result(struct sim_ctx *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Set RESULT to "ok" for @err >= 0, else its errno name. Return: 0. */
int sim_result_errno(struct sim_ctx *ctx, long err);
/* Take over a malloc()ed RESULT string. Return: 0. */
int sim_result_take(struct sim_ctx *ctx, char *text);
/* The line is malformed: WHY (printf-style). Return: -1. */
int sim_malformed(struct sim_ctx *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Argument helpers: on failure they set the malformed-line error. */
int sim_arg_num(struct sim_ctx *ctx, const char *s, uint64_t *v);
int sim_arg_size(struct sim_ctx *ctx, const char *s, uint64_t *v);
/*
 * The shape every transfer command shares (read, mirror_read, vcpu V read,
 * dma ... read, gru_read and their writes): parse ADDR LEN (or ADDR DATA),
 * then, unless @err already decided the result, call the device and set
 * RESULT to the hex bytes or the errno. @cmd names the command in messages.
 */
typedef int (*sim_read_fn)(void *dev, unsigned long addr, void *buf, size_t len);
typedef int (*sim_write_fn)(void *dev, unsigned long addr, const void *buf, size_t len);
int sim_xfer_read(struct sim_ctx *ctx, const char *cmd, const char *addr, const char *len, int err,
		  sim_read_fn read, void *dev);
int sim_xfer_write(struct sim_ctx *ctx, const char *addr, const char *data, int err,
		   sim_write_fn write, void *dev);

/* ADDR and LEN, refusing a range that wraps past 2^64. */
int sim_arg_range(struct sim_ctx *ctx, const char *addr, const char *len, uint64_t *a, uint64_t *l);

/* --- the runner (src/sim/runner.c) ------------------------------------- */

/* Exit statuses of a run. */
#define SIM_EXIT_OK	   0
#define SIM_EXIT_FAIL	   1 /* an expectation failed, or something leaked */
#define SIM_EXIT_MALFORMED 2 /* a malformed line stopped the run, or unwritable output */

/**
 * sim_run_stream() - run a whole script from @in, print to @out
 * Creates a fresh world and tears it down at the end (with the leak check).
 * Return: SIM_EXIT_OK, SIM_EXIT_FAIL or SIM_EXIT_MALFORMED.
 */
int sim_run_stream(FILE *in, FILE *out);
/* Same, from a string in memory. */
int sim_run_text(const char *text, FILE *out);

/*
 * sim_run_stream_opts() - sim_run_stream() with the reporting of @opts
 * (format, error stream and file name; its counts are ignored) and, if
 * @stats is not NULL, the run's counts copied out at the end.
 * Return: as sim_run_stream(); a read error on @in is reported as
 * "FILE: error: ..." and makes the run SIM_EXIT_MALFORMED.
 */
int sim_run_stream_opts(FILE *in, FILE *out, const struct sim_run *opts, struct sim_run *stats);

/* The nearest command name to the unknown word @word, or NULL if none is near. */
const char *sim_cmd_suggest(const char *word);
/* The nearest of @names[0..n-1] to @word, or NULL if none is near. */
const char *sim_nearest(const char *word, const char *const *names, size_t n);

/**
 * sim_exec_line() - execute one raw script line in @w and print its output
 * line (nothing for a blank line)
 * Return: SIM_EXIT_OK, SIM_EXIT_FAIL (expectation mismatch) or
 * SIM_EXIT_MALFORMED. @result (may be NULL) receives a malloc()ed copy of
 * RESULT, or NULL for a blank or malformed line.
 */
int sim_exec_line(struct sim_world *w, int lineno, const char *line, FILE *out, char **result);

/* The same, with every option: @thread (or NULL) prefixes the output line
 * "[NAME] " and marks a command of a concurrent block (no progress line: that
 * is the script thread's); @printed (may be NULL) receives a malloc()ed copy
 * of the printed line without its newline. The line is written with one
 * call, so lines of concurrent threads never mix.
 */
int sim_exec_line_full(struct sim_world *w, int lineno, const char *line, const char *thread,
		       FILE *out, char **result, char **printed);

/*
 * Report the malformed line @lineno as the run reports one: on its error
 * stream ("FILE:LINE: error: WHY") if it has one, else "LINE: error: WHY" on
 * @out (or a JSON object with --format json).
 */
void sim_report_error(struct sim_world *w, FILE *out, int lineno, const char *why);

/* --- scripts and concurrent blocks (src/sim/threads.c) ------------------- */

/* A whole script in memory: line[i] is line i + 1, without its newline. */
struct sim_script {
	char **line;
	int nr_lines, cap;
	int nul_line; /* the line with a NUL byte (reading stopped there), or 0 */
};

/* Return: 0, -ENOMEM, -EIO (a read error: the lines before it are kept). */
int sim_script_read(FILE *in, struct sim_script *s);
int sim_script_from_text(const char *text, struct sim_script *s);
void sim_script_free(struct sim_script *s);

/* Threads per block: at most the explorer's EXPLORE_MAX_THREADS. */
#define SIM_MAX_THREADS 8
#define SIM_POINT_MAX	24
/* The one schedule `secmmu run` runs a block under: random, this seed. */
#define SIM_RUN_SEED 0

enum sim_keyword {
	SIM_KW_NONE,	/* a command (or a malformed line: the runner says why) */
	SIM_KW_BLANK,	/* nothing but blanks and a comment */
	SIM_KW_THREADS, /* threads */
	SIM_KW_THREAD,	/* thread NAME */
	SIM_KW_END,	/* end */
	SIM_KW_BAD,	/* a keyword line that is malformed itself */
};

/*
 * sim_script_keyword() - what line @lineno (1-based) of @s is
 * @arg: out, for a keyword the malloc()ed rest of the line ("" if none; the
 *       caller frees it), else NULL
 * @why: out, the reason for SIM_KW_BAD
 */
enum sim_keyword sim_script_keyword(const struct sim_script *s, int lineno, char **arg,
				    const char **why);

struct sim_thread {
	char name[SIM_NAME_MAX];
	int lineno;		       /* its `thread NAME` line */
	int nr_cmds, cap;	       /* its commands, in order: */
	int *cmds;		       /* their line numbers */
	char (*points)[SIM_POINT_MAX]; /* "line:N": the explorer's point before each */
};

struct sim_block {
	int first, last; /* the lines of `threads` and `end` */
	unsigned int nr_threads;
	struct sim_thread thread[SIM_MAX_THREADS];
	int err_line; /* sim_block_parse() failed: where, and why */
	char why[160];
};

/**
 * sim_block_parse() - the block opened by `threads` on line @first of @s
 * Checks the structure (no nesting, an `end`, no empty thread, unique valid
 * names, every command known and allowed in a block: not phys, swap, bug
 * or check). Return: 0, or -EINVAL with b->err_line and b->why set. Free
 * with sim_block_free() in either case.
 */
int sim_block_parse(const struct sim_script *s, int first, struct sim_block *b);
void sim_block_free(struct sim_block *b);

/* What the threads of a running block share. */
struct sim_block_exec {
	struct sim_world *world;
	const struct sim_script *script;
	const struct sim_block *block;
	FILE *out;
	bool report;		/* tell the explorer about every failing line */
	_Atomic bool failed;	/* an expectation failed */
	_Atomic bool malformed; /* a line was malformed (its thread stopped) */
};

/*
 * Block threads take this lock around what every command does to the world
 * behind the handler's back (sim_world_sync(), the trace counters): the
 * explorer runs one thread at a time, except while a thread waits where it
 * cannot see (a driver's condition variable), and then two could meet there.
 * A ranked lock (LOCK_RANK_SIM), so the explorer schedules it like any other.
 */
void sim_block_world_lock(void);
/* Before the first block runs: on the script's thread, never concurrently. */
void sim_block_prepare(void);
void sim_block_world_unlock(void);

/* The body of block thread @id (an explore_test thread; @arg: sim_block_exec). */
void sim_block_thread(unsigned int id, void *arg);

/* threads.c: the error of a run in which @what ran outside the explorer's control. */
const char *sim_outside_msg(const char *what, char *buf, size_t len);

/*
 * The end of a run: tear @w down (it is freed) and return the final status
 * from @rc. Called exactly once by sim_run_script().
 */
typedef int (*sim_finish_fn)(struct sim_world *w, int rc, FILE *out, void *arg);

/**
 * sim_run_script() - run @s in @w, printing to @out, then @finish
 * A script has at most one `threads` block. With one, the whole run is one
 * run of the explorer (random, SIM_RUN_SEED): the lines before the block set
 * up, the block's threads run, the lines after it and @finish (the teardown)
 * end it, so every thread a device starts is under the explorer's control.
 * Return: what @finish returns.
 */
int sim_run_script(struct sim_world *w, const struct sim_script *s, FILE *out, sim_finish_fn finish,
		   void *arg);

/* --- secmmu explore (src/sim/explore.c) ----------------------------------- */

enum sim_explore_strategy {
	SIM_EXPLORE_RANDOM,
	SIM_EXPLORE_PCT,
	SIM_EXPLORE_DFS,
};

struct sim_explore_opts {
	enum sim_explore_strategy strategy;
	unsigned long seed;	 /* random/pct: run i uses seed + i */
	unsigned long runs;	 /* at most this many runs (0: the default) */
	unsigned int depth;	 /* pct: the bug depth (0: the explorer's default) */
	unsigned int bound;	 /* dfs: the preemption bound (0: the explorer's default) */
	double timeout_s;	 /* start no run after this long (0: no limit) */
	const char *replay;	 /* run this schedule once, or NULL */
	const char *file;	 /* the scenario's path, for the replay command */
	const char *const *bugs; /* bugs switched on for every run (--bug), */
	unsigned int nr_bugs;	 /* repeated in the replay command */
};

/* Default number of runs of `secmmu explore`. */
#define SIM_EXPLORE_RUNS 200

/**
 * sim_explore() - run the script @s under many schedules
 * Each run is a fresh world: the commands before the `threads` block set it
 * up, the block runs under the explorer, the commands after it check; the
 * oracle is every `=>`, `check`, the stale-translation detector and the
 * leak check at teardown. Prints the first failure (its output, the
 * failing line, the schedule and the command replaying it) and ends with
 * "explore: R runs, F failing, S distinct schedules[, exhausted]".
 * Return: SIM_EXIT_OK (no run failed), SIM_EXIT_FAIL, SIM_EXIT_MALFORMED
 * (no block, a malformed line, a bad schedule or an unsupported strategy).
 */
int sim_explore(const struct sim_script *s, const struct sim_explore_opts *o, FILE *out);

/* --- progress of long runs (src/sim/progress.c) ------------------------ */

/*
 * One '\r'-updated line on stderr, drawn only when stderr is a terminal, only
 * once the work has lasted 0.3 s, at most 10 times a second; never anything
 * when stderr is not a terminal (SECMMU_PROGRESS=0/1 forces off/on). Levels
 * nest: the runner opens one per script ("line N") and one per command
 * (labelled with the command), so a long-running command handler needs only
 *
 *	for (i = 0; i < n; i++) {
 *		...
 *		sim_progress_update(i + 1, n);
 *	}
 *
 * which sets the counts of the innermost level (its own command) and redraws
 * when due; it is cheap enough to call on every iteration. Script thread only.
 */
/* Open a nested level labelled by the printf-style @fmt. */
void sim_progress_begin(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The innermost level has done @done of @total (0: unknown total). */
void sim_progress_update(uint64_t done, uint64_t total);
/* Close the innermost level; the line is erased when the last one closes. */
void sim_progress_end(void);
/*
 * Before printing to @out while a level is open: erase the line if @out is a
 * terminal (NULL: in any case); the next update redraws it.
 */
void sim_progress_erase(FILE *out);

/* --- built-in scenarios and the demo ----------------------------------- */

struct sim_builtin {
	const char *name; /* file name without .scn */
	const char *text;
};

/* Generated from the files scenarios/NAME.scn into the secmmu command (see Makefile). */
extern const struct sim_builtin sim_builtins[];
extern const size_t sim_nr_builtins;

/* The first "# " comment line of @text, copied into @buf. */
void sim_scenario_description(const char *text, char *buf, size_t size);

/* `secmmu demo`: narrate the default world. Return: 0 if every check held. */
int sim_demo(FILE *out);

#endif /* SECMMU_SIM_SIM_H */
