// SPDX-License-Identifier: MIT
/*
 * The trace writer. See include/secmmu/trace.h.
 *
 * One mutex (trace_lock) serialises everything that touches the file: the
 * events are written straight into a stdio-buffered FILE as they come, so a
 * trace costs no memory however long it runs. Each thread has a small
 * thread-local identity (a track id that is never reused, unlike a kernel
 * tid, and the name it gave itself) and, per open trace, a struct
 * trace_thread on trace_threads that counts its open spans so that
 * trace_close() can end them and a stray trace_end() is ignored.
 *
 * A thread's trace_thread belongs to one trace (trace_session): after
 * trace_close() frees them all, a thread notices the new session number and
 * starts afresh.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "secmmu/trace.h"

#define TRACE_NAME_MAX 64
#define TRACE_ARGS_MAX 512

atomic_bool secmmu_trace_on;

struct trace_thread {
	struct trace_thread *next;
	int tid;
	int depth; /* spans open in this trace */
};

/*
 * Under trace_lock. A plain pthread mutex, not a ranked one (documented in
 * base/lock.h): the writer is a leaf taken under any lock, and it must stay
 * invisible to the interleaving explorer -- a traced run takes the schedule
 * of an untraced one.
 */
static pthread_mutex_t trace_lock = PTHREAD_MUTEX_INITIALIZER;
static FILE *trace_file;
static unsigned long trace_session; /* bumped by every trace_open() */
static struct trace_thread *trace_threads;
static struct timespec trace_t0;
static uint64_t trace_last_ns;
static bool trace_first;
static int trace_pid;
static uint64_t trace_tick;	  /* logical clock: events written */
static atomic_bool trace_logical; /* trace_set_logical_clock() */
static int trace_logical_tids;	  /* logical clock: tracks given out */

/*
 * The last event written, if it was a span's begin that may still be taken
 * back (trace_end_discard()): where it starts in the file and the writer's
 * state before it. Under trace_lock.
 */
static struct {
	bool valid;
	int tid;
	long pos;
	bool first;
	uint64_t tick, last_ns;
} trace_undo;

static atomic_int trace_next_tid = 1;

static _Thread_local int my_tid;
static _Thread_local char my_name[TRACE_NAME_MAX];
static _Thread_local struct trace_thread *my_thread;
static _Thread_local unsigned long my_session;

static int trace_tid(void)
{
	if (!my_tid)
		my_tid = atomic_fetch_add(&trace_next_tid, 1);
	return my_tid;
}

/* --- JSON output, under trace_lock ------------------------------------------ */

static void put_string(const char *s)
{
	FILE *f = trace_file;

	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p < 0x20 || *p >= 0x7f)
			fprintf(f, "\\u%04x", *p); /* bytes as Latin-1: always valid UTF-8 out */
		else
			fputc(*p, f);
	}
	fputc('"', f);
}

/* Microseconds since trace_open(), never decreasing in file order. */
static void put_ts(void)
{
	struct timespec now;
	uint64_t ns;

	if (atomic_load_explicit(&trace_logical, memory_order_relaxed)) {
		/* One microsecond per event: identical runs give identical files. */
		ns = ++trace_tick * 1000;
		fprintf(trace_file, ",\"ts\":%llu.000", (unsigned long long)(ns / 1000));
		return;
	}
	clock_gettime(CLOCK_MONOTONIC, &now);
	ns = (uint64_t)(now.tv_sec - trace_t0.tv_sec) * 1000000000ULL + (uint64_t)now.tv_nsec -
	     (uint64_t)trace_t0.tv_nsec;
	if (ns < trace_last_ns)
		ns = trace_last_ns;
	trace_last_ns = ns;
	fprintf(trace_file, ",\"ts\":%llu.%03llu", (unsigned long long)(ns / 1000),
		(unsigned long long)(ns % 1000));
}

/* Start an event object: {"ph":PH,"pid":..,"tid":.. */
static void put_head(char ph, int tid)
{
	trace_undo.valid = false; /* a new event: the last begin is no longer last */
	if (!trace_first)
		fputs(",\n", trace_file);
	trace_first = false;
	fprintf(trace_file, "{\"ph\":\"%c\",\"pid\":%d,\"tid\":%d", ph, trace_pid, tid);
}

