// SPDX-License-Identifier: MIT
/*
 * Tracing (include/secmmu/trace.h): a small workload traced to a file, then
 * the file checked by a tiny JSON sanity checker written here: brackets and
 * braces balance outside strings, every "B" has its "E" on the same thread,
 * timestamps never go back on a thread, and the events the instrumentation
 * promises are there.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "base/thread.h"
#include "base/wait.h"
#include "secmmu/mirror.h"
#include "secmmu/swap.h"
#include "secmmu/trace.h"
#include "testutil.h"

#define MAX_TIDS 64

struct trace_summary {
	int events;
	int begins, ends, counters, metadata;
	int depth[MAX_TIDS]; /* open spans per tid at the end */
	double last_ts[MAX_TIDS];
	char *names; /* every "name" (spans, counters, thread names), '\n'-separated */
	size_t names_len;
};

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf;
	long size;

	ASSERT_NOT_NULL(f);
	ASSERT_EQ(fseek(f, 0, SEEK_END), 0);
	size = ftell(f);
	ASSERT_GE(size, 0);
	rewind(f);
	buf = malloc((size_t)size + 1);
	ASSERT_NOT_NULL(buf);
	ASSERT_UEQ(fread(buf, 1, (size_t)size, f), (size_t)size);
	buf[size] = 0;
	fclose(f);
	return buf;
}

/* The string value of "@key": in [obj, end), copied to @out; false if absent. */
static bool field_str(const char *obj, const char *end, const char *key, char *out, size_t size)
{
	char pat[64];
	const char *p;
	size_t n = 0;

	snprintf(pat, sizeof(pat), "\"%s\":\"", key);
	p = strstr(obj, pat);
	if (!p || p >= end)
		return false;
	for (p += strlen(pat); p < end && *p != '"'; p++) {
		if (*p == '\\')
			p++;
		if (n + 1 < size)
			out[n++] = *p;
	}
	out[n] = 0;
	return true;
}

/* The numeric value of "@key": in [obj, end). */
static bool field_num(const char *obj, const char *end, const char *key, double *v)
{
	char pat[64];
	const char *p;

	snprintf(pat, sizeof(pat), "\"%s\":", key);
	p = strstr(obj, pat);
	if (!p || p >= end)
		return false;
	*v = strtod(p + strlen(pat), NULL);
	return true;
}

static void add_name(struct trace_summary *s, const char *name)
{
	size_t n = strlen(name);

	s->names = realloc(s->names, s->names_len + n + 2);
	ASSERT_NOT_NULL(s->names);
	memcpy(s->names + s->names_len, name, n);
	s->names_len += n;
	s->names[s->names_len++] = '\n';
	s->names[s->names_len] = 0;
}

static bool has_name(const struct trace_summary *s, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = s->names; p && *p;) {
		const char *eol = strchr(p, '\n');

		if ((size_t)(eol - p) == n && !strncmp(p, name, n))
			return true;
		p = eol + 1;
	}
	return false;
}

static bool has_name_prefix(const struct trace_summary *s, const char *prefix)
{
	for (const char *p = s->names; p && *p; p = strchr(p, '\n') + 1)
		if (!strncmp(p, prefix, strlen(prefix)))
			return true;
	return false;
}

/* One event object [obj, end]: tally it. */
static void check_event(struct trace_summary *s, const char *obj, const char *end)
{
	char ph[4], name[128];
	double tid, ts;

	ASSERT(field_str(obj, end, "ph", ph, sizeof(ph)));
	ASSERT(field_num(obj, end, "tid", &tid));
	ASSERT(tid >= 0 && tid < MAX_TIDS);
	s->events++;
	if (ph[0] == 'M') {
		s->metadata++;
		ASSERT(field_str(obj, end, "name", name, sizeof(name)));
		if (!strcmp(name, "thread_name")) {
			const char *args = strstr(obj, "\"args\":");

			ASSERT(args && args < end);
			ASSERT(field_str(args, end, "name", name, sizeof(name)));
			add_name(s, name);
		}
		return;
	}
	ASSERT(field_num(obj, end, "ts", &ts));
	ASSERT(ts >= s->last_ts[(int)tid]);
	s->last_ts[(int)tid] = ts;
	switch (ph[0]) {
	case 'B':
		s->begins++;
		s->depth[(int)tid]++;
		break;
	case 'E':
		s->ends++;
		ASSERT_GT(s->depth[(int)tid], 0); /* an E only after its B */
		s->depth[(int)tid]--;
		return;
	case 'C':
		s->counters++;
		break;
	case 'i':
		break;
	default:
		ASSERT(!"unexpected phase");
	}
	ASSERT(field_str(obj, end, "name", name, sizeof(name)));
	add_name(s, name);
}

