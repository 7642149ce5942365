// SPDX-License-Identifier: MIT
/*
 * The runner: one script line at a time, through the command table, with
 * the output format
 *
 *   LINE: COMMAND -> RESULT [FAIL (expected EXPECTED)]
 *   LINE: error: WHY
 *
 * and the exit statuses SIM_EXIT_OK / _FAIL / _MALFORMED.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "secmmu/err.h"
#include "secmmu/mm.h"
#include "secmmu/swap.h"
#include "secmmu/trace.h"
#include "sim/sim.h"

/* --- results and errors ---------------------------------------------------- */

static char *vformat(const char *fmt, va_list ap)
{
	char *s = NULL;

	if (vasprintf(&s, fmt, ap) < 0)
		return NULL;
	return s;
}

int sim_result_take(struct sim_ctx *ctx, char *text)
{
	free(ctx->result);
	ctx->result = text;
	return 0;
}

int sim_result(struct sim_ctx *ctx, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	sim_result_take(ctx, vformat(fmt, ap));
	va_end(ap);
	return 0;
}

int sim_result_errno(struct sim_ctx *ctx, long err)
{
	return sim_result(ctx, "%s", err >= 0 ? "ok" : errno_name(err));
}

int sim_malformed(struct sim_ctx *ctx, const char *fmt, ...)
{
	va_list ap;

	if (ctx->error) /* keep the first, most specific reason */
		return -1;
	va_start(ap, fmt);
	ctx->error = vformat(fmt, ap);
	va_end(ap);
	if (!ctx->error)
		ctx->error = strdup("out of memory");
	return -1;
}

void sim_check_report(struct sim_ctx *ctx, const char *fmt, ...)
{
	char *msg, *joined = NULL;
	va_list ap;

	va_start(ap, fmt);
	msg = vformat(fmt, ap);
	va_end(ap);
	if (!msg)
		return;
	if (!ctx->check_mode || !ctx->result) {
		ctx->check_mode = true;
		sim_result_take(ctx, msg);
		return;
	}
	if (asprintf(&joined, "%s; %s", ctx->result, msg) >= 0)
		sim_result_take(ctx, joined);
	free(msg);
}

/* --- arguments ------------------------------------------------------------- */

static int number_error(struct sim_ctx *ctx, int err, const char *s)
{
	if (err == -ERANGE)
		return sim_malformed(ctx, "number out of range '%s'", s);
	return sim_malformed(ctx, "bad number '%s'", s);
}

int sim_arg_num(struct sim_ctx *ctx, const char *s, uint64_t *v)
{
	int err = sim_parse_num(s, v);

	return err ? number_error(ctx, err, s) : 0;
}

int sim_arg_size(struct sim_ctx *ctx, const char *s, uint64_t *v)
{
	int err = sim_parse_size(s, v);

	return err ? number_error(ctx, err, s) : 0;
}

int sim_arg_range(struct sim_ctx *ctx, const char *addr, const char *len, uint64_t *a, uint64_t *l)
{
	if (sim_arg_num(ctx, addr, a) || sim_arg_size(ctx, len, l))
		return -1;
	/* [a, a + l) must end at or below 2^64. */
	if (*l && *l - 1 > UINT64_MAX - *a)
		return sim_malformed(ctx, "range %s + %s wraps past 2^64", addr, len);
	return 0;
}

/* --- one line --------------------------------------------------------------- */

static int arity_error(struct sim_ctx *ctx, const struct sim_cmd *c, int got)
{
	if (c->min_args == c->max_args)
		return sim_malformed(ctx, "%s: expected %d argument%s, got %d (usage: %s)", c->name,
				     c->min_args, c->min_args == 1 ? "" : "s", got, c->usage);
	if (c->max_args == c->min_args + 1)
		return sim_malformed(ctx, "%s: expected %d or %d arguments, got %d (usage: %s)",
				     c->name, c->min_args, c->max_args, got, c->usage);
	return sim_malformed(ctx, "%s: expected %d to %d arguments, got %d (usage: %s)", c->name,
			     c->min_args, c->max_args, got, c->usage);
}

