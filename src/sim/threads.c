// SPDX-License-Identifier: MIT
/*
 * Concurrent blocks of the scenario language:
 *
 *   threads
 *   thread A
 *     mirror_read d 0x10000000 4 => 616263 | -EFAULT
 *   thread B
 *     munmap p 0x10000000 4K
 *   end
 *
 * Each `thread NAME` runs its commands, in order, on its own thread under
 * the interleaving explorer (base/sched_explore.h): one thread runs at a
 * time and the explorer chooses, at every lock and at every point between
 * two commands, who goes next. Output lines are printed as the commands
 * complete, prefixed by the thread's name: "12: [A] mirror_read ... -> 616263".
 * `secmmu run` runs a block under one fixed schedule (random, seed
 * SIM_RUN_SEED), so a file stays deterministic; `secmmu explore` (explore.c)
 * runs the whole script under many.
 *
 * The explorer is test infrastructure of src/base, not part of the mm API:
 * the scenario runner is its front end, which is why this file (and
 * explore.c) include base/sched_explore.h, and this file base/lock.h for the
 * world lock (LOCK_RANK_SIM), and nothing else from src/base.
 *
 * The world (world.c): under the explorer only the thread holding the token
 * runs, so block threads touch it one at a time and the explorer's hand-over
 * orders their accesses. Every thread of the run is controlled: the block's,
 * the script's own (the explorer's root, which runs the lines before and
 * after the block) and every device thread those lines start; a run in which
 * anything ran outside control fails (sim_outside_msg()). What every command
 * does to the world after its handler (sim_world_sync(), trace counters) is
 * under world_lock all the same.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "base/lock.h"
#include "base/sched_explore.h"
#include "secmmu/trace.h"
#include "sim/sim.h"

_Static_assert(SIM_MAX_THREADS <= EXPLORE_MAX_THREADS, "more block threads than the explorer has");

/* --- scripts ------------------------------------------------------------------ */

static int script_add(struct sim_script *s, char *line)
{
	if (s->nr_lines == s->cap) {
		int cap = s->cap ? 2 * s->cap : 64;
		char **bigger = realloc(s->line, (size_t)cap * sizeof(*bigger));

		if (!bigger)
			return -ENOMEM;
		s->line = bigger;
		s->cap = cap;
	}
	s->line[s->nr_lines++] = line;
	return 0;
}

int sim_script_read(FILE *in, struct sim_script *s)
{
	char *buf = NULL;
	size_t cap = 0;
	ssize_t n;

	memset(s, 0, sizeof(*s));
	while ((n = getline(&buf, &cap, in)) >= 0) {
		char *copy;

		if (s->nr_lines == INT32_MAX - 1)
			break;
		if (strlen(buf) != (size_t)n) {
			/* It would silently end the line, expectation included. */
			s->nul_line = s->nr_lines + 1;
			n = 0;
			buf[0] = 0;
		}
		while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
			buf[--n] = 0;
		copy = strdup(buf);
		if (!copy || script_add(s, copy)) {
			free(copy);
			free(buf);
			sim_script_free(s);
			return -ENOMEM;
		}
		if (s->nul_line)
			break;
	}
	free(buf);
	return ferror(in) ? -EIO : 0;
}

int sim_script_from_text(const char *text, struct sim_script *s)
{
	FILE *in;
	int err;

	memset(s, 0, sizeof(*s));
	if (!text[0])
		return 0;
	in = fmemopen((void *)text, strlen(text), "r");
	if (!in)
		return -ENOMEM;
	err = sim_script_read(in, s);
	fclose(in);
	return err;
}

void sim_script_free(struct sim_script *s)
{
	for (int i = 0; i < s->nr_lines; i++)
		free(s->line[i]);
	free(s->line);
	memset(s, 0, sizeof(*s));
}

/* --- block structure ------------------------------------------------------------ */

