/* SPDX-License-Identifier: MIT */
/*
 * harness.c - test runner for harness.h (see there for usage).
 */
#include "harness.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define HARNESS_SKIP_EXIT   77
#define HARNESS_OUTPUT_TAIL (64 * 1024)

struct harness_test {
	const char *name;
	harness_fn fn;
	const char *file;
	int line;
};

/* Shared between the runner and a forked test child. */
struct harness_shared {
	volatile int expect_crash;
	char skip_reason[256];
};

static struct harness_test tests[HARNESS_MAX_TESTS];
static int ntests;
static void (*teardown_fn)(void);
static struct harness_shared local_shared;
static struct harness_shared *shared = &local_shared;
static const char *current_test;

void harness_register(const char *name, harness_fn fn, const char *file, int line)
{
	if (ntests >= HARNESS_MAX_TESTS) {
		fprintf(stderr, "harness: too many tests (max %d), dropping %s\n",
			HARNESS_MAX_TESTS, name);
		return;
	}
	tests[ntests].name = name;
	tests[ntests].fn = fn;
	tests[ntests].file = file;
	tests[ntests].line = line;
	ntests++;
}

void harness_set_teardown(void (*fn)(void))
{
	teardown_fn = fn;
}

void harness_expect_crash(void)
{
	struct rlimit rl = {0, 0};

	shared->expect_crash = 1;
	/* The crash is intended: no core file. */
	setrlimit(RLIMIT_CORE, &rl);
}

const char *harness_current_test(void)
{
	return current_test;
}

static void harness_flush(void)
{
	fflush(stdout);
	fflush(stderr);
}

static void __attribute__((noreturn)) harness_die(void)
{
	harness_flush();
	_exit(1);
}

void harness_skip(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(shared->skip_reason, sizeof(shared->skip_reason), fmt, ap);
	va_end(ap);
	harness_flush();
	_exit(HARNESS_SKIP_EXIT);
}

void harness_fail_cond(const char *file, int line, const char *expr)
{
	fprintf(stderr, "%s:%d: ASSERT(%s) failed\n", file, line, expr);
	harness_die();
}

void harness_fail_int(const char *file, int line, const char *macro, const char *ea, const char *eb,
		      intmax_t a, intmax_t b)
{
	fprintf(stderr,
		"%s:%d: %s(%s, %s) failed\n"
		"    %s = %jd (0x%jx)\n"
		"    %s = %jd (0x%jx)\n",
		file, line, macro, ea, eb, ea, a, (uintmax_t)a, eb, b, (uintmax_t)b);
	harness_die();
}

void harness_fail_uint(const char *file, int line, const char *macro, const char *ea,
		       const char *eb, uintmax_t a, uintmax_t b)
{
	fprintf(stderr,
		"%s:%d: %s(%s, %s) failed\n"
		"    %s = %ju (0x%jx)\n"
		"    %s = %ju (0x%jx)\n",
		file, line, macro, ea, eb, ea, a, a, eb, b, b);
	harness_die();
}

void harness_fail_ptr(const char *file, int line, const char *macro, const char *ea, const char *eb,
		      uintptr_t a, uintptr_t b)
{
	bool unary = !strcmp(macro, "ASSERT_NULL") || !strcmp(macro, "ASSERT_NOT_NULL");

	if (unary) {
		fprintf(stderr, "%s:%d: %s(%s) failed\n    %s = %p\n", file, line, macro, ea, ea,
			(void *)a);
	} else {
		fprintf(stderr, "%s:%d: %s(%s, %s) failed\n    %s = %p\n    %s = %p\n", file, line,
			macro, ea, eb, ea, (void *)a, eb, (void *)b);
	}
	harness_die();
}

static void print_quoted(const char *label, const char *s)
{
	if (!s) {
		fprintf(stderr, "    %s = NULL\n", label);
		return;
	}
	fprintf(stderr, "    %s = \"", label);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(stderr, "\\%c", c);
		else if (c == '\n')
			fputs("\\n", stderr);
		else if (c == '\t')
			fputs("\\t", stderr);
		else if (c < 0x20 || c >= 0x7f)
			fprintf(stderr, "\\x%02x", c);
		else
			fputc(c, stderr);
	}
	fputs("\"\n", stderr);
}

int harness_str_eq(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return strcmp(a, b) == 0;
}

void harness_fail_str(const char *file, int line, const char *ea, const char *eb, const char *a,
		      const char *b)
{
	fprintf(stderr, "%s:%d: ASSERT_STR_EQ(%s, %s) failed\n", file, line, ea, eb);
	print_quoted(ea, a);
	print_quoted(eb, b);
	harness_die();
}