/* Run the normalised command @cmd. Return: 0 (RESULT set) or -1 (malformed). */
static int dispatch(struct sim_ctx *ctx, const char *cmd)
{
	char *argv[SIM_MAX_ARGS];
	char *words = strdup(cmd);
	const struct sim_cmd *c;
	int argc, ret;

	if (!words)
		return sim_malformed(ctx, "out of memory");
	argc = sim_tokenize(words, argv, SIM_MAX_ARGS);
	if (argc < 0) {
		ret = sim_malformed(ctx, "too many words (at most %d)", SIM_MAX_ARGS);
	} else if (!(c = sim_cmd_find(argv[0]))) {
		const char *near = sim_cmd_suggest(argv[0]);

		if (near)
			ret = sim_malformed(ctx, "unknown command '%s' (did you mean '%s'?)",
					    argv[0], near);
		else
			ret = sim_malformed(ctx, "unknown command '%s'", argv[0]);
	} else if (argc - 1 < c->min_args || argc - 1 > c->max_args) {
		ret = arity_error(ctx, c, argc - 1);
	} else {
		ret = c->run(ctx, argc, argv) ? -1 : 0;
		if (ret == 0 && !ctx->result)
			sim_result(ctx, "ok");
		if (ret == 0 && !ctx->result)
			ret = sim_malformed(ctx, "out of memory");
	}
	free(words);
	return ret;
}

/*
 * The counter tracks of a trace, after every command: system memory, and
 * mm_users / mm_count of every mm the world may still touch.
 */
static void trace_world_counters(struct sim_world *w)
{
	char name[SIM_NAME_MAX + 16];

	if (!trace_enabled())
		return;
	if (phys_initialized()) {
		trace_counter("frames used", (long)phys_used_frames());
		trace_counter("frames pinned", (long)phys_pinned_frames());
	}
	trace_counter("swap slots used", (long)swap_slots_used());
	sim_for_each_obj(w, o)
	{
		struct mm_struct *mm;

		if (o->type != &sim_process_type || o->retired)
			continue;
		mm = sim_proc_mm((struct sim_proc *)o);
		if (!mm)
			continue;
		snprintf(name, sizeof(name), "mm %s users", o->name);
		trace_counter(name, mm_users_read(mm));
		snprintf(name, sizeof(name), "mm %s count", o->name);
		trace_counter(name, mm_count_read(mm));
	}
}

/* @s as a JSON string (quoted, escaped) on @out. */
static void json_string(FILE *out, const char *s)
{
	fputc('"', out);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(out, "\\%c", *p);
		else if (*p == '\n')
			fputs("\\n", out);
		else if (*p == '\t')
			fputs("\\t", out);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(out, "\\u%04x", *p);
		else
			fputc(*p, out);
	}
	fputc('"', out);
}

/* A malformed line: on the error stream if the run has one, else on @out. */
static void report_error(struct sim_run *run, FILE *out, int lineno, const char *why)
{
	if (run->format == SIM_FORMAT_JSON) {
		fprintf(out, "{\"line\":%d,\"error\":", lineno);
		json_string(out, why);
		fputs("}\n", out);
	}
	if (run->err) {
		fprintf(run->err, "%s:%d: error: %s\n", run->file ? run->file : "-", lineno, why);
		fflush(run->err);
	} else if (run->format == SIM_FORMAT_TEXT) {
		fprintf(out, "%d: error: %s\n", lineno, why);
	}
}

/* The output line of an executed command, in the run's format. */
static void report_result(struct sim_run *run, FILE *out, int lineno, const char *cmd,
			  const char *result, const char *expected, const char *fail)
{
	if (run->format == SIM_FORMAT_JSON) {
		fprintf(out, "{\"line\":%d,\"command\":", lineno);
		json_string(out, cmd);
		fputs(",\"result\":", out);
		json_string(out, result);
		if (expected) {
			fputs(",\"expected\":", out);
			json_string(out, expected);
		}
		fprintf(out, ",\"ok\":%s}\n", fail ? "false" : "true");
		return;
	}
	fprintf(out, "%d: %s -> %s", lineno, cmd, result);
	if (fail && expected)
		fprintf(out, " FAIL (expected %s)", expected);
	else if (fail)
		fprintf(out, " FAIL (%s)", fail);
	fputc('\n', out);
}

void sim_report_error(struct sim_world *w, FILE *out, int lineno, const char *why)
{
	report_error(sim_world_run(w), out, lineno, why);
	fflush(out);
}

/*
 * Does RESULT match EXPECTED? Either the whole text, or one of its
 * alternatives "X | Y | Z" (each trimmed). Return: 1 match, 0 no match,
 * -1 an alternative is empty (malformed).
 */
static int expect_matches(const char *result, const char *expected)
{
	const char *p = expected;
	int match = 0;

	if (!strcmp(result, expected))
		return 1;
	if (!strchr(expected, '|'))
		return 0;
	for (;;) {
		const char *bar = strchr(p, '|');
		size_t n = bar ? (size_t)(bar - p) : strlen(p);

		while (n && *p == ' ')
			p++, n--;
		while (n && p[n - 1] == ' ')
			n--;
		if (!n)
			return -1;
		if (strlen(result) == n && !memcmp(result, p, n))
			match = 1;
		if (!bar)
			return match;
		p = bar + 1;
	}
}

