/* SPDX-License-Identifier: MIT */
/*
 * harness.h - a small libuv-style test framework.
 *
 *   #include "harness.h"
 *
 *   TEST(frames_come_back)
 *   {
 *           ASSERT_EQ(frame_count(), 0);
 *   }
 *
 * main() lives in harness.c.  A test binary:
 *
 *   BINARY            run every test, each in its own forked child, with a
 *                     timeout (TEST_TIMEOUT seconds, default 120; SIGKILL on
 *                     expiry).  Prints "ok NAME" or "not ok NAME (reason)"
 *                     per test, the captured output of a failing test as
 *                     "# ..." lines, then "N passed, N failed".  Exit 1 if
 *                     anything failed.
 *   BINARY NAME...    run just those tests, in-process (for gdb).
 *   BINARY --list     list the test names.
 *
 * Environment: TEST_TIMEOUT=SECONDS, HARNESS_VERBOSE=1 (show the output of
 * passing tests too).
 *
 * A failed assertion prints file:line, the expressions and both values, then
 * flushes and _exit(1)s (no abort(), so no core dump and no SIGABRT, which is
 * reserved for harness_expect_crash()).
 */
#ifndef SECMMU_TESTS_HARNESS_H
#define SECMMU_TESTS_HARNESS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define HARNESS_MAX_TESTS 1024

typedef void (*harness_fn)(void);

void harness_register(const char *name, harness_fn fn, const char *file, int line);

/*
 * Run @fn in the test process after the test body returns (not after a failed
 * assertion).  Call it from a test body or from a constructor at file scope
 * (then it applies to every test of the binary).  The last call wins; pass
 * NULL to remove.  Use it for leak checks ("all frames are back").
 */
void harness_set_teardown(void (*fn)(void));

/*
 * Declare that this test must end with its process killed by SIGABRT (e.g. a
 * lock-order inversion caught by an assertion that abort()s).  Death by
 * SIGABRT then counts as a pass; a normal exit, or any other signal, fails.
 */
void harness_expect_crash(void);

/* End the current test as skipped ("ok NAME # SKIP reason"). */
void harness_skip(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));

/* The name of the running test (NULL outside a test). */
const char *harness_current_test(void);

