// SPDX-License-Identifier: MIT
/*
 * `secmmu explore FILE`: a scenario with one `threads` block run under many
 * schedules of the interleaving explorer (base/sched_explore.h).
 *
 * Every run is a fresh world:
 *
 *   setup  (explore_test.setup, on the run's root thread)  the lines before
 *          `threads`: the devices they create start their threads (DMA
 *          engines, fault workers, vCPUs, XPMEM nodes) under control
 *   block  (explore_test.thread)   one controlled thread per `thread NAME`
 *   check  (explore_test.check, on the root thread)  the lines after `end`,
 *          the stale-translation detector, the teardown's leak check (which
 *          stops every device thread)
 *
 * Every thread of the run is controlled. A run fails when a line's `=>` does
 * not match (in any of the three parts), a `check` finds a broken invariant,
 * a device used a stale translation, something leaked, or anything ran
 * outside the explorer's control (explore_run_outside(): a replay would not
 * be exact). Each run's output goes to a memory buffer; the output of
 * the first failing run is printed, with the failing line, the schedule
 * and the command that replays it. Schedules are written with thread names
 * ("B/lock:mmap_lock,A/line:14,..."); the explorer's thread ids are the
 * threads' positions in the block. Its other controlled threads (the
 * script's own thread, then library threads: DMA engines, RCU callbacks ...)
 * keep their numbers (nr_threads, nr_threads + 1, ...).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "base/sched_explore.h"
#include "sim/sim.h"

struct explore_ctx {
	struct sim_block_exec e;
	const struct sim_script *s;
	const struct sim_block *b;
	char *buf; /* this run's output (open_memstream) */
	size_t len;
	bool run_failed; /* a failure reported in setup or check */
	char *setup_fail;
	char *fail_out;	     /* output of the first failing run */
	char *last_out;	     /* output of the last run */
	char *malformed_out; /* output of a run that met a malformed line */
};

