// SPDX-License-Identifier: MIT
/*
 * secmmu - the command line: run scenarios, list and run the built-in ones,
 * narrate the demo, and explain the scenario commands.
 *
 * Exit statuses: 0 success, 1 a check failed (expectation, `check`, leak,
 * demo claim), 2 usage error, malformed or unreadable scenario, unwritable
 * output.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "secmmu/bugs.h"
#include "secmmu/trace.h"
#include "secmmu/version.h"
#include "sim/sim.h"

static const char usage_text[] =
	"usage: secmmu [--version] [--help] COMMAND [ARGS] [--trace FILE]\n"
	"\n"
	"Run scenarios:\n"
	"  run FILE|-               run a scenario file (- is standard input)\n"
	"  scenario list            list the built-in scenarios\n"
	"  scenario run NAME|--all  run built-in scenarios\n"
	"  demo                     narrate the built-in default world\n"
	"  explore FILE [OPTIONS]   run a scenario with a threads block under many\n"
	"                           schedules (secmmu help explore)\n"
	"  bugs                     the historical bugs `bug NAME` can put back\n"
	"\n"
	"Learn:\n"
	"  help COMMAND             details of a command (run, scenario, demo, help)\n"
	"                           or of a scenario command (help mmap)\n"
	"  help commands            every scenario command, one line each\n"
	"\n"
	"Options:\n"
	"  --trace FILE             write a Chrome trace-event JSON file (run, demo,\n"
	"                           scenario)\n"
	"  --version                print the version and exit\n"
	"\n"
	"Exit status: 0 ok, 1 an expectation or check failed or something leaked,\n"
	"2 usage error, malformed or unreadable scenario, unwritable output.\n"
	"Language: docs/scenarios.md.\n";

/* The detailed help of each subcommand: `secmmu help NAME`, `secmmu NAME --help`. */
struct subcommand {
	const char *name;
	const char *usage; /* one line, after "usage: " */
	const char *help;  /* details */
};