/* Keep a malloc()ed copy of the output line @text (without its newline) in *@printed. */
static void keep_printed(char **printed, const char *text)
{
	if (printed && !*printed)
		*printed = strndup(text, strcspn(text, "\n"));
}

int sim_exec_line_full(struct sim_world *w, int lineno, const char *line, const char *thread,
		       FILE *out, char **result, char **printed)
{
	struct sim_ctx ctx = {.world = w, .line = lineno};
	struct sim_run *run = sim_world_run(w);
	char *cmd = NULL, *expected = NULL, *shown = NULL, *text = NULL;
	const char *fail = NULL;
	bool has_expect, progress = !thread;
	const char *why;
	size_t size = 0;
	FILE *buf = NULL;
	int rc = SIM_EXIT_OK;

	if (result)
		*result = NULL;
	if (printed)
		*printed = NULL;
	if (sim_split_line(line, &cmd, &expected, &has_expect, &why)) {
		report_error(run, out, lineno, why);
		if (printed && asprintf(&text, "%d: error: %s", lineno, why) >= 0)
			keep_printed(printed, text);
		rc = SIM_EXIT_MALFORMED;
		goto out;
	}
	if (!cmd[0] && !has_expect)
		goto out;
	if (!cmd[0])
		sim_malformed(&ctx, "'=>' without a command");
	else if (has_expect && !expected[0])
		sim_malformed(&ctx, "nothing expected after '=>'");
	else if (has_expect && expect_matches("", expected) < 0)
		sim_malformed(&ctx, "empty alternative in '=> %s'", expected);
	else {
		char word[32];

		snprintf(word, sizeof(word), "%.*s", (int)strcspn(cmd, " "), cmd);
		trace_begin("sim", word, "line=%d command=%s", lineno, cmd);
		if (progress)
			sim_progress_begin("%.60s", cmd);
		dispatch(&ctx, cmd);
		if (thread)
			sim_block_world_lock();
		sim_world_sync(w); /* before anything touches an mm again */
		if (progress)
			sim_progress_end();
		if (ctx.error) {
			trace_end_discard(); /* a malformed line gets no span */
		} else {
			trace_end();
			trace_world_counters(w);
		}
		if (thread)
			sim_block_world_unlock();
	}
	if (progress)
		sim_progress_erase(out); /* the output line goes where the progress line was */
	if (ctx.error) {
		report_error(run, out, lineno, ctx.error);
		if (printed && asprintf(&text, "%d: error: %s", lineno, ctx.error) >= 0)
			keep_printed(printed, text);
		rc = SIM_EXIT_MALFORMED;
		goto out;
	}
	atomic_fetch_add(&run->commands, 1);
	if (has_expect) {
		atomic_fetch_add(&run->expectations, 1);
		if (!expect_matches(ctx.result, expected))
			fail = "expected";
	} else if (ctx.check_mode && strcmp(ctx.result, "ok")) {
		/* A `check` that finds a problem fails the run, unless expected. */
		fail = "check found a problem";
	}
	if (fail) {
		atomic_fetch_add(&run->failed, 1);
		rc = SIM_EXIT_FAIL;
	}
	/* A block's line names its thread; the line is written with one call. */
	if (thread && asprintf(&shown, "[%s] %s", thread, cmd) < 0)
		shown = NULL;
	buf = open_memstream(&text, &size);
	if (buf) {
		report_result(run, buf, lineno, shown ? shown : cmd, ctx.result,
			      has_expect ? expected : NULL, fail);
		fclose(buf);
		fputs(text, out);
		keep_printed(printed, text);
	} else {
		report_result(run, out, lineno, shown ? shown : cmd, ctx.result,
			      has_expect ? expected : NULL, fail);
	}
	if (result) {
		*result = ctx.result;
		ctx.result = NULL;
	}
out:
	fflush(out);
	free(text);
	free(shown);
	free(ctx.result);
	free(ctx.error);
	free(cmd);
	free(expected);
	return rc;
}

int sim_exec_line(struct sim_world *w, int lineno, const char *line, FILE *out, char **result)
{
	return sim_exec_line_full(w, lineno, line, NULL, out, result, NULL);
}

/* --- whole scripts ------------------------------------------------------------ */