static void put_thread_name(int tid, const char *name)
{
	put_head('M', tid);
	fputs(",\"name\":\"thread_name\",\"args\":{\"name\":", trace_file);
	put_string(name);
	fputs("}}", trace_file);
}

/*
 * ,"args":{...} from the formatted text: "key=value" words become string
 * arguments, the other words are joined into "detail"; "command=" takes the
 * rest of the text as one value.
 */
static void put_args(const char *text)
{
	char detail[TRACE_ARGS_MAX], word[TRACE_ARGS_MAX];
	const char *p = text;
	size_t dlen = 0;
	bool any = false;

	detail[0] = 0;
	fputs(",\"args\":{", trace_file);
	while (*p) {
		size_t n = strcspn(p, " ");
		size_t klen = strspn(
			p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_");

		if (klen == 7 && !strncmp(p, "command=", 8)) {
			/* "command=" takes the rest of the text, blanks and quotes included. */
			fputs(any ? "," : "", trace_file);
			put_string("command");
			fputc(':', trace_file);
			put_string(p + 8);
			any = true;
			break;
		}
		if (n && klen && klen < n && p[klen] == '=') {
			memcpy(word, p, klen);
			word[klen] = 0;
			fputs(any ? "," : "", trace_file);
			put_string(word);
			fputc(':', trace_file);
			memcpy(word, p + klen + 1, n - klen - 1);
			word[n - klen - 1] = 0;
			put_string(word);
			any = true;
		} else if (n && dlen + n + 2 < sizeof(detail)) {
			if (dlen)
				detail[dlen++] = ' ';
			memcpy(detail + dlen, p, n);
			dlen += n;
			detail[dlen] = 0;
		}
		p += n;
		p += strspn(p, " ");
	}
	if (dlen) {
		fputs(any ? "," : "", trace_file);
		fputs("\"detail\":", trace_file);
		put_string(detail);
	}
	fputc('}', trace_file);
}

/*
 * The calling thread's state in the open trace; created (and its name
 * emitted) on first use. Caller holds trace_lock and has checked trace_file.
 * NULL if @create is false and the thread has none, or on ENOMEM.
 */
static struct trace_thread *this_thread(bool create)
{
	struct trace_thread *t;

	if (my_thread && my_session == trace_session)
		return my_thread;
	if (!create)
		return NULL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	/* Logical: tracks numbered in order of first event, per trace. */
	t->tid = atomic_load(&trace_logical) ? ++trace_logical_tids : trace_tid();
	t->next = trace_threads;
	trace_threads = t;
	my_thread = t;
	my_session = trace_session;
	if (my_name[0])
		put_thread_name(t->tid, my_name);
	return t;
}

/* --- opening and closing ------------------------------------------------------ */

int trace_open(const char *path)
{
	FILE *f;

	pthread_mutex_lock(&trace_lock);
	if (trace_file) {
		pthread_mutex_unlock(&trace_lock);
		return -EBUSY;
	}
	f = fopen(path, "w");
	if (!f) {
		int err = -errno;

		pthread_mutex_unlock(&trace_lock);
		return err;
	}
	trace_file = f;
	trace_session++;
	trace_pid = atomic_load(&trace_logical) ? 1 : (int)getpid();
	trace_tick = 0;
	trace_logical_tids = 0;
	clock_gettime(CLOCK_MONOTONIC, &trace_t0);
	trace_last_ns = 0;
	trace_first = true;
	trace_undo.valid = false;
	fputs("{\"displayTimeUnit\":\"ms\",\"traceEvents\":[\n", f);
	put_head('M', 0);
	fputs(",\"name\":\"process_name\",\"args\":{\"name\":\"secmmu\"}}", f);
	atomic_store(&secmmu_trace_on, true);
	pthread_mutex_unlock(&trace_lock);
	return 0;
}

int trace_close(void)
{
	struct trace_thread *t, *next;
	int ret = 0;

	pthread_mutex_lock(&trace_lock);
	if (!trace_file) {
		pthread_mutex_unlock(&trace_lock);
		return 0;
	}
	atomic_store(&secmmu_trace_on, false);
	for (t = trace_threads; t; t = next) {
		next = t->next;
		while (t->depth > 0) {
			put_head('E', t->tid);
			put_ts();
			fputc('}', trace_file);
			t->depth--;
		}
		free(t);
	}
	trace_threads = NULL;
	fputs("\n]}\n", trace_file);
	/* A discarded span at the end left bytes beyond this point: cut them. */
	if (!fflush(trace_file)) {
		long end = ftell(trace_file);

		if (end >= 0 && ftruncate(fileno(trace_file), end) && errno != EINVAL)
			ret = -errno;
	}
	if (ferror(trace_file))
		ret = -EIO;
	if (fclose(trace_file) && !ret)
		ret = -errno;
	trace_file = NULL;
	pthread_mutex_unlock(&trace_lock);
	return ret;
}

/* --- events ------------------------------------------------------------------- */

static void emit_span(char ph, const char *cat, const char *name, const char *fmt, va_list ap)
{
	char text[TRACE_ARGS_MAX];
	struct trace_thread *t;

	if (fmt)
		vsnprintf(text, sizeof(text), fmt, ap);
	pthread_mutex_lock(&trace_lock);
	if (!trace_file)
		goto out;
	t = this_thread(true);
	if (!t)
		goto out;
	if (ph == 'B') {
		long pos = ftell(trace_file);
		bool first = trace_first;

		put_head(ph, t->tid);
		trace_undo.valid = pos >= 0;
		trace_undo.tid = t->tid;
		trace_undo.pos = pos;
		trace_undo.first = first;
		trace_undo.tick = trace_tick;
		trace_undo.last_ns = trace_last_ns;
	} else {
		put_head(ph, t->tid);
	}
	put_ts();
	fputs(",\"cat\":", trace_file);
	put_string(cat);
	fputs(",\"name\":", trace_file);
	put_string(name);
	if (ph == 'i')
		fputs(",\"s\":\"t\"", trace_file);
	if (fmt)
		put_args(text);
	fputc('}', trace_file);
	if (ph == 'B')
		t->depth++;
out:
	pthread_mutex_unlock(&trace_lock);
}

void __trace_begin(const char *cat, const char *name, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	emit_span('B', cat, name, fmt, ap);
	va_end(ap);
}

void __trace_instant(const char *cat, const char *name, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	emit_span('i', cat, name, fmt, ap);
	va_end(ap);
}

void __trace_end(void)
{
	struct trace_thread *t;

	pthread_mutex_lock(&trace_lock);
	if (trace_file && (t = this_thread(false)) && t->depth > 0) {
		t->depth--;
		put_head('E', t->tid);
		put_ts();
		fputc('}', trace_file);
	}
	pthread_mutex_unlock(&trace_lock);
}

void __trace_end_discard(void)
{
	struct trace_thread *t;

	pthread_mutex_lock(&trace_lock);
	if (trace_file && (t = this_thread(false)) && t->depth > 0) {
		t->depth--;
		if (trace_undo.valid && trace_undo.tid == t->tid &&
		    !fseek(trace_file, trace_undo.pos, SEEK_SET)) {
			/* Nothing since our begin: the span never was (the rest is cut at close).
			 */
			trace_first = trace_undo.first;
			trace_tick = trace_undo.tick;
			trace_last_ns = trace_undo.last_ns;
			trace_undo.valid = false;
		} else {
			put_head('E', t->tid);
			put_ts();
			fputc('}', trace_file);
		}
	}
	pthread_mutex_unlock(&trace_lock);
}

void __trace_counter(const char *name, long value)
{
	pthread_mutex_lock(&trace_lock);
	if (trace_file) {
		struct trace_thread *t = this_thread(true);

		put_head('C', t ? t->tid : trace_tid());
		put_ts();
		fputs(",\"name\":", trace_file);
		put_string(name);
		fprintf(trace_file, ",\"args\":{\"value\":%ld}}", value);
	}
	pthread_mutex_unlock(&trace_lock);
}

void trace_thread_name(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(my_name, sizeof(my_name), fmt, ap);
	va_end(ap);
	if (!trace_enabled())
		return;
	pthread_mutex_lock(&trace_lock);
	if (trace_file) {
		struct trace_thread *t = this_thread(false);

		if (t)
			put_thread_name(t->tid, my_name); /* a rename */
		else
			this_thread(true); /* emits the name */
	}
	pthread_mutex_unlock(&trace_lock);
}

void trace_set_logical_clock(bool on)
{
	atomic_store(&trace_logical, on);
}