static const struct subcommand subcommands[] = {
	{"run", "secmmu run FILE|- [--format text|json] [--trace FILE]",
	 "Run the scenario in FILE (- reads standard input). Each command prints\n"
	 "'LINE: COMMAND -> RESULT' on standard output, with ' FAIL (expected X)'\n"
	 "when its '=> X' expectation is not met and ' FAIL (check found a problem)'\n"
	 "for a `check` that finds one. A malformed line stops the run and is\n"
	 "reported on standard error as 'FILE:LINE: error: WHY'. At the end the world\n"
	 "is torn down and checked for leaks, and a summary line follows:\n"
	 "'N commands, E expectations, F failed'.\n"
	 "\n"
	 "  --format json   one JSON object per line instead: {\"line\":N,\"command\":..,\n"
	 "                  \"result\":..,[\"expected\":..,]\"ok\":true|false}, errors as\n"
	 "                  {\"line\":N,\"error\":..}, then {\"commands\":N,\"expectations\":E,\n"
	 "                  \"failed\":F,\"status\":S}\n"
	 "  --trace FILE    write a Chrome trace-event JSON file\n"
	 "\n"
	 "Exit status: 0 ok, 1 an expectation or check failed or something leaked,\n"
	 "2 a malformed line, FILE cannot be read, or the output cannot be written."},
	{"scenario",
	 "secmmu scenario list | scenario run NAME [--format text|json] | scenario run --all "
	 "[--tap]",
	 "The built-in scenarios (scenarios/*.scn, compiled in).\n"
	 "\n"
	 "  list             one line per scenario: NAME and what it shows\n"
	 "  run NAME         run one, with the output of `secmmu run`\n"
	 "  run --all        run every one quietly: PASS NAME or FAIL NAME with its\n"
	 "                   output, then 'S scenarios, P passed, F failed'\n"
	 "  run --all --tap  the same as TAP version 14 (plan, ok/not ok N - NAME),\n"
	 "                   readable by kselftest and KUnit TAP parsers\n"
	 "\n"
	 "Exit status: 0 all passed, 1 one failed, 2 usage error or unknown NAME."},
	{"explore",
	 "secmmu explore FILE [--strategy random|pct|dfs] [--runs N] [--seed S] [--depth D] "
	 "[--bound B] [--timeout SECONDS] [--replay SCHEDULE] [--bug NAME] [--trace T.json]",
	 "Run the scenario FILE, which has one 'threads' block, under many schedules.\n"
	 "Every run is a fresh world: the lines before 'threads' set it up, the block's\n"
	 "threads run one at a time in the order the explorer chooses, the lines after\n"
	 "'end' check. A run fails when an '=>' does not match, 'check' finds a broken\n"
	 "invariant, a device used a stale translation, or something leaked.\n"
	 "\n"
	 "  --strategy random       a seeded random choice at every point (default)\n"
	 "  --strategy pct          probabilistic concurrency testing, bug depth D\n"
	 "  --strategy dfs          every schedule with at most B preemptions\n"
	 "  --runs N                at most N runs (default 200)\n"
	 "  --seed S                random/pct: run i uses seed S + i (default 0)\n"
	 "  --depth D               pct: the bug depth (default 3)\n"
	 "  --bound B               dfs: the preemption bound (default 2)\n"
	 "  --timeout SECONDS       start no new run after this long\n"
	 "  --replay SCHEDULE       run exactly this schedule once (as printed by a\n"
	 "                          failure: NAME/POINT,NAME/POINT,...)\n"
	 "  --bug NAME              put historical bug NAME back for every run, as a\n"
	 "                          'bug NAME' first line would (secmmu bugs)\n"
	 "  --trace T.json          the timeline of the runs (use it with --replay)\n"
	 "\n"
	 "The first failure prints that run's output, the failing line, the schedule\n"
	 "and the command replaying it. The last line is exactly\n"
	 "'explore: R runs, F failing, S distinct schedules[, exhausted]'.\n"
	 "Exit status: 0 no run failed, 1 a run failed, 2 usage error or malformed\n"
	 "scenario."},
	{"bugs", "secmmu bugs",
	 "List the historical bugs of the bug museum (docs/museum.md), one per line:\n"
	 "NAME and its story. The scenario command 'bug NAME' (before the first mm)\n"
	 "and 'secmmu explore --bug NAME' put one back into the implementation."},
	{"demo", "secmmu demo [--trace FILE]",
	 "Run the built-in default world and narrate it: processes, fork and\n"
	 "copy-on-write, a lazy-TLB kernel thread, exit. Every claim the narration\n"
	 "makes is checked. Exit status: 0 only if every check held."},
	{"help", "secmmu help [COMMAND|commands]",
	 "Without COMMAND, the short help. With a command of the secmmu program\n"
	 "(run, scenario, demo, help) its details; with a scenario command (mmap,\n"
	 "vfio_register ...) its usage, description and an example; 'commands'\n"
	 "lists every scenario command."},
};

#define NR_SUBCOMMANDS (sizeof(subcommands) / sizeof(subcommands[0]))

static const struct subcommand *find_subcommand(const char *name)
{
	for (size_t i = 0; i < NR_SUBCOMMANDS; i++)
		if (!strcmp(subcommands[i].name, name))
			return &subcommands[i];
	return NULL;
}

static int usage(FILE *f, int status)
{
	fputs(usage_text, f);
	return status;
}

/*
 * A usage error: say what was wrong, then the usage of @sub (or the short
 * help), on stderr. Return: 2.
 */