static void report(struct explore_ctx *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void report(struct explore_ctx *c, const char *fmt, ...)
{
	char msg[EXPLORE_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	c->run_failed = true;
	explore_report_failure("%s", msg);
}

/*
 * Lines @from..@to of the script, in the run's world. Return: false when a
 * line was malformed (the run stops there). The first failing line is kept
 * in *@fail (setup) or reported at once (@fail NULL: check).
 */
static bool run_lines(struct explore_ctx *c, int from, int to, char **fail)
{
	for (int ln = from; ln <= to; ln++) {
		char *printed = NULL;
		int rc = sim_exec_line_full(c->e.world, ln, c->s->line[ln - 1], NULL, c->e.out,
					    NULL, &printed);

		if (rc == SIM_EXIT_MALFORMED) {
			atomic_store(&c->e.malformed, true);
			report(c, "%s", printed ? printed : "out of memory");
			free(printed);
			return false;
		}
		if (rc == SIM_EXIT_FAIL) {
			if (!fail)
				report(c, "%s", printed);
			else if (!*fail)
				*fail = printed, printed = NULL;
		}
		free(printed);
	}
	return true;
}

static void ex_setup(void *arg)
{
	struct explore_ctx *c = arg;

	c->buf = NULL;
	c->len = 0;
	c->run_failed = false;
	c->setup_fail = NULL;
	atomic_store(&c->e.failed, false);
	atomic_store(&c->e.malformed, false);
	c->e.out = open_memstream(&c->buf, &c->len);
	c->e.world = c->e.out ? sim_world_new() : NULL;
	if (!c->e.world) {
		atomic_store(&c->e.malformed, true); /* out of memory: reported by check */
		return;
	}
	run_lines(c, 1, c->b->first - 1, &c->setup_fail);
}

static void ex_thread(unsigned int id, void *arg)
{
	struct explore_ctx *c = arg;

	if (!atomic_load(&c->e.malformed))
		sim_block_thread(id, &c->e);
}

/* Keep @text in *@slot unless one is kept already; frees it otherwise. */
static void keep_first(char **slot, char *text)
{
	if (!*slot)
		*slot = text;
	else
		free(text);
}

static void ex_check(void *arg)
{
	struct explore_ctx *c = arg;
	char what[128], msg[256];
	unsigned long stale;
	char *leak = NULL;
	size_t leak_len = 0;
	FILE *lf;

	if (!c->e.world) {
		if (c->e.out)
			fclose(c->e.out);
		free(c->buf);
		keep_first(&c->malformed_out, strdup("end: error: out of memory\n"));
		report(c, "out of memory");
		return;
	}
	sim_world_sync(c->e.world);
	if (c->setup_fail) {
		report(c, "%s", c->setup_fail);
		free(c->setup_fail);
		c->setup_fail = NULL;
	}
	if (!atomic_load(&c->e.malformed) && run_lines(c, c->b->last + 1, c->s->nr_lines, NULL)) {
		stale = sim_world_new_stale(c->e.world);
		if (stale) {
			fprintf(c->e.out, "end: error: devices used %lu stale translations\n",
				stale);
			report(c, "end: devices used %lu stale translations", stale);
		}
	}
	/* Teardown; its leak report goes to the output and is the failure's message. */
	lf = open_memstream(&leak, &leak_len);
	if (sim_world_destroy(c->e.world, lf ? lf : c->e.out)) {
		if (lf)
			fflush(lf);
		report(c, "%.*s", leak ? (int)strcspn(leak, "\n") : 0, leak ? leak : "");
	}
	c->e.world = NULL;
	if (lf) {
		fclose(lf);
		fputs(leak ? leak : "", c->e.out);
		free(leak);
	}
	if (explore_run_outside(what, sizeof(what))) {
		fprintf(c->e.out, "end: error: %s\n", sim_outside_msg(what, msg, sizeof(msg)));
		report(c, "end: %s", msg);
	}
	fclose(c->e.out);
	c->e.out = NULL;
	if (atomic_load(&c->e.malformed)) {
		keep_first(&c->malformed_out, c->buf);
	} else if (c->run_failed || atomic_load(&c->e.failed)) {
		keep_first(&c->fail_out, c->buf);
	} else {
		free(c->last_out);
		c->last_out = c->buf;
	}
	c->buf = NULL;
}

/* --- schedules with thread names --------------------------------------------- */

/*
 * The explorer's "ID/POINT,..." as "NAME/POINT,...": a malloc()ed string,
 * or NULL (out of memory).
 */
static char *schedule_names(const struct sim_block *b, const char *sched)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	const char *p = sched;

	if (!f)
		return NULL;
	while (*p) {
		char *end;
		unsigned long id = strtoul(p, &end, 10);

		if (end != p && id < b->nr_threads)
			fputs(b->thread[id].name, f);
		else
			end = (char *)p;
		p = end;
		end = strchr(p, ',');
		if (!end) {
			fputs(p, f);
			break;
		}
		fwrite(p, 1, (size_t)(end - p + 1), f);
		p = end + 1;
	}
	fclose(f);
	return out;
}

/*
 * A schedule of thread names (or ids) as the explorer's ids: a malloc()ed
 * string, or NULL with *@why set.
 */
static char *schedule_ids(const struct sim_block *b, const char *sched, char *why, size_t whylen)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	const char *p = sched;

	if (!f) {
		snprintf(why, whylen, "out of memory");
		return NULL;
	}
	while (*p) {
		size_t n = strcspn(p, "/,");
		unsigned int id;

		for (id = 0; id < b->nr_threads; id++)
			if (strlen(b->thread[id].name) == n && !strncmp(p, b->thread[id].name, n))
				break;
		if (id == b->nr_threads && n && n < 4 && strspn(p, "0123456789") == n)
			id = (unsigned int)strtoul(p, NULL, 10); /* any thread, by number */
		else if (id == b->nr_threads) {
			snprintf(why, whylen, "unknown thread '%.*s' in the schedule",
				 (int)(n > 40 ? 40 : n), p);
			fclose(f);
			free(out);
			return NULL;
		}
		fprintf(f, "%u", id);
		p += n;
		n = strcspn(p, ",");
		fwrite(p, 1, n, f);
		p += n;
		if (*p == ',') {
			fputc(',', f);
			p++;
		}
	}
	fclose(f);
	return out;
}

/* Print @s for a shell: as is when safe, else in single quotes. */
static void print_shell_word(FILE *out, const char *s)
{
	if (s[0] && strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
			      "_-+=/:,.;@%") == strlen(s)) {
		fputs(s, out);
		return;
	}
	fputc('\'', out);
	for (; *s; s++) {
		if (*s == '\'')
			fputs("'\\''", out);
		else
			fputc(*s, out);
	}
	fputc('\'', out);
}

/* --- the command ------------------------------------------------------------- */