size_t harness_mem_diff(const void *a, const void *b, size_t len)
{
	const unsigned char *pa = a, *pb = b;
	size_t i;

	if (len == 0)
		return (size_t)-1;
	if (!pa || !pb)
		return pa == pb ? (size_t)-1 : 0;
	for (i = 0; i < len; i++)
		if (pa[i] != pb[i])
			return i;
	return (size_t)-1;
}

static void dump_bytes(const char *label, const unsigned char *p, size_t len, size_t off)
{
	size_t start = off >= 8 ? off - 8 : 0;
	size_t end = off + 8 < len ? off + 8 : len;
	size_t i;

	fprintf(stderr, "    %s [%zu..%zu):", label, start, end);
	for (i = start; i < end; i++)
		fprintf(stderr, i == off ? " [%02x]" : " %02x", p[i]);
	fputc('\n', stderr);
}

void harness_fail_mem(const char *file, int line, const char *ea, const char *eb, const void *a,
		      const void *b, size_t len, size_t off)
{
	fprintf(stderr,
		"%s:%d: ASSERT_MEM_EQ(%s, %s, %zu) failed: first difference at offset %zu\n", file,
		line, ea, eb, len, off);
	if (!a || !b) {
		fprintf(stderr, "    %s = %p\n    %s = %p\n", ea, a, eb, b);
	} else {
		dump_bytes(ea, a, len, off);
		dump_bytes(eb, b, len, off);
	}
	harness_die();
}

void harness_fail_msg(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s:%d: FAIL: ", file, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	harness_die();
}

/* ---- runner ---- */

static double now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void run_body(const struct harness_test *t)
{
	current_test = t->name;
	t->fn();
	if (teardown_fn)
		teardown_fn();
	current_test = NULL;
}

static void signal_name(int sig, char *buf, size_t len)
{
	const char *abbrev = sigabbrev_np(sig);

	if (abbrev)
		snprintf(buf, len, "SIG%s", abbrev);
	else
		snprintf(buf, len, "signal %d", sig);
}

static void print_output(int fd, bool always)
{
	static char buf[HARNESS_OUTPUT_TAIL + 1];
	off_t size = lseek(fd, 0, SEEK_END);
	off_t start = 0;
	ssize_t n, got = 0;
	char *line, *nl;

	if (size <= 0 || !always)
		return;
	if (size > HARNESS_OUTPUT_TAIL) {
		start = size - HARNESS_OUTPUT_TAIL;
		printf("# ... (%jd bytes of output omitted)\n", (intmax_t)start);
	}
	while (got < size - start) {
		n = pread(fd, buf + got, (size_t)(size - start - got), start + got);
		if (n <= 0)
			break;
		got += n;
	}
	buf[got] = '\0';
	for (line = buf; *line; line = nl + 1) {
		nl = strchr(line, '\n');
		if (!nl) {
			printf("# %s\n", line);
			break;
		}
		*nl = '\0';
		printf("# %s\n", line);
	}
}