/* The end-of-run leak report: text lines, or JSON objects {"line":"end",...}. */
static int finish_run(struct sim_world *w, int rc, FILE *out)
{
	struct sim_run *run = sim_world_run(w);
	char *text = NULL;
	size_t size = 0;
	FILE *report = run->format == SIM_FORMAT_JSON ? open_memstream(&text, &size) : out;
	int leaked = sim_world_destroy(w, report ? report : out);

	if (report && report != out) {
		fclose(report);
		for (char *p = text, *eol; p && *p; p = eol + 1) {
			eol = strchr(p, '\n');
			if (eol)
				*eol = 0;
			fputs("{\"line\":\"end\",\"error\":", out);
			json_string(out, strncmp(p, "end: error: ", 12) ? p : p + 12);
			fputs("}\n", out);
			if (!eol)
				break;
		}
		free(text);
	}
	if (leaked && rc == SIM_EXIT_OK)
		rc = SIM_EXIT_FAIL;
	/* Results nobody could read (stdout closed, disk full) are no success. */
	if ((fflush(out) || ferror(out)) && rc == SIM_EXIT_OK) {
		fprintf(stderr, "secmmu: error: the results could not be written\n");
		rc = SIM_EXIT_MALFORMED;
	}
	return rc;
}

struct stream_finish {
	int read_err; /* errno of a read error of the script, or 0 */
	struct sim_run *stats;
};

/* The end of sim_run_stream_opts(): a read error, the statistics, the teardown. */
static int finish_stream(struct sim_world *w, int rc, FILE *out, void *arg)
{
	struct stream_finish *fin = arg;
	struct sim_run *run = sim_world_run(w);

	if (rc != SIM_EXIT_MALFORMED && fin->read_err) {
		/* A read error (a directory, an I/O error) is no script. */
		char why[128];

		snprintf(why, sizeof(why), "cannot read the script: %s", strerror(fin->read_err));
		if (run->err)
			fprintf(run->err, "%s: error: %s\n", run->file ? run->file : "-", why);
		else
			fprintf(out, "end: error: %s\n", why);
		rc = SIM_EXIT_MALFORMED;
	}
	if (fin->stats) {
		fin->stats->commands = atomic_load(&run->commands);
		fin->stats->expectations = atomic_load(&run->expectations);
		fin->stats->failed = atomic_load(&run->failed);
	}
	return finish_run(w, rc, out);
}

int sim_run_stream_opts(FILE *in, FILE *out, const struct sim_run *opts, struct sim_run *stats)
{
	struct stream_finish fin;
	struct sim_world *w = sim_world_new();
	struct sim_script script;
	struct sim_run *run;
	int rc, err;

	if (!w) {
		fprintf(out, "end: error: out of memory\n");
		return SIM_EXIT_MALFORMED;
	}
	run = sim_world_run(w);
	if (opts) {
		run->format = opts->format;
		run->err = opts->err;
		run->file = opts->file;
	}
	err = sim_script_read(in, &script);
	if (err == -ENOMEM) {
		fprintf(out, "end: error: out of memory\n");
		return finish_run(w, SIM_EXIT_MALFORMED, out);
	}
	fin.read_err = err == -EIO ? errno : 0;
	fin.stats = stats;
	rc = sim_run_script(w, &script, out, finish_stream, &fin);
	sim_script_free(&script);
	return rc;
}

int sim_run_stream(FILE *in, FILE *out)
{
	return sim_run_stream_opts(in, out, NULL, NULL);
}

int sim_run_text(const char *text, FILE *out)
{
	FILE *in = fmemopen((void *)text, strlen(text), "r");
	int rc;

	if (!in) {
		/* fmemopen() refuses an empty buffer on some libcs: nothing to run. */
		if (!text[0])
			return finish_run(sim_world_new(), SIM_EXIT_OK, out);
		fprintf(out, "end: error: out of memory\n");
		return SIM_EXIT_MALFORMED;
	}
	rc = sim_run_stream(in, out);
	fclose(in);
	return rc;
}

void sim_scenario_description(const char *text, char *buf, size_t size)
{
	const char *p = text;

	if (!size)
		return;
	buf[0] = 0;
	while (*p) {
		const char *eol = strchr(p, '\n');
		size_t n = eol ? (size_t)(eol - p) : strlen(p);

		if (n >= 2 && p[0] == '#' && p[1] == ' ' && strncmp(p, "# expect-exit:", 14)) {
			n -= 2;
			if (n >= size)
				n = size - 1;
			memcpy(buf, p + 2, n);
			buf[n] = 0;
			return;
		}
		if (!eol)
			break;
		p = eol + 1;
	}
}
