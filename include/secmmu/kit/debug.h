/* SPDX-License-Identifier: MIT */
/*
 * Debug switches and assertions.
 *
 * The debug switch is a `static const bool`, not an #ifdef, so debug-only code
 * always compiles and is merely dead in release builds (jemalloc's rule).
 */
#ifndef SECMMU_KIT_DEBUG_H
#define SECMMU_KIT_DEBUG_H

#include "secmmu/compiler.h"
#include "secmmu/kit/symbols.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

SECMMU_BEGIN_DECLS

#ifndef SECMMU_DEBUG
#define SECMMU_DEBUG 1
#endif

static const bool sm_debug = SECMMU_DEBUG;

/* Value written over freed structures in debug builds (cf. POISON_FREE). */
#define SM_POISON_BYTE 0x6b
/* Freed pointers are set to this so a use after free faults at once. */
#define SM_POISON_PTR ((void *)(uintptr_t)0xdead000000000100ull)

void sm_bug(const char *file, int line, const char *cond) __attribute__((noreturn));
void sm_warn(const char *file, int line, const char *cond);

/* Number of WARN_ON hits so far (tests assert on it). */
unsigned long sm_warn_count(void);

/*
 * A rule of the secondary-MMU contract was broken (a ->release called twice,
 * an _end without its _start, an empty invalidation ...): print it, count it
 * and remember the first message since the last reset, for `check`
 * (secmmu_rule_violations()). Carries on, like WARN. Any context; does not sleep.
 */
void sm_rule_broken(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A broken invariant: always fatal, in every build. */
#define BUG_ON(cond)                                                                               \
	do {                                                                                       \
		if (__builtin_expect(!!(cond), 0))                                                 \
			sm_bug(__FILE__, __LINE__, #cond);                                         \
	} while (0)

#define BUG() sm_bug(__FILE__, __LINE__, "BUG")

/* A suspicious condition: report, count, carry on. Evaluates to cond. */
#define WARN_ON(cond)                                                                              \
	({                                                                                         \
		bool __w = !!(cond);                                                               \
		if (__builtin_expect(__w, 0))                                                      \
			sm_warn(__FILE__, __LINE__, #cond);                                        \
		__w;                                                                               \
	})

#define WARN_ON_ONCE(cond)                                                                         \
	({                                                                                         \
		static _Atomic bool __warned;                                                      \
		bool __w = !!(cond);                                                               \
		if (__builtin_expect(__w, 0) && !__warned) {                                       \
			__warned = true;                                                           \
			sm_warn(__FILE__, __LINE__, #cond);                                        \
		}                                                                                  \
		__w;                                                                               \
	})

/* Checked only in debug builds, but always compiled. */
#define DEBUG_BUG_ON(cond)                                                                         \
	do {                                                                                       \
		if (sm_debug)                                                                      \
			BUG_ON(cond);                                                              \
	} while (0)

/* Poison a structure about to be freed (debug builds only). */
void sm_poison(void *p, size_t len);

/*
 * Reads that race with writers by design (KSM's checksum, as in Linux: the
 * result is rechecked after write-protection). ThreadSanitizer is told to
 * look away; other builds pay nothing.
 */
#if defined(__SANITIZE_THREAD__)
void __tsan_ignore_thread_begin(void);
void __tsan_ignore_thread_end(void);
#define racy_read_begin() __tsan_ignore_thread_begin()
#define racy_read_end()	  __tsan_ignore_thread_end()
#else
#define racy_read_begin()                                                                          \
	do {                                                                                       \
	} while (0)
#define racy_read_end()                                                                            \
	do {                                                                                       \
	} while (0)
#endif

#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define READ_ONCE(x)	 __atomic_load_n(&(x), __ATOMIC_RELAXED)
#define WRITE_ONCE(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELAXED)

SECMMU_END_DECLS

#endif /* SECMMU_KIT_DEBUG_H */
