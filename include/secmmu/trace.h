/* SPDX-License-Identifier: MIT */
/*
 * Tracing: a Chrome trace-event JSON file ({"traceEvents":[...]}) that
 * Perfetto (https://ui.perfetto.dev) and chrome://tracing open.
 *
 * Every thread that emits an event gets its own track; trace_thread_name()
 * names it (the script, a device's DMA engine, a fault worker, a vCPU ...).
 * Spans are "B"/"E" pairs on the calling thread and nest; counters ("C")
 * draw a value over time.
 *
 * COST WHEN OFF: tracing is disabled by default. Every trace_*() call below
 * is a macro or inline function that first tests one atomic bool with a
 * relaxed load (trace_enabled()); when tracing is off that single load is the
 * whole cost: the arguments are not even evaluated.
 *
 * Thread safety: any thread may emit at any time, also while another thread
 * opens or closes the trace; the writer is serialised by one mutex. Events of
 * one thread appear in the file in the order they were made, with
 * non-decreasing timestamps (microseconds since trace_open(), from
 * CLOCK_MONOTONIC).
 *
 * Arguments: the printf-style @fmt of a span builds its "args": the text is
 * split at blanks, each "key=value" word becomes a string argument "key",
 * anything else is gathered into "detail"; a "command=" word takes the whole
 * rest of the text as its value (blanks, quotes and '=' included), so it must
 * come last. @fmt may be NULL (no args).
 *
 *	trace_begin("mm", "handle_mm_fault", "addr=0x%lx write=%d", addr, write);
 *	...
 *	trace_end();
 *
 * or, for a function with many returns, one line that ends the span when the
 * enclosing block is left (however it is left):
 *
 *	TRACE_SCOPE("mm", "handle_mm_fault", "addr=0x%lx", addr);
 */
#ifndef SECMMU_TRACE_H
#define SECMMU_TRACE_H

#include "secmmu/compiler.h"
#include <stdbool.h>

SECMMU_BEGIN_DECLS

/* Set while a trace file is open. Read it through trace_enabled(). */
extern SECMMU_ATOMIC(bool) secmmu_trace_on;

/**
 * trace_enabled() - is a trace being written?
 *
 * One relaxed atomic load. Return: true between trace_open() and trace_close().
 */
static inline bool trace_enabled(void)
{
	return secmmu_atomic_load(&secmmu_trace_on, SECMMU_MO_RELAXED);
}

/**
 * trace_open() - start writing a trace to @path (created or truncated)
 *
 * Emits the process name and the names already given to live threads as they
 * next emit. Return: 0, -EBUSY (a trace is already open), or the negative
 * errno of fopen().
 */
int trace_open(const char *path);

/**
 * trace_close() - end every span still open (on every thread, at the current
 * time), finish the JSON and close the file
 *
 * The file is valid JSON afterwards whatever was left open. Events emitted
 * concurrently from other threads are either in the file or dropped. No-op
 * when no trace is open. Return: 0, or the negative errno of a write error.
 */
int trace_close(void);

/**
 * trace_set_logical_clock() - timestamps from a logical clock
 *
 * With @on, every event's timestamp is its sequence number in the file (one
 * microsecond per event) and the pid is 1, so two identical runs -- a
 * schedule replayed by the interleaving explorer, in a fresh process --
 * write byte-identical files. Set it before trace_open() (the pid is taken
 * there); off by default (CLOCK_MONOTONIC, the real pid).
 */
void trace_set_logical_clock(bool on);

/* Out-of-line halves of the macros below: call those instead. */
void __trace_begin(const char *cat, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void __trace_end(void);
void __trace_end_discard(void);
void __trace_counter(const char *name, long value);
void __trace_instant(const char *cat, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/**
 * trace_begin() - open a span on the calling thread
 * @cat:  category ("mm", "notifier", "mirror", "iommu", "sim" ...)
 * @name: the span's name (copied into the file at once)
 * @...:  a printf format (or NULL) and its arguments: the span's args
 *
 * Must be closed by trace_end() on the same thread; spans nest.
 */
#define trace_begin(cat, name, ...)                                                                \
	do {                                                                                       \
		if (trace_enabled())                                                               \
			__trace_begin(cat, name, __VA_ARGS__);                                     \
	} while (0)

/**
 * trace_end() - close the innermost span the calling thread opened in this
 * trace. Ignored if the thread has none open (e.g. the span began before
 * trace_open()).
 */
static inline void trace_end(void)
{
	if (trace_enabled())
		__trace_end();
}

/**
 * trace_end_discard() - close the innermost span as if it had never begun:
 * if nothing was written to the trace since its begin, the begin is taken
 * back; otherwise it ends as trace_end() ends it. For a span opened before
 * its caller knew whether it would count (a scenario line that turns out
 * malformed gets no span).
 */
static inline void trace_end_discard(void)
{
	if (trace_enabled())
		__trace_end_discard();
}

/**
 * trace_instant() - a zero-length event on the calling thread's track,
 * same arguments as trace_begin()
 */
#define trace_instant(cat, name, ...)                                                              \
	do {                                                                                       \
		if (trace_enabled())                                                               \
			__trace_instant(cat, name, __VA_ARGS__);                                   \
	} while (0)

/**
 * trace_counter() - the counter track @name now has @value
 *
 * Counters belong to the process, not to a thread.
 */
static inline void trace_counter(const char *name, long value)
{
	if (trace_enabled())
		__trace_counter(name, value);
}

/**
 * trace_thread_name() - name the calling thread's track (printf-style)
 *
 * Remembered by the thread even while tracing is off, and emitted into every
 * trace the thread later appears in. Call it at the top of a thread function
 * with the names the user gave the objects ("vcpu vm0", "iommu nic dma",
 * "mirror m0 dma"), never heap pointers or internal ids. Cheap; never fails
 * (a name is cut at 63 bytes).
 */
void trace_thread_name(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Implementation detail of TRACE_SCOPE. */
static inline void __trace_scope_end(bool *begun)
{
	if (*begun)
		trace_end();
}

#define __TRACE_CAT(a, b)  a##b
#define __TRACE_UNIQ(a, b) __TRACE_CAT(a, b)

/**
 * TRACE_SCOPE() - trace_begin() now, trace_end() when the enclosing block is
 * left by any path (return, break, goto, falling off its end)
 *
 * A declaration: put it at the top of a function or block. Same arguments
 * as trace_begin().
 */
#define TRACE_SCOPE(cat, name, ...)                                                                \
	bool __TRACE_UNIQ(__trace_scope_, __LINE__) __attribute__((cleanup(__trace_scope_end))) =  \
		trace_enabled() && (__trace_begin(cat, name, __VA_ARGS__), true)

/* Implementation detail of TRACE_END_AT_RETURN. */
static inline void __trace_end_at_return(bool *unused)
{
	(void)unused;
	trace_end();
}

/**
 * TRACE_END_AT_RETURN() - trace_end() when the enclosing block is left
 *
 * For a function that closes a span some other function opened (as
 * invalidate_range_end closes the one invalidate_range_start began), after
 * everything it does. A declaration, like TRACE_SCOPE().
 */
#define TRACE_END_AT_RETURN()                                                                      \
	bool __TRACE_UNIQ(__trace_end_, __LINE__)                                                  \
		__attribute__((cleanup(__trace_end_at_return))) = false

SECMMU_END_DECLS

#endif /* SECMMU_TRACE_H */