/* The line of the script's only `threads` block, or 0 with the error printed. */
static int find_block(const struct sim_script *s, struct sim_block *b, FILE *out)
{
	int first = 0;

	memset(b, 0, sizeof(*b));
	for (int ln = 1; ln <= s->nr_lines; ln++) {
		const char *why;
		char *arg;
		enum sim_keyword kw = sim_script_keyword(s, ln, &arg, &why);
		const char *err = NULL;

		if (kw == SIM_KW_BAD)
			err = why;
		else if (kw == SIM_KW_THREADS && arg[0])
			err = "'threads' takes no arguments";
		else if (kw == SIM_KW_THREADS && first)
			err = "more than one threads block (explore runs one)";
		else if (kw == SIM_KW_THREAD)
			err = "'thread' outside a threads block";
		else if (kw == SIM_KW_END)
			err = "'end' without 'threads'";
		free(arg);
		if (err) {
			fprintf(out, "%d: error: %s\n", ln, err);
			return 0;
		}
		if (kw != SIM_KW_THREADS)
			continue;
		if (sim_block_parse(s, ln, b)) {
			fprintf(out, "%d: error: %s\n", b->err_line, b->why);
			return 0;
		}
		first = ln;
		ln = b->last;
	}
	if (!first)
		fprintf(out, "explore: error: the scenario has no 'threads' block\n");
	return first;
}

static const enum explore_strategy strategies[] = {
	[SIM_EXPLORE_RANDOM] = EXPLORE_STRATEGY_RANDOM,
	[SIM_EXPLORE_PCT] = EXPLORE_STRATEGY_PCT,
	[SIM_EXPLORE_DFS] = EXPLORE_STRATEGY_DFS,
};

int sim_explore(const struct sim_script *s, const struct sim_explore_opts *o, FILE *out)
{
	struct explore_ctx c = {.s = s};
	struct explore_test t = {.name = o->file ? o->file : "scenario",
				 .setup = ex_setup,
				 .thread = ex_thread,
				 .check = ex_check,
				 .ctx = &c};
	struct explore_opts eo = {.strategy = strategies[o->strategy],
				  .seed = o->seed,
				  .runs = o->runs ? o->runs : SIM_EXPLORE_RUNS,
				  .depth = o->depth,
				  .bound = o->bound,
				  .timeout_s = o->timeout_s};
	struct explore_run_report rep = {0};
	struct explore_result res;
	struct sim_block b;
	char *ids = NULL, why[96];
	int ret, rc = SIM_EXIT_OK;

	if (!find_block(s, &b, out)) {
		rc = SIM_EXIT_MALFORMED;
		goto out;
	}
	c.b = &b;
	c.e.script = s;
	c.e.block = &b;
	c.e.report = true;
	t.nr_threads = b.nr_threads;
	if (o->replay) {
		ids = schedule_ids(&b, o->replay, why, sizeof(why));
		if (!ids) {
			fprintf(out, "explore: error: %s\n", why);
			rc = SIM_EXIT_MALFORMED;
			goto out;
		}
		eo.replay = ids;
	}
	sim_block_prepare();
	ret = explore_run(&t, &eo, &res, &rep);
	if (ret == -EOPNOTSUPP || ret == -EINVAL) {
		fprintf(out, "explore: error: %s\n",
			ret == -EINVAL ? "bad schedule" : "strategy not supported by the explorer");
		rc = SIM_EXIT_MALFORMED;
		goto out;
	}
	if (c.malformed_out) {
		fputs(c.malformed_out, out);
		rc = SIM_EXIT_MALFORMED;
		goto out;
	}
	if (o->replay)
		fputs(c.fail_out ? c.fail_out : c.last_out ? c.last_out : "", out);
	else if (c.fail_out)
		fputs(c.fail_out, out);
	if (rep.fails) {
		char *sched = schedule_names(&b, rep.fail_schedule ? rep.fail_schedule : "");

		fprintf(out, "explore: run %lu failed: %s\n", rep.fail_run, rep.fail_msg);
		fprintf(out, "explore: schedule %s\n", sched ? sched : "?");
		fprintf(out, "explore: replay with: secmmu explore ");
		print_shell_word(out, o->file ? o->file : "FILE");
		for (unsigned int i = 0; i < o->nr_bugs; i++) {
			fputs(" --bug ", out);
			print_shell_word(out, o->bugs[i]);
		}
		fputs(" --replay ", out);
		print_shell_word(out, sched ? sched : "");
		fputc('\n', out);
		free(sched);
		rc = SIM_EXIT_FAIL;
	}
	fprintf(out, "explore: %lu runs, %lu failing, %lu distinct schedules%s\n", res.runs,
		rep.fails, rep.distinct, rep.exhausted ? ", exhausted" : "");
out:
	fflush(out);
	free(rep.fail_schedule);
	free(ids);
	free(c.fail_out);
	free(c.last_out);
	free(c.malformed_out);
	sim_block_free(&b);
	return rc;
}