static int usage_error(const char *sub, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int usage_error(const char *sub, const char *fmt, ...)
{
	const struct subcommand *sc = sub ? find_subcommand(sub) : NULL;
	va_list ap;

	fputs("secmmu: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (sc)
		fprintf(stderr, "usage: %s\n(secmmu help %s for details)\n", sc->usage, sc->name);
	else if (strstr(fmt, "did you mean"))
		fputs("(secmmu --help for the commands)\n", stderr);
	else
		usage(stderr, 2);
	return 2;
}

static void print_subcommand_help(const struct subcommand *sc)
{
	printf("usage: %s\n\n%s\n", sc->usage, sc->help);
}

static bool is_help_flag(const char *s)
{
	return !strcmp(s, "--help") || !strcmp(s, "-h");
}

static void print_command_line(const struct sim_cmd *cmd, void *arg)
{
	fprintf(arg, "  %-46s %s\n", cmd->usage, cmd->help);
}

struct name_list {
	const char *names[256];
	size_t n;
};

static void collect_name(const struct sim_cmd *cmd, void *arg)
{
	struct name_list *l = arg;

	if (l->n < sizeof(l->names) / sizeof(l->names[0]))
		l->names[l->n++] = cmd->name;
}

/* The nearest subcommand or scenario command to @word, or NULL. */
static const char *suggest_any(const char *word, bool scenario_commands)
{
	struct name_list l = {.n = 0};

	for (size_t i = 0; i < NR_SUBCOMMANDS; i++)
		l.names[l.n++] = subcommands[i].name;
	if (scenario_commands)
		sim_cmd_for_each(collect_name, &l);
	return sim_nearest(word, l.names, l.n);
}

static int do_help(int argc, char **argv)
{
	const struct subcommand *sc;
	const struct sim_cmd *cmd;
	const char *near;

	if (argc < 3)
		return usage(stdout, 0);
	if (argc > 3)
		return usage_error("help", "help: expected at most one COMMAND, got %d", argc - 2);
	if (!strcmp(argv[2], "commands")) {
		printf("Scenario commands (secmmu help COMMAND for one):\n");
		sim_cmd_for_each(print_command_line, stdout);
		return 0;
	}
	sc = find_subcommand(argv[2]);
	if (sc) {
		print_subcommand_help(sc);
		return 0;
	}
	cmd = sim_cmd_find(argv[2]);
	if (cmd) {
		printf("usage:   %s\n%s\nexample: %s\n", cmd->usage, cmd->help, cmd->example);
		return 0;
	}
	near = suggest_any(argv[2], true);
	if (near)
		return usage_error(NULL, "help: no command '%s'; did you mean '%s'?", argv[2],
				   near);
	return usage_error(NULL, "help: no command '%s' (secmmu help commands lists them)",
			   argv[2]);
}

/*
 * Take "--format text|json" (or "--format=...") out of @argv.
 * Return: 0 (*@format set), or 2 after a usage error.
 */
static int take_format_option(const char *sub, int *argc, char **argv, enum sim_format *format)
{
	*format = SIM_FORMAT_TEXT;
	for (int i = 2; i < *argc; i++) {
		const char *v;
		int n;

		if (!strcmp(argv[i], "--format")) {
			if (i + 1 >= *argc)
				return usage_error(sub, "%s: --format needs text or json", sub);
			v = argv[i + 1];
			n = 2;
		} else if (!strncmp(argv[i], "--format=", 9)) {
			v = argv[i] + 9;
			n = 1;
		} else {
			continue;
		}
		if (!strcmp(v, "json"))
			*format = SIM_FORMAT_JSON;
		else if (strcmp(v, "text"))
			return usage_error(sub, "%s: unknown format '%s' (text or json)", sub, v);
		memmove(&argv[i], &argv[i + n], (size_t)(*argc - i - n + 1) * sizeof(*argv));
		*argc -= n;
		i--;
	}
	return 0;
}

/* Run the script @in named @name to stdout, then the summary. */
static int run_script(FILE *in, const char *name, enum sim_format format)
{
	struct sim_run opts = {.format = format, .err = stderr, .file = name};
	struct sim_run stats = {0};
	int rc = sim_run_stream_opts(in, stdout, &opts, &stats);

	if (format == SIM_FORMAT_JSON)
		printf("{\"commands\":%lu,\"expectations\":%lu,\"failed\":%lu,\"status\":%d}\n",
		       (unsigned long)stats.commands, (unsigned long)stats.expectations,
		       (unsigned long)stats.failed, rc);
	else
		printf("%lu commands, %lu expectations, %lu failed\n",
		       (unsigned long)stats.commands, (unsigned long)stats.expectations,
		       (unsigned long)stats.failed);
	fflush(stdout);
	return rc;
}

static int do_run(int argc, char **argv)
{
	enum sim_format format;
	FILE *in;
	int rc;

	if (argc >= 3 && is_help_flag(argv[2])) {
		print_subcommand_help(find_subcommand("run"));
		return 0;
	}
	if (take_format_option("run", &argc, argv, &format))
		return 2;
	if (argc < 3)
		return usage_error("run", "run: no scenario FILE given");
	if (argc > 3)
		return usage_error("run", "run: expected one FILE, got %d arguments", argc - 2);
	if (argv[2][0] == '-' && argv[2][1])
		return usage_error("run", "run: unknown option '%s'", argv[2]);
	if (!strcmp(argv[2], "-"))
		return run_script(stdin, "-", format);
	in = fopen(argv[2], "r");
	if (!in) {
		fprintf(stderr, "secmmu: %s: %s\n", argv[2], strerror(errno));
		return 2;
	}
	rc = run_script(in, argv[2], format);
	fclose(in);
	return rc;
}

static const struct sim_builtin *find_builtin(const char *name)
{
	for (size_t i = 0; i < sim_nr_builtins; i++)
		if (!strcmp(sim_builtins[i].name, name))
			return &sim_builtins[i];
	return NULL;
}

static int scenario_list(void)
{
	char desc[256];

	for (size_t i = 0; i < sim_nr_builtins; i++) {
		sim_scenario_description(sim_builtins[i].text, desc, sizeof(desc));
		printf("%-24s %s\n", sim_builtins[i].name, desc);
	}
	return 0;
}

/* Print @text with every line prefixed by @prefix (the output of a failed scenario). */
static void print_indented(const char *text, const char *prefix)
{
	const char *p = text;

	while (*p) {
		const char *eol = strchr(p, '\n');
		int n = eol ? (int)(eol - p) : (int)strlen(p);

		printf("%s%.*s\n", prefix, n, p);
		p += n + (eol ? 1 : 0);
	}
}

/*
 * Run built-in number @i quietly: PASS NAME, or FAIL NAME followed by its
 * whole output; as TAP: "ok N - NAME" or "not ok N - NAME" with the output
 * as a YAML diagnostic block.
 */
static int scenario_run_quiet(size_t i, bool tap)
{
	const struct sim_builtin *b = &sim_builtins[i];
	char *text = NULL;
	size_t size = 0;
	FILE *out = open_memstream(&text, &size);
	int rc;

	if (!out) {
		printf("%s %s (out of memory)\n", tap ? "not ok" : "FAIL", b->name);
		return 1;
	}
	sim_progress_begin("%s", b->name);
	trace_begin("sim", "scenario", "name=%s", b->name);
	rc = sim_run_text(b->text, out);
	trace_end();
	sim_progress_end();
	fclose(out);
	sim_progress_erase(stdout);
	if (tap) {
		printf("%s %zu - %s\n", rc == SIM_EXIT_OK ? "ok" : "not ok", i + 1, b->name);
		if (rc != SIM_EXIT_OK) {
			printf("  ---\n  message: \"exit status %d\"\n  output: |\n", rc);
			print_indented(text ? text : "", "    ");
			printf("  ...\n");
		}
	} else if (rc == SIM_EXIT_OK) {
		printf("PASS %s\n", b->name);
	} else {
		printf("FAIL %s (exit status %d)\n", b->name, rc);
		print_indented(text ? text : "", "    ");
	}
	free(text);
	fflush(stdout);
	return rc != SIM_EXIT_OK;
}

static int scenario_run_all(bool tap)
{
	size_t failed = 0;

	if (tap)
		printf("TAP version 14\n1..%zu\n", sim_nr_builtins);
	sim_progress_begin("scenarios");
	for (size_t i = 0; i < sim_nr_builtins; i++) {
		sim_progress_update(i, sim_nr_builtins);
		failed += (size_t)scenario_run_quiet(i, tap);
	}
	sim_progress_end();
	printf("%s%zu scenarios, %zu passed, %zu failed\n", tap ? "# " : "", sim_nr_builtins,
	       sim_nr_builtins - failed, failed);
	return failed ? 1 : 0;
}

static int do_scenario(int argc, char **argv)
{
	const struct sim_builtin *b;
	enum sim_format format;
	FILE *in;
	int rc;

	if (argc >= 3 && is_help_flag(argv[2])) {
		print_subcommand_help(find_subcommand("scenario"));
		return 0;
	}
	if (take_format_option("scenario", &argc, argv, &format))
		return 2;
	if (argc < 3)
		return usage_error("scenario", "scenario: expected list or run");
	if (!strcmp(argv[2], "list")) {
		if (argc != 3)
			return usage_error("scenario", "scenario list: takes no arguments");
		return scenario_list();
	}
	if (strcmp(argv[2], "run"))
		return usage_error("scenario", "scenario: unknown subcommand '%s' (list or run)",
				   argv[2]);
	if (argc == 4 && !strcmp(argv[3], "--all"))
		return scenario_run_all(false);
	if (argc == 5 && ((!strcmp(argv[3], "--all") && !strcmp(argv[4], "--tap")) ||
			  (!strcmp(argv[3], "--tap") && !strcmp(argv[4], "--all"))))
		return scenario_run_all(true);
	if (argc != 4)
		return usage_error("scenario", "scenario run: expected one NAME or --all");
	b = find_builtin(argv[3]);
	if (!b) {
		const char *names[1024];
		size_t n = 0;
		const char *near;

		for (size_t i = 0; i < sim_nr_builtins && n < 1024; i++)
			names[n++] = sim_builtins[i].name;
		near = sim_nearest(argv[3], names, n);
		if (near)
			return usage_error(NULL, "no built-in scenario '%s'; did you mean '%s'?",
					   argv[3], near);
		return usage_error(NULL, "no built-in scenario '%s' (secmmu scenario list)",
				   argv[3]);
	}
	in = fmemopen((void *)b->text, strlen(b->text), "r");
	if (!in) {
		fprintf(stderr, "secmmu: out of memory\n");
		return 2;
	}
	rc = run_script(in, b->name, format);
	fclose(in);
	return rc;
}

/*
 * Take "--trace FILE" (or "--trace=FILE") out of @argv, wherever it is.
 * Return: 0 (*@path set, or NULL if absent), -1 for a missing FILE.
 */
static int take_trace_option(int *argc, char **argv, const char **path)
{
	*path = NULL;
	for (int i = 1; i < *argc; i++) {
		int n;

		if (!strcmp(argv[i], "--trace")) {
			if (i + 1 >= *argc)
				return -1;
			*path = argv[i + 1];
			n = 2;
		} else if (!strncmp(argv[i], "--trace=", 8)) {
			*path = argv[i] + 8;
			n = 1;
		} else {
			continue;
		}
		if (!**path)
			return -1;
		memmove(&argv[i], &argv[i + n], (size_t)(*argc - i - n + 1) * sizeof(*argv));
		*argc -= n;
		i--;
	}
	return 0;
}

/* An unsigned number option; -1 (message printed) when malformed. */
static int parse_ulong_opt(const char *opt, const char *s, unsigned long max, unsigned long *v)
{
	char *end;

	errno = 0;
	if (!s || !*s || *s == '-' || *s == '+') {
		usage_error("explore", "explore: %s needs a number", opt);
		return -1;
	}
	*v = strtoul(s, &end, 0);
	if (*end || errno || *v > max) {
		usage_error("explore", "explore: %s: bad number '%s'", opt, s);
		return -1;
	}
	return 0;
}

static int do_explore(int argc, char **argv)
{
	struct sim_explore_opts o = {0};
	const char *bugs[16];
	const char *file = NULL;
	struct sim_script s;
	unsigned long v;
	FILE *in;
	int rc;

	for (int i = 2; i < argc; i++) {
		const char *opt = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;

		if (is_help_flag(opt)) {
			print_subcommand_help(find_subcommand("explore"));
			return 0;
		}
		if (opt[0] != '-' || !strcmp(opt, "-")) {
			if (file)
				return usage_error("explore", "explore: expected one FILE");
			file = opt;
			continue;
		}
		if (!val)
			return usage_error("explore", "explore: %s needs a value", opt);
		i++;
		if (!strcmp(opt, "--strategy")) {
			if (!strcmp(val, "random"))
				o.strategy = SIM_EXPLORE_RANDOM;
			else if (!strcmp(val, "pct"))
				o.strategy = SIM_EXPLORE_PCT;
			else if (!strcmp(val, "dfs"))
				o.strategy = SIM_EXPLORE_DFS;
			else
				return usage_error(
					"explore",
					"explore: unknown strategy '%s' (random, pct, dfs)", val);
		} else if (!strcmp(opt, "--runs")) {
			if (parse_ulong_opt(opt, val, 100000000UL, &o.runs))
				return 2;
			if (!o.runs)
				return usage_error("explore", "explore: --runs must be at least 1");
		} else if (!strcmp(opt, "--seed")) {
			if (parse_ulong_opt(opt, val, ~0UL, &o.seed))
				return 2;
		} else if (!strcmp(opt, "--depth") || !strcmp(opt, "--bound")) {
			if (parse_ulong_opt(opt, val, 1000, &v))
				return 2;
			if (opt[2] == 'd')
				o.depth = (unsigned int)v;
			else
				o.bound = (unsigned int)v;
		} else if (!strcmp(opt, "--timeout")) {
			char *end;

			o.timeout_s = strtod(val, &end);
			if (*end || !(o.timeout_s > 0) || o.timeout_s > 1e7)
				return usage_error("explore",
						   "explore: --timeout: bad number of seconds '%s'",
						   val);
		} else if (!strcmp(opt, "--replay")) {
			o.replay = val;
		} else if (!strcmp(opt, "--bug")) {
			if (secmmu_bug_set(val, true))
				return usage_error("explore",
						   "explore: unknown bug '%s' (secmmu bugs)", val);
			if (o.nr_bugs < sizeof(bugs) / sizeof(bugs[0]))
				bugs[o.nr_bugs++] = val;
		} else {
			return usage_error("explore", "explore: unknown option '%s'", opt);
		}
	}
	if (!file)
		return usage_error("explore", "explore: expected a FILE");
	o.file = file;
	o.bugs = bugs;
	in = strcmp(file, "-") ? fopen(file, "r") : stdin;
	if (!in) {
		fprintf(stderr, "secmmu: %s: %s\n", file, strerror(errno));
		return 2;
	}
	rc = sim_script_read(in, &s);
	if (in != stdin)
		fclose(in);
	if (rc) {
		fprintf(stderr, "secmmu: %s: %s\n", file,
			rc == -EIO ? "cannot read the script" : "out of memory");
		sim_script_free(&s);
		return 2;
	}
	rc = sim_explore(&s, &o, stdout);
	sim_script_free(&s);
	secmmu_bug_reset_all();
	return rc;
}

static int do_bugs(int argc, char **argv)
{
	const struct secmmu_bug_info *list;
	size_t n;

	if (argc >= 3 && is_help_flag(argv[2])) {
		print_subcommand_help(find_subcommand("bugs"));
		return 0;
	}
	if (argc != 2)
		return usage_error("bugs", "bugs: takes no arguments");
	list = secmmu_bug_list(&n);
	for (size_t i = 0; i < n; i++)
		printf("%-28s %s\n", list[i].name, list[i].story);
	return 0;
}

static int dispatch(int argc, char **argv)
{
	const char *near;

	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help"))
		return do_help(argc, argv);
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
		printf("secmmu %s\n", secmmu_version());
		return 0;
	}
	if (!strcmp(argv[1], "run"))
		return do_run(argc, argv);
	if (!strcmp(argv[1], "demo")) {
		if (argc >= 3 && is_help_flag(argv[2])) {
			print_subcommand_help(find_subcommand("demo"));
			return 0;
		}
		if (argc != 2)
			return usage_error("demo", "demo: takes no arguments");
		return sim_demo(stdout);
	}
	if (!strcmp(argv[1], "scenario"))
		return do_scenario(argc, argv);
	if (!strcmp(argv[1], "explore"))
		return do_explore(argc, argv);
	if (!strcmp(argv[1], "bugs"))
		return do_bugs(argc, argv);
	if (argv[1][0] == '-')
		return usage_error(NULL, "unknown option '%s'", argv[1]);
	near = suggest_any(argv[1], false);
	if (near)
		return usage_error(NULL, "unknown command '%s'; did you mean '%s'?", argv[1], near);
	if (sim_cmd_find(argv[1]))
		return usage_error(NULL,
				   "'%s' is a scenario command: put it in a file for secmmu run "
				   "(secmmu help %s)",
				   argv[1], argv[1]);
	return usage_error(NULL, "unknown command '%s'", argv[1]);
}

int main(int argc, char **argv)
{
	const char *trace_path;
	int rc, err;

	if (take_trace_option(&argc, argv, &trace_path))
		return usage_error(NULL, "--trace needs a FILE");
	if (argc < 2)
		return usage_error(NULL, "no command given");
	trace_thread_name("script");
	if (trace_path) {
		/* An exploration's trace: a logical clock, so a replay's is byte-identical. */
		if (!strcmp(argv[1], "explore"))
			trace_set_logical_clock(true);
		err = trace_open(trace_path);
		if (err) {
			fprintf(stderr, "secmmu: %s: %s\n", trace_path, strerror(-err));
			return 2;
		}
	}
	rc = dispatch(argc, argv);
	if (trace_path) {
		err = trace_close();
		if (err) {
			fprintf(stderr, "secmmu: %s: %s\n", trace_path, strerror(-err));
			if (rc == 0)
				rc = 1;
		}
	}
	return rc;
}
