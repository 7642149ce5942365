// SPDX-License-Identifier: MIT
/*
 * secmmu - the command line: run scenarios, list and run the built-in ones,
 * narrate the demo, and explain the scenario commands.
 *
 * Exit statuses: 0 success, 1 a check failed (expectation, leak, demo
 * claim), 2 usage error or malformed scenario.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "secmmu/trace.h"
#include "sim/sim.h"

static const char usage_text[] =
	"usage: secmmu COMMAND [ARGS]\n"
	"\n"
	"  run FILE|-              run a scenario file (- reads standard input); prints\n"
	"                          'LINE: COMMAND -> RESULT' per command\n"
	"  demo                    narrate the built-in default world; exit 0 only if\n"
	"                          every check held\n"
	"  scenario list           list the built-in scenarios\n"
	"  scenario run NAME       run one built-in scenario\n"
	"  scenario run --all      run every built-in scenario, PASS/FAIL each\n"
	"  help [COMMAND]          this text, or the help of one scenario command\n"
	"  --help                  this text\n"
	"\n"
	"Options (with run, demo, scenario):\n"
	"  --trace FILE            write a Chrome trace-event JSON file (open it in\n"
	"                          https://ui.perfetto.dev or chrome://tracing)\n"
	"\n"
	"Long runs show a progress line on stderr when it is a terminal.\n"
	"\n"
	"Exit status: 0 ok, 1 an expectation failed or something leaked, 2 usage error\n"
	"or malformed scenario line. The scenario language: docs/scenarios.md.\n";

static int usage(FILE *f, int status)
{
	fputs(usage_text, f);
	return status;
}

static void print_command_line(const struct sim_cmd *cmd, void *arg)
{
	fprintf(arg, "  %-46s %s\n", cmd->usage, cmd->help);
}

static int do_help(int argc, char **argv)
{
	const struct sim_cmd *cmd;

	if (argc < 3) {
		usage(stdout, 0);
		printf("\nScenario commands (secmmu help COMMAND for one):\n");
		sim_cmd_for_each(print_command_line, stdout);
		return 0;
	}
	cmd = sim_cmd_find(argv[2]);
	if (!cmd) {
		fprintf(stderr, "secmmu: no scenario command '%s' (secmmu help lists them)\n",
			argv[2]);
		return 2;
	}
	printf("usage:   %s\n%s\nexample: %s\n", cmd->usage, cmd->help, cmd->example);
	return 0;
}

static int do_run(int argc, char **argv)
{
	FILE *in;
	int rc;

	if (argc != 3)
		return usage(stderr, 2);
	if (!strcmp(argv[2], "-"))
		return sim_run_stream(stdin, stdout);
	in = fopen(argv[2], "r");
	if (!in) {
		fprintf(stderr, "secmmu: %s: %s\n", argv[2], strerror(errno));
		return 2;
	}
	rc = sim_run_stream(in, stdout);
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

/* Print @text with every line indented (the output of a failed scenario). */
static void print_indented(const char *text)
{
	const char *p = text;

	while (*p) {
		const char *eol = strchr(p, '\n');
		int n = eol ? (int)(eol - p) : (int)strlen(p);

		printf("    %.*s\n", n, p);
		p += n + (eol ? 1 : 0);
	}
}

/* Run one built-in quietly; PASS, or FAIL followed by its whole output. */
static int scenario_run_quiet(const struct sim_builtin *b)
{
	char *text = NULL;
	size_t size = 0;
	FILE *out = open_memstream(&text, &size);
	int rc;

	if (!out) {
		printf("FAIL %s (out of memory)\n", b->name);
		return 1;
	}
	sim_progress_begin("%s", b->name);
	trace_begin("sim", "scenario", "name=%s", b->name);
	rc = sim_run_text(b->text, out);
	trace_end();
	sim_progress_end();
	fclose(out);
	sim_progress_erase(stdout);
	if (rc == SIM_EXIT_OK) {
		printf("PASS %s\n", b->name);
	} else {
		printf("FAIL %s (exit status %d)\n", b->name, rc);
		print_indented(text ? text : "");
	}
	free(text);
	fflush(stdout);
	return rc != SIM_EXIT_OK;
}

static int scenario_run_all(void)
{
	size_t failed = 0;

	sim_progress_begin("scenarios");
	for (size_t i = 0; i < sim_nr_builtins; i++) {
		sim_progress_update(i, sim_nr_builtins);
		failed += (size_t)scenario_run_quiet(&sim_builtins[i]);
	}
	sim_progress_end();
	printf("%zu scenarios, %zu passed, %zu failed\n", sim_nr_builtins, sim_nr_builtins - failed,
	       failed);
	return failed ? 1 : 0;
}

static int do_scenario(int argc, char **argv)
{
	const struct sim_builtin *b;

	if (argc == 3 && !strcmp(argv[2], "list"))
		return scenario_list();
	if (argc != 4 || strcmp(argv[2], "run"))
		return usage(stderr, 2);
	if (!strcmp(argv[3], "--all"))
		return scenario_run_all();
	b = find_builtin(argv[3]);
	if (!b) {
		fprintf(stderr, "secmmu: no built-in scenario '%s' (secmmu scenario list)\n",
			argv[3]);
		return 2;
	}
	return sim_run_text(b->text, stdout);
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

static int dispatch(int argc, char **argv)
{
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help"))
		return do_help(argc, argv);
	if (!strcmp(argv[1], "run"))
		return do_run(argc, argv);
	if (!strcmp(argv[1], "demo"))
		return argc == 2 ? sim_demo(stdout) : usage(stderr, 2);
	if (!strcmp(argv[1], "scenario"))
		return do_scenario(argc, argv);
	fprintf(stderr, "secmmu: unknown command '%s'\n", argv[1]);
	return usage(stderr, 2);
}

int main(int argc, char **argv)
{
	const char *trace_path;
	int rc, err;

	if (take_trace_option(&argc, argv, &trace_path)) {
		fprintf(stderr, "secmmu: --trace needs a FILE\n");
		return usage(stderr, 2);
	}
	if (argc < 2)
		return usage(stderr, 2);
	trace_thread_name("script");
	if (trace_path) {
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