/*
 * The sanity checker: {"...":..., "traceEvents":[ {event}, ... ]} with
 * balanced brackets outside strings; each object at depth 2 is an event.
 */
static void check_trace_file(const char *path, struct trace_summary *s)
{
	char *text = read_file(path);
	char stack[16];
	int depth = 0;
	bool in_string = false;
	const char *obj = NULL;

	memset(s, 0, sizeof(*s));
	ASSERT(strstr(text, "\"traceEvents\":[") != NULL);
	for (const char *p = text; *p; p++) {
		if (in_string) {
			ASSERT((unsigned char)*p >= 0x20); /* control characters are escaped */
			if (*p == '\\')
				p++;
			else if (*p == '"')
				in_string = false;
			continue;
		}
		switch (*p) {
		case '"':
			in_string = true;
			break;
		case '{':
		case '[':
			ASSERT_LT(depth, (int)sizeof(stack));
			if (depth == 2 && *p == '{')
				obj = p;
			stack[depth++] = *p;
			break;
		case '}':
		case ']':
			ASSERT_GT(depth, 0);
			ASSERT_EQ(stack[--depth], *p == '}' ? '{' : '[');
			if (depth == 2 && *p == '}') {
				check_event(s, obj, p);
				obj = NULL;
			}
			break;
		default:
			break;
		}
	}
	ASSERT(!in_string);
	ASSERT_EQ(depth, 0);
	for (int i = 0; i < MAX_TIDS; i++)
		ASSERT_EQ(s->depth[i], 0); /* every B has its E */
	ASSERT_EQ(s->begins, s->ends);
	free(text);
}

static void trace_path(char *buf, size_t size, const char *what)
{
	const char *dir = getenv("TMPDIR");

	snprintf(buf, size, "%s/secmmu-test-trace-%d-%s.json", dir ? dir : "/tmp", (int)getpid(),
		 what);
}

TEST(trace_off_by_default_and_cheap_calls_are_noops)
{
	ASSERT(!trace_enabled());
	trace_begin("test", "nothing", "x=%d", 1);
	trace_end();
	trace_counter("nothing", 1);
	trace_thread_name("test main");
	ASSERT_EQ(trace_close(), 0); /* nothing open */
}

TEST(trace_open_twice_is_busy_and_bad_path_fails)
{
	char path[256];
	struct trace_summary s;

	trace_path(path, sizeof(path), "busy");
	ASSERT_EQ(trace_open("/nonexistent-dir/secmmu/trace.json"), -ENOENT);
	ASSERT_EQ(trace_open(path), 0);
	ASSERT(trace_enabled());
	ASSERT_EQ(trace_open(path), -EBUSY);
	trace_end(); /* stray: nothing open on this thread */
	/* Names and args with characters JSON must escape. */
	trace_thread_name("quote\" back\\slash\ttab");
	trace_begin("test", "we\"ird", "k=v\"1 free text \x01 more");
	trace_instant("test", "instant", NULL);
	trace_begin("test", "left open", NULL); /* trace_close() ends them */
	ASSERT_EQ(trace_close(), 0);
	ASSERT(!trace_enabled());
	trace_end(); /* after close: ignored */
	trace_end();
	check_trace_file(path, &s);
	ASSERT(has_name_prefix(&s, "quote\" back\\slash"));
	ASSERT(has_name(&s, "left open"));
	ASSERT_EQ(s.begins, 2);
	free(s.names);
	unlink(path);
}

