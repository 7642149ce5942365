// SPDX-License-Identifier: MIT
/*
 * Progress of long runs: one line on stderr, rewritten in place with '\r',
 * only when stderr is a terminal, only once the work has taken a while
 * (PROGRESS_DELAY_NS) and at most every PROGRESS_PERIOD_NS. When stderr is
 * not a terminal nothing is ever written, so logs and pipes stay clean.
 *
 * Levels nest (at most PROGRESS_LEVELS): `scenario run --all` opens one for
 * the whole run, one per scenario, the runner one per command, and the
 * command's handler reports its counts into the innermost with
 * sim_progress_update(). The line shows every level, outermost first.
 * Whoever prints while a level is open calls sim_progress_erase(its FILE)
 * first (the runner does, before each output line): if that goes to a
 * terminal the line is erased, and it comes back at the next update.
 *
 * SECMMU_PROGRESS=0 turns the line off, SECMMU_PROGRESS=1 forces it on even
 * if stderr is not a terminal (for testing this file).
 *
 * Script thread only: not thread-safe, and need not be.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sim/sim.h"

#define PROGRESS_LEVELS	   4
#define PROGRESS_LABEL_MAX 80
#define PROGRESS_DELAY_NS  300000000ULL /* nothing for work shorter than this */
#define PROGRESS_PERIOD_NS 100000000ULL /* redraw at most 10 times a second */

struct progress_level {
	char label[PROGRESS_LABEL_MAX];
	uint64_t done, total;
};

static struct {
	int enabled; /* -1 not decided yet, 0 off, 1 on */
	int depth;
	bool shown; /* a line is on the terminal */
	uint64_t start_ns, last_ns;
	struct progress_level level[PROGRESS_LEVELS];
} pr = {.enabled = -1};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static bool progress_enabled(void)
{
	if (pr.enabled < 0) {
		const char *env = getenv("SECMMU_PROGRESS");

		if (env && (env[0] == '0' || env[0] == '1'))
			pr.enabled = env[0] == '1';
		else
			pr.enabled = isatty(STDERR_FILENO) == 1;
	}
	return pr.enabled;
}

void sim_progress_erase(FILE *out)
{
	if (!pr.shown)
		return;
	if (out && (fileno(out) < 0 || !isatty(fileno(out))))
		return; /* the output does not go to the terminal: the line may stay */
	fputs("\r\033[K", stderr);
	fflush(stderr);
	pr.shown = false;
}

static void progress_draw(uint64_t now)
{
	char line[256];
	size_t len = 0;
	double secs = (double)(now - pr.start_ns) / 1e9;

	for (int i = 0; i < pr.depth && len < sizeof(line); i++) {
		const struct progress_level *l = &pr.level[i];
		int n;

		if (l->total)
			n = snprintf(line + len, sizeof(line) - len, "%s%s %llu/%llu (%d%%)",
				     i ? " | " : "", l->label, (unsigned long long)l->done,
				     (unsigned long long)l->total, (int)(l->done * 100 / l->total));
		else if (l->done)
			n = snprintf(line + len, sizeof(line) - len, "%s%s %llu", i ? " | " : "",
				     l->label, (unsigned long long)l->done);
		else
			n = snprintf(line + len, sizeof(line) - len, "%s%s", i ? " | " : "",
				     l->label);
		if (n < 0)
			break;
		len += (size_t)n;
	}
	if (len >= sizeof(line))
		len = sizeof(line) - 1;
	/* Keep it on one line of a narrow terminal. */
	if (len > 100)
		len = 100;
	fprintf(stderr, "\r\033[K%.*s [%.1fs]", (int)len, line, secs);
	fflush(stderr);
	pr.shown = true;
	pr.last_ns = now;
}

/* Redraw if the work has lasted long enough and the line is due. */
static void progress_tick(void)
{
	uint64_t now;

	if (!pr.depth || !progress_enabled())
		return;
	now = now_ns();
	if (now - pr.start_ns < PROGRESS_DELAY_NS)
		return;
	if (now - pr.last_ns < PROGRESS_PERIOD_NS)
		return;
	progress_draw(now);
}

void sim_progress_begin(const char *fmt, ...)
{
	struct progress_level *l;
	va_list ap;

	if (pr.depth == 0)
		pr.start_ns = now_ns();
	if (pr.depth >= PROGRESS_LEVELS) {
		pr.depth++; /* too deep: counted, not shown */
		return;
	}
	l = &pr.level[pr.depth++];
	va_start(ap, fmt);
	vsnprintf(l->label, sizeof(l->label), fmt, ap);
	va_end(ap);
	l->done = l->total = 0;
}

void sim_progress_update(uint64_t done, uint64_t total)
{
	if (!pr.depth)
		return;
	if (pr.depth <= PROGRESS_LEVELS) {
		pr.level[pr.depth - 1].done = done;
		pr.level[pr.depth - 1].total = total;
	}
	progress_tick();
}

void sim_progress_end(void)
{
	if (!pr.depth)
		return;
	if (--pr.depth == 0)
		sim_progress_erase(NULL);
}