/* Returns 1 if the test passed (or was skipped). */
static int run_forked(const struct harness_test *t, double timeout, bool verbose)
{
	char reason[512] = "";
	char tmpl[] = "/tmp/harness-out-XXXXXX";
	int status = 0, passed = 0, out;
	bool timed_out = false;
	sigset_t chld, old;
	double deadline;
	pid_t pid, r;

	shared->expect_crash = 0;
	shared->skip_reason[0] = '\0';

	out = mkstemp(tmpl);
	if (out < 0) {
		perror("harness: mkstemp");
		exit(2);
	}
	unlink(tmpl);

	harness_flush();
	/*
	 * The child's end is waited for, not polled: SIGCHLD stays pending
	 * (blocked) until sigtimedwait() takes it, or the deadline passes.
	 */
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, &old);
	pid = fork();
	if (pid < 0) {
		perror("harness: fork");
		exit(2);
	}
	if (pid == 0) {
		sigprocmask(SIG_SETMASK, &old, NULL);
		setpgid(0, 0);
		dup2(out, STDOUT_FILENO);
		dup2(out, STDERR_FILENO);
		close(out);
		setvbuf(stdout, NULL, _IOLBF, 0);
		setvbuf(stderr, NULL, _IONBF, 0);
		run_body(t);
		harness_flush();
		exit(0); /* run atexit handlers (and LeakSanitizer) */
	}
	setpgid(pid, pid);

	deadline = now_seconds() + timeout;
	for (;;) {
		r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			break;
		if (r < 0 && errno != EINTR) {
			perror("harness: waitpid");
			exit(2);
		}
		double left = deadline - now_seconds();

		if (left <= 0) {
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
			while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
				;
			timed_out = true;
			break;
		}
		/* Until a child changed state (then waitpid() above) or the deadline. */
		struct timespec ts = {(time_t)left, (long)((left - (time_t)left) * 1e9)};

		sigtimedwait(&chld, NULL, &ts);
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	/* Reap anything the test left behind in its process group. */
	kill(-pid, SIGKILL);

	if (timed_out) {
		snprintf(reason, sizeof(reason), "timeout after %gs", timeout);
	} else if (shared->expect_crash) {
		if (WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT) {
			passed = 1;
		} else if (WIFSIGNALED(status)) {
			char sig[32];

			signal_name(WTERMSIG(status), sig, sizeof(sig));
			snprintf(reason, sizeof(reason), "expected SIGABRT, killed by %s", sig);
		} else {
			snprintf(reason, sizeof(reason), "expected SIGABRT, exited with status %d",
				 WEXITSTATUS(status));
		}
	} else if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		passed = 1;
	} else if (WIFEXITED(status) && WEXITSTATUS(status) == HARNESS_SKIP_EXIT &&
		   shared->skip_reason[0]) {
		passed = 2;
	} else if (WIFEXITED(status)) {
		snprintf(reason, sizeof(reason), "exit status %d", WEXITSTATUS(status));
	} else if (WIFSIGNALED(status)) {
		char sig[32];

		signal_name(WTERMSIG(status), sig, sizeof(sig));
		snprintf(reason, sizeof(reason), "killed by %s (%s)", sig,
			 strsignal(WTERMSIG(status)));
	} else {
		snprintf(reason, sizeof(reason), "unknown wait status 0x%x", status);
	}

	if (passed == 1)
		printf("ok %s\n", t->name);
	else if (passed == 2)
		printf("ok %s # SKIP %s\n", t->name, shared->skip_reason);
	else
		printf("not ok %s (%s)\n", t->name, reason);
	print_output(out, verbose || !passed);
	close(out);
	harness_flush();
	return passed != 0;
}

static const struct harness_test *find_test(const char *name)
{
	int i;

	for (i = 0; i < ntests; i++)
		if (strcmp(tests[i].name, name) == 0)
			return &tests[i];
	return NULL;
}

static void usage(const char *argv0)
{
	fprintf(stderr,
		"usage: %s              run every test (forked, with a timeout)\n"
		"       %s NAME...      run the named tests in this process\n"
		"       %s --list       list the tests\n"
		"env: TEST_TIMEOUT=SECONDS (default 120), HARNESS_VERBOSE=1\n",
		argv0, argv0, argv0);
}

int main(int argc, char **argv)
{
	const char *env;
	double timeout = 120.0;
	bool verbose;
	int i, passed = 0, failed = 0;
	void *map;

	if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		usage(argv[0]);
		return 0;
	}
	if (argc > 1 && !strcmp(argv[1], "--list")) {
		for (i = 0; i < ntests; i++)
			printf("%s\n", tests[i].name);
		return 0;
	}

	if (argc > 1) {
		/* In-process: for gdb.  An assertion failure _exit(1)s. */
		for (i = 1; i < argc; i++) {
			if (!find_test(argv[i])) {
				fprintf(stderr, "%s: no test named '%s' (try --list)\n", argv[0],
					argv[i]);
				return 2;
			}
		}
		for (i = 1; i < argc; i++) {
			const struct harness_test *t = find_test(argv[i]);

			shared->expect_crash = 0;
			run_body(t);
			if (shared->expect_crash) {
				printf("not ok %s (expected SIGABRT, returned normally)\n",
				       t->name);
				failed++;
			} else {
				printf("ok %s\n", t->name);
				passed++;
			}
			harness_flush();
		}
		printf("%d passed, %d failed\n", passed, failed);
		return failed ? 1 : 0;
	}

	env = getenv("TEST_TIMEOUT");
	if (env && *env) {
		char *end;
		double v = strtod(env, &end);

		if (end != env && v > 0)
			timeout = v;
	}
	env = getenv("HARNESS_VERBOSE");
	verbose = env && *env && strcmp(env, "0");

	map = mmap(NULL, sizeof(struct harness_shared), PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (map == MAP_FAILED) {
		perror("harness: mmap");
		return 2;
	}
	shared = map;

	for (i = 0; i < ntests; i++) {
		if (run_forked(&tests[i], timeout, verbose))
			passed++;
		else
			failed++;
	}
	printf("%d passed, %d failed\n", passed, failed);
	harness_flush();
	return failed ? 1 : 0;
}