/*
 * What line @lineno of @s is: a keyword of the block syntax or anything else.
 * *@arg gets the malloc()ed text after the keyword ("" if none); *@why is
 * set (and SIM_KW_BAD returned) when the keyword line itself is malformed.
 */
enum sim_keyword sim_script_keyword(const struct sim_script *s, int lineno, char **arg,
				    const char **why)
{
	static const struct {
		const char *word;
		enum sim_keyword kw;
	} kws[] = {{"threads", SIM_KW_THREADS}, {"thread", SIM_KW_THREAD}, {"end", SIM_KW_END}};
	char *cmd, *expected;
	enum sim_keyword kw = SIM_KW_NONE;
	bool has_expect;
	size_t n;

	*arg = NULL;
	*why = NULL;
	if (sim_split_line(s->line[lineno - 1], &cmd, &expected, &has_expect, why))
		return SIM_KW_BAD;
	n = strcspn(cmd, " ");
	for (size_t i = 0; i < sizeof(kws) / sizeof(kws[0]); i++) {
		if (strlen(kws[i].word) != n || strncmp(cmd, kws[i].word, n))
			continue;
		kw = kws[i].kw;
		if (has_expect) {
			*why = "a block line takes no '=>'";
			kw = SIM_KW_BAD;
		} else {
			*arg = strdup(cmd[n] ? cmd + n + 1 : "");
			if (!*arg) {
				*why = "out of memory";
				kw = SIM_KW_BAD;
			}
		}
		break;
	}
	if (kw == SIM_KW_NONE && !cmd[0] && !has_expect)
		kw = SIM_KW_BLANK;
	free(cmd);
	free(expected);
	return kw;
}

/* Commands that set up the whole system, or judge it: never inside a block. */
static const char *refused_in_block(const char *word)
{
	static const char *const setup[] = {"phys", "swap", "bug"};

	for (size_t i = 0; i < sizeof(setup) / sizeof(setup[0]); i++)
		if (!strcmp(word, setup[i]))
			return "it sets up the system: put it before 'threads'";
	if (!strcmp(word, "check"))
		return "it checks a quiet system: put it after 'end'";
	return NULL;
}