/* A scenario command is one "command" argument: quoted data makes no fake keys. */
TEST(trace_command_argument_keeps_the_whole_command)
{
	char path[256], *text;
	FILE *f;
	long n;

	trace_path(path, sizeof(path), "command");
	ASSERT_EQ(trace_open(path), 0);
	trace_begin("sim", "write", "line=%d command=%s", 3, "write p 0x10 \"a b=c\" x=y");
	trace_end();
	ASSERT_EQ(trace_close(), 0);
	f = fopen(path, "r");
	ASSERT_NOT_NULL(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	text = calloc(1, (size_t)n + 1);
	ASSERT_NOT_NULL(text);
	ASSERT_EQ((long)fread(text, 1, (size_t)n, f), n);
	fclose(f);
	if (!strstr(text,
		    "\"args\":{\"line\":\"3\",\"command\":\"write p 0x10 \\\"a b=c\\\" x=y\"}"))
		FAIL("no whole command argument in %s", text);
	ASSERT(!strstr(text, "\"b\":"));
	ASSERT(!strstr(text, "\"x\":"));
	free(text);
	unlink(path);
}

TEST(trace_workload_has_the_promised_events)
{
	struct trace_summary s;
	struct mm_struct *mm, *child;
	struct mirror *m;
	char path[256], buf[8];

	MM_TEST_SETUP();
	ASSERT_EQ(swap_on(1 << 20, NULL), 0);
	trace_path(path, sizeof(path), "workload");
	trace_thread_name("test script");
	ASSERT_EQ(trace_open(path), 0);

	trace_begin("test", "workload", "pages=%d", 4);
	mm = mm_alloc();
	ASSERT_NOT_NULL(mm);
	ASSERT_EQ(mm_mmap(mm, TBASE, PG(4), PROT_RW, MAP_PRIVATE, NULL, 0), (long)TBASE);
	m = mirror_create(mm, 0);
	ASSERT(!IS_ERR(m));
	ASSERT_EQ(mm_write(mm, TBASE, "abc", 3), 0);
	ASSERT_EQ(mirror_read(m, TBASE, buf, 3), 0);
	ASSERT_MEM_EQ(buf, "abc", 3);
	/* page-out and swap-in */
	ASSERT_EQ(mm_madvise(mm, TBASE, PG(4), MADV_PAGEOUT), 0);
	ASSERT_UGT(swap_slots_used(), 0);
	ASSERT_EQ(mm_read(mm, TBASE, buf, 3), 0);
	ASSERT_MEM_EQ(buf, "abc", 3);
	/* fork + COW, then the child's exit releases its mm */
	child = dup_mm(mm);
	ASSERT(!IS_ERR_OR_NULL(child));
	ASSERT_EQ(mirror_write(m, TBASE, "xyz", 3), 0);
	trace_counter("test counter", 42);
	mmput(child);
	mirror_destroy(m);
	mmput(mm);
	trace_end();

	ASSERT_EQ(trace_close(), 0);
	ASSERT_EQ(swap_off(), 0);
	check_trace_file(path, &s);
	ASSERT(has_name(&s, "test script"));
	ASSERT(has_name_prefix(&s, "mirror dma"));
	ASSERT(has_name(&s, "workload"));
	ASSERT(has_name(&s, "invalidate_range"));
	ASSERT(has_name(&s, "handle_mm_fault"));
	ASSERT(has_name(&s, "pageout"));
	ASSERT(has_name(&s, "do_swap_page"));
	ASSERT(has_name(&s, "device_fault"));
	ASSERT(has_name(&s, "dma_read"));
	ASSERT(has_name(&s, "dma_write"));
	ASSERT(has_name(&s, "mmu_notifier_release"));
	ASSERT(has_name(&s, "test counter"));
	ASSERT_GE(s.counters, 1);
	free(s.names);
	unlink(path);
}

/* Many threads emit nested spans while the main thread closes the trace. */
static void *emitter(void *arg)
{
	long id = (long)arg;

	trace_thread_name("emitter %ld", id);
	for (int i = 0; i < 2000; i++) {
		trace_begin("test", "outer", "i=%d", i);
		trace_begin("test", "inner", NULL);
		trace_counter("emitted", i);
		trace_end();
		trace_end();
	}
	trace_begin("test", "never ended", NULL);
	return NULL;
}

TEST(trace_close_races_with_emitting_threads)
{
	struct trace_summary s;
	struct sm_thread th[4];
	char path[256];

	trace_path(path, sizeof(path), "race");
	ASSERT_EQ(trace_open(path), 0);
	for (long i = 0; i < 4; i++)
		ASSERT_EQ(sm_thread_create(&th[i], emitter, (void *)i, "emitter %ld", i), 0);
	sm_delay_us(2000); /* let them get going: the close races with emitting */
	ASSERT_EQ(trace_close(), 0);
	for (int i = 0; i < 4; i++)
		sm_thread_join(&th[i]);
	check_trace_file(path, &s);
	free(s.names);
	unlink(path);
}