#define TEST(name)                                                                                 \
	static void harness_test_##name(void);                                                     \
	__attribute__((constructor)) static void harness_register_##name(void)                     \
	{                                                                                          \
		harness_register(#name, harness_test_##name, __FILE__, __LINE__);                  \
	}                                                                                          \
	static void harness_test_##name(void)

/* ---- failure reporting (called by the macros; never return) ---- */

void harness_fail_cond(const char *file, int line, const char *expr) __attribute__((noreturn));
void harness_fail_int(const char *file, int line, const char *macro, const char *ea, const char *eb,
		      intmax_t a, intmax_t b) __attribute__((noreturn));
void harness_fail_uint(const char *file, int line, const char *macro, const char *ea,
		       const char *eb, uintmax_t a, uintmax_t b) __attribute__((noreturn));
/* Pointers travel as uintptr_t so GCC's -Wmaybe-uninitialized does not fire on &local. */
void harness_fail_ptr(const char *file, int line, const char *macro, const char *ea, const char *eb,
		      uintptr_t a, uintptr_t b) __attribute__((noreturn));
void harness_fail_str(const char *file, int line, const char *ea, const char *eb, const char *a,
		      const char *b) __attribute__((noreturn));
void harness_fail_mem(const char *file, int line, const char *ea, const char *eb, const void *a,
		      const void *b, size_t len, size_t off) __attribute__((noreturn));
void harness_fail_msg(const char *file, int line, const char *fmt, ...)
	__attribute__((noreturn, format(printf, 3, 4)));

int harness_str_eq(const char *a, const char *b);
/* Offset of the first differing byte, or (size_t)-1 if equal. */
size_t harness_mem_diff(const void *a, const void *b, size_t len);

/* ---- assertions ---- */

#define ASSERT(cond)                                                                               \
	do {                                                                                       \
		if (!(cond))                                                                       \
			harness_fail_cond(__FILE__, __LINE__, #cond);                              \
	} while (0)

#define HARNESS_CMP_INT(macro, a, op, b)                                                           \
	do {                                                                                       \
		intmax_t harness_a_ = (intmax_t)(a);                                               \
		intmax_t harness_b_ = (intmax_t)(b);                                               \
		if (!(harness_a_ op harness_b_))                                                   \
			harness_fail_int(__FILE__, __LINE__, macro, #a, #b, harness_a_,            \
					 harness_b_);                                              \
	} while (0)

#define HARNESS_CMP_UINT(macro, a, op, b)                                                          \
	do {                                                                                       \
		uintmax_t harness_a_ = (uintmax_t)(a);                                             \
		uintmax_t harness_b_ = (uintmax_t)(b);                                             \
		if (!(harness_a_ op harness_b_))                                                   \
			harness_fail_uint(__FILE__, __LINE__, macro, #a, #b, harness_a_,           \
					  harness_b_);                                             \
	} while (0)

#define ASSERT_EQ(a, b) HARNESS_CMP_INT("ASSERT_EQ", a, ==, b)
#define ASSERT_NE(a, b) HARNESS_CMP_INT("ASSERT_NE", a, !=, b)
#define ASSERT_LT(a, b) HARNESS_CMP_INT("ASSERT_LT", a, <, b)
#define ASSERT_LE(a, b) HARNESS_CMP_INT("ASSERT_LE", a, <=, b)
#define ASSERT_GT(a, b) HARNESS_CMP_INT("ASSERT_GT", a, >, b)
#define ASSERT_GE(a, b) HARNESS_CMP_INT("ASSERT_GE", a, >=, b)

#define ASSERT_UEQ(a, b) HARNESS_CMP_UINT("ASSERT_UEQ", a, ==, b)
#define ASSERT_UNE(a, b) HARNESS_CMP_UINT("ASSERT_UNE", a, !=, b)
#define ASSERT_ULT(a, b) HARNESS_CMP_UINT("ASSERT_ULT", a, <, b)
#define ASSERT_ULE(a, b) HARNESS_CMP_UINT("ASSERT_ULE", a, <=, b)
#define ASSERT_UGT(a, b) HARNESS_CMP_UINT("ASSERT_UGT", a, >, b)
#define ASSERT_UGE(a, b) HARNESS_CMP_UINT("ASSERT_UGE", a, >=, b)

#define ASSERT_PTR_EQ(a, b)                                                                        \
	do {                                                                                       \
		uintptr_t harness_a_ = (uintptr_t)(const void *)(a);                               \
		uintptr_t harness_b_ = (uintptr_t)(const void *)(b);                               \
		if (harness_a_ != harness_b_)                                                      \
			harness_fail_ptr(__FILE__, __LINE__, "ASSERT_PTR_EQ", #a, #b, harness_a_,  \
					 harness_b_);                                              \
	} while (0)

#define ASSERT_PTR_NE(a, b)                                                                        \
	do {                                                                                       \
		uintptr_t harness_a_ = (uintptr_t)(const void *)(a);                               \
		uintptr_t harness_b_ = (uintptr_t)(const void *)(b);                               \
		if (harness_a_ == harness_b_)                                                      \
			harness_fail_ptr(__FILE__, __LINE__, "ASSERT_PTR_NE", #a, #b, harness_a_,  \
					 harness_b_);                                              \
	} while (0)

#define ASSERT_NULL(p)                                                                             \
	do {                                                                                       \
		uintptr_t harness_a_ = (uintptr_t)(const void *)(p);                               \
		if (harness_a_ != 0)                                                               \
			harness_fail_ptr(__FILE__, __LINE__, "ASSERT_NULL", #p, "NULL",            \
					 harness_a_, 0);                                           \
	} while (0)

#define ASSERT_NOT_NULL(p)                                                                         \
	do {                                                                                       \
		uintptr_t harness_a_ = (uintptr_t)(const void *)(p);                               \
		if (harness_a_ == 0)                                                               \
			harness_fail_ptr(__FILE__, __LINE__, "ASSERT_NOT_NULL", #p, "NULL",        \
					 harness_a_, 0);                                           \
	} while (0)

#define ASSERT_STR_EQ(a, b)                                                                        \
	do {                                                                                       \
		const char *harness_a_ = (a);                                                      \
		const char *harness_b_ = (b);                                                      \
		if (!harness_str_eq(harness_a_, harness_b_))                                       \
			harness_fail_str(__FILE__, __LINE__, #a, #b, harness_a_, harness_b_);      \
	} while (0)

#define ASSERT_MEM_EQ(a, b, len)                                                                   \
	do {                                                                                       \
		const void *harness_a_ = (a);                                                      \
		const void *harness_b_ = (b);                                                      \
		size_t harness_len_ = (size_t)(len);                                               \
		size_t harness_off_ = harness_mem_diff(harness_a_, harness_b_, harness_len_);      \
		if (harness_off_ != (size_t)-1)                                                    \
			harness_fail_mem(__FILE__, __LINE__, #a, #b, harness_a_, harness_b_,       \
					 harness_len_, harness_off_);                              \
	} while (0)

/* Unconditional failure with a printf-style message. */
#define FAIL(...) harness_fail_msg(__FILE__, __LINE__, __VA_ARGS__)

#ifdef __cplusplus
}
#endif

#endif /* SECMMU_TESTS_HARNESS_H */