/* A thread name: a letter, then letters, digits, '_' or '-'. */
static bool valid_thread_name(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n >= SIM_NAME_MAX ||
	    !((name[0] >= 'a' && name[0] <= 'z') || (name[0] >= 'A' && name[0] <= 'Z')))
		return false;
	for (const char *p = name; *p; p++)
		if (!(*p == '_' || *p == '-' || (*p >= '0' && *p <= '9') ||
		      (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
			return false;
	return true;
}

static int block_error(struct sim_block *b, int lineno, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int block_error(struct sim_block *b, int lineno, const char *fmt, ...)
{
	va_list ap;

	b->err_line = lineno;
	va_start(ap, fmt);
	vsnprintf(b->why, sizeof(b->why), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* Is the command on @lineno one a block may run? Return: 0 or -EINVAL. */
static int check_block_command(const struct sim_script *s, struct sim_block *b, int lineno)
{
	char *cmd, *expected, *argv[SIM_MAX_ARGS];
	const char *why, *refused;
	bool has_expect;
	int argc, err = 0;

	if (sim_split_line(s->line[lineno - 1], &cmd, &expected, &has_expect, &why))
		return block_error(b, lineno, "%s", why);
	argc = sim_tokenize(cmd, argv, SIM_MAX_ARGS);
	if (argc > 0 && !sim_cmd_find(argv[0]))
		err = block_error(b, lineno, "unknown command '%s'", argv[0]);
	else if (argc > 0 && (refused = refused_in_block(argv[0])))
		err = block_error(b, lineno, "'%s' cannot run inside a threads block (%s)", argv[0],
				  refused);
	free(cmd);
	free(expected);
	return err;
}

static int thread_add_command(struct sim_thread *t, int lineno)
{
	if (t->nr_cmds == t->cap) {
		int cap = t->cap ? 2 * t->cap : 8;
		int *cmds = realloc(t->cmds, (size_t)cap * sizeof(*cmds));
		char(*points)[SIM_POINT_MAX] = realloc(t->points, (size_t)cap * sizeof(*points));

		if (cmds)
			t->cmds = cmds;
		if (points)
			t->points = points;
		if (!cmds || !points)
			return -ENOMEM;
		t->cap = cap;
	}
	snprintf(t->points[t->nr_cmds], SIM_POINT_MAX, "line:%d", lineno);
	t->cmds[t->nr_cmds++] = lineno;
	return 0;
}

void sim_block_free(struct sim_block *b)
{
	for (unsigned int i = 0; i < b->nr_threads; i++) {
		free(b->thread[i].cmds);
		free(b->thread[i].points);
	}
	b->nr_threads = 0;
}

int sim_block_parse(const struct sim_script *s, int first, struct sim_block *b)
{
	struct sim_thread *cur = NULL;
	const char *why;
	char *arg;

	memset(b, 0, sizeof(*b));
	b->first = first;
	for (int ln = first + 1; ln <= s->nr_lines; ln++) {
		enum sim_keyword kw = sim_script_keyword(s, ln, &arg, &why);
		int err = 0;

		switch (kw) {
		case SIM_KW_BAD:
			err = block_error(b, ln, "%s", why);
			break;
		case SIM_KW_BLANK:
			break;
		case SIM_KW_THREADS:
			err = block_error(b, ln,
					  "nested 'threads' (the block of line %d has no 'end')",
					  first);
			break;
		case SIM_KW_THREAD:
			if (cur && !cur->nr_cmds) {
				err = block_error(b, cur->lineno, "thread %s has no commands",
						  cur->name);
				break;
			}
			if (!arg[0] || strchr(arg, ' ')) {
				err = block_error(b, ln, "expected 'thread NAME'");
				break;
			}
			if (!valid_thread_name(arg)) {
				err = block_error(b, ln,
						  "bad thread name '%s' (a letter, then letters, "
						  "digits, '_' or '-')",
						  arg);
				break;
			}
			for (unsigned int i = 0; i < b->nr_threads; i++)
				if (!strcmp(b->thread[i].name, arg))
					err = block_error(b, ln,
							  "thread %s defined twice (line %d)", arg,
							  b->thread[i].lineno);
			if (err)
				break;
			if (b->nr_threads == SIM_MAX_THREADS) {
				err = block_error(b, ln, "more than %d threads in one block",
						  SIM_MAX_THREADS);
				break;
			}
			cur = &b->thread[b->nr_threads++];
			snprintf(cur->name, sizeof(cur->name), "%s", arg);
			cur->lineno = ln;
			break;
		case SIM_KW_END:
			if (arg[0])
				err = block_error(b, ln, "'end' takes no arguments");
			else if (!cur)
				err = block_error(b, first, "'threads' block has no thread");
			else if (!cur->nr_cmds)
				err = block_error(b, cur->lineno, "thread %s has no commands",
						  cur->name);
			else
				b->last = ln;
			break;
		case SIM_KW_NONE:
			if (!cur)
				err = block_error(b, ln,
						  "command outside a thread (begin one with "
						  "'thread NAME')");
			else
				err = check_block_command(s, b, ln);
			if (!err && thread_add_command(cur, ln))
				err = block_error(b, ln, "out of memory");
			break;
		}
		free(arg);
		if (err || b->last)
			return err;
	}
	return block_error(b, first, "'threads' block has no 'end'");
}

/* --- running a block ----------------------------------------------------------- */

/* World state shared by the threads of a block; see the comment at the top. */
static struct sm_mutex world_lock;
static bool world_lock_ready;

void sim_block_prepare(void)
{
	if (!world_lock_ready) {
		sm_mutex_init(&world_lock, "sim_world", LOCK_RANK_SIM);
		world_lock_ready = true;
	}
}

void sim_block_world_lock(void)
{
	sm_mutex_lock(&world_lock);
}

void sim_block_world_unlock(void)
{
	sm_mutex_unlock(&world_lock);
}

void sim_block_thread(unsigned int id, void *arg)
{
	struct sim_block_exec *e = arg;
	const struct sim_thread *t = &e->block->thread[id];

	trace_thread_name("%s", t->name);
	for (int k = 0; k < t->nr_cmds; k++) {
		char *printed = NULL;
		int rc;

		if (k)
			sched_point(t->points[k]); /* the explorer may switch between commands */
		rc = sim_exec_line_full(e->world, t->cmds[k], e->script->line[t->cmds[k] - 1],
					t->name, e->out, NULL, &printed);
		if (rc != SIM_EXIT_OK && e->report)
			explore_report_failure("%s", printed ? printed : "out of memory");
		free(printed);
		if (rc == SIM_EXIT_FAIL)
			atomic_store(&e->failed, true);
		if (rc == SIM_EXIT_MALFORMED) {
			atomic_store(&e->malformed, true);
			return; /* this thread stops; the others finish */
		}
	}
}

/*
 * Lines @from..@to of @s in @w, outside any block (a `threads` never occurs
 * there: the caller cuts the script at blocks). Stops at a malformed line.
 * Return: the worst status.
 */
static int run_lines(struct sim_world *w, const struct sim_script *s, int from, int to, FILE *out)
{
	int rc = SIM_EXIT_OK;

	for (int ln = from; ln <= to; ln++) {
		const char *why;
		char *arg = NULL;
		int r;

		sim_progress_update((uint64_t)ln, 0);
		if (ln == s->nul_line) {
			sim_progress_erase(out);
			sim_report_error(w, out, ln, "NUL byte in the line");
			return SIM_EXIT_MALFORMED;
		}
		switch (sim_script_keyword(s, ln, &arg, &why)) {
		case SIM_KW_BAD:
			sim_report_error(w, out, ln, why);
			r = SIM_EXIT_MALFORMED;
			break;
		case SIM_KW_THREADS: /* only with arguments: the caller cut at the others */
			sim_report_error(w, out, ln, "'threads' takes no arguments");
			r = SIM_EXIT_MALFORMED;
			break;
		case SIM_KW_THREAD:
			sim_report_error(w, out, ln, "'thread' outside a threads block");
			r = SIM_EXIT_MALFORMED;
			break;
		case SIM_KW_END:
			sim_report_error(w, out, ln, "'end' without 'threads'");
			r = SIM_EXIT_MALFORMED;
			break;
		default:
			r = sim_exec_line(w, ln, s->line[ln - 1], out, NULL);
			break;
		}
		free(arg);
		if (r == SIM_EXIT_MALFORMED)
			return r;
		if (r == SIM_EXIT_FAIL)
			rc = r;
	}
	return rc;
}

/* The first line >= @from that opens a block (`threads` alone), or 0. */
static int next_block(const struct sim_script *s, int from)
{
	for (int ln = from; ln <= s->nr_lines; ln++) {
		const char *why;
		char *arg = NULL;
		bool open = sim_script_keyword(s, ln, &arg, &why) == SIM_KW_THREADS && !arg[0];

		free(arg);
		if (ln == s->nul_line)
			return 0;
		if (open)
			return ln;
	}
	return 0;
}

/*
 * `secmmu run` of a script with a block: the lines before it set up, its
 * threads run, the lines after it and the teardown end it, all inside one
 * run of the explorer (random, SIM_RUN_SEED), so that the devices and
 * workers the setup starts are threads it controls (and stops by the end).
 */
struct run_block_ctx {
	struct sim_block_exec e;
	const struct sim_block *b;
	sim_finish_fn finish;
	void *finish_arg;
	int rc; /* the status so far; the final one after check */
};

static void run_block_setup(void *arg)
{
	struct run_block_ctx *c = arg;

	c->rc = run_lines(c->e.world, c->e.script, 1, c->b->first - 1, c->e.out);
	if (c->rc == SIM_EXIT_MALFORMED)
		atomic_store(&c->e.malformed, true); /* the threads do nothing */
}

static void run_block_thread(unsigned int id, void *arg)
{
	struct run_block_ctx *c = arg;

	if (!atomic_load(&c->e.malformed))
		sim_block_thread(id, &c->e);
}

/*
 * The error of a run in which something ran outside the explorer's control
 * (explore_run_outside()): "@what" is its first such operation.
 */
const char *sim_outside_msg(const char *what, char *buf, size_t len)
{
	snprintf(buf, len,
		 "a thread the explorer does not control ran during the block (first: %s); "
		 "create devices in the script, not before it",
		 what);
	return buf;
}

static void run_block_check(void *arg)
{
	struct run_block_ctx *c = arg;
	char what[128], msg[256];
	int r;

	sim_world_sync(c->e.world);
	if (atomic_load(&c->e.malformed))
		c->rc = SIM_EXIT_MALFORMED;
	else if (atomic_load(&c->e.failed))
		c->rc = SIM_EXIT_FAIL;
	if (c->rc != SIM_EXIT_MALFORMED) {
		r = run_lines(c->e.world, c->e.script, c->b->last + 1, c->e.script->nr_lines,
			      c->e.out);
		c->rc = r > c->rc ? r : c->rc;
	}
	/* Nothing ran outside control: the fixed schedule is the whole story. */
	if (explore_run_outside(what, sizeof(what))) {
		sim_report_error(c->e.world, c->e.out, c->b->first,
				 sim_outside_msg(what, msg, sizeof(msg)));
		c->rc = c->rc == SIM_EXIT_MALFORMED ? c->rc : SIM_EXIT_FAIL;
	}
	/* The teardown stops every device thread the setup started. */
	c->rc = c->finish(c->e.world, c->rc, c->e.out, c->finish_arg);
	c->e.world = NULL;
}

/* --- whole scripts ------------------------------------------------------------- */

int sim_run_script(struct sim_world *w, const struct sim_script *s, FILE *out, sim_finish_fn finish,
		   void *arg)
{
	struct run_block_ctx c = {
		.e = {.world = w, .script = s, .out = out}, .finish = finish, .finish_arg = arg};
	struct explore_test t = {.name = "threads",
				 .setup = run_block_setup,
				 .thread = run_block_thread,
				 .check = run_block_check,
				 .ctx = &c};
	struct explore_opts o = {
		.strategy = EXPLORE_STRATEGY_RANDOM, .seed = SIM_RUN_SEED, .runs = 1};
	struct explore_result res;
	int first = next_block(s, 1), rc = SIM_EXIT_OK, second;
	struct sim_block b;

	sim_progress_begin("line");
	if (!first) {
		rc = run_lines(w, s, 1, s->nul_line ? s->nul_line : s->nr_lines, out);
		goto finish;
	}
	if (sim_block_parse(s, first, &b)) {
		/* What comes before the block runs first, as it would. */
		rc = run_lines(w, s, 1, first - 1, out);
		if (rc != SIM_EXIT_MALFORMED) {
			sim_report_error(w, out, b.err_line, b.why);
			rc = SIM_EXIT_MALFORMED;
		}
		sim_block_free(&b);
		goto finish;
	}
	second = next_block(s, b.last + 1);
	if (second) {
		rc = run_lines(w, s, 1, first - 1, out);
		if (rc != SIM_EXIT_MALFORMED) {
			sim_report_error(w, out, second,
					 "a second threads block (a script has one; put each in "
					 "its own file)");
			rc = SIM_EXIT_MALFORMED;
		}
		sim_block_free(&b);
		goto finish;
	}
	c.e.block = c.b = &b;
	t.nr_threads = b.nr_threads;
	sim_block_prepare();
	explore_run(&t, &o, &res, NULL);
	sim_block_free(&b);
	sim_progress_end();
	return c.rc;
finish:
	sim_progress_end();
	fflush(out);
	return finish(w, rc, out, arg);
}
