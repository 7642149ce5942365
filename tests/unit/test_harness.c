/* SPDX-License-Identifier: MIT */
/* Self-test of the test harness: every assertion that should pass, passes. */
#include "harness.h"

#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int teardown_ran;

static void check_teardown(void)
{
	/* Runs after the body of teardown_runs; fails the test if it did not see it. */
	if (harness_current_test() && !strcmp(harness_current_test(), "teardown_runs"))
		ASSERT_EQ(teardown_ran, 1);
}

TEST(assert_cond)
{
	ASSERT(1);
	ASSERT(2 + 2 == 4);
}

TEST(assert_int_compare)
{
	int a = -3;
	long b = 7;
	unsigned char c = 200;

	ASSERT_EQ(a, -3);
	ASSERT_NE(a, b);
	ASSERT_LT(a, b);
	ASSERT_LE(a, a);
	ASSERT_GT(c, b);
	ASSERT_GE(c, 200);
	ASSERT_EQ(INTMAX_MIN, INTMAX_MIN);
	ASSERT_LT(-1, 0u); /* compared as intmax_t, so -1 < 0 */
}

TEST(assert_uint_compare)
{
	uint64_t big = UINT64_MAX;

	ASSERT_UEQ(big, UINT64_MAX);
	ASSERT_UNE(big, 0);
	ASSERT_UGT(big, (uint64_t)INTMAX_MAX);
	ASSERT_UGE(big, big);
	ASSERT_ULT(1, big);
	ASSERT_ULE(0, 0);
}

TEST(assert_pointers)
{
	int x, y;
	int *p = &x;
	void *n = NULL;

	ASSERT_PTR_EQ(p, &x);
	ASSERT_PTR_NE(p, &y);
	ASSERT_NULL(n);
	ASSERT_NOT_NULL(p);
}

TEST(assert_strings)
{
	char buf[16];

	strcpy(buf, "secmmu");
	ASSERT_STR_EQ(buf, "secmmu");
	ASSERT_STR_EQ(NULL, NULL);
	ASSERT(!harness_str_eq("a", NULL));
	ASSERT(!harness_str_eq("a", "b"));
}

TEST(assert_memory)
{
	unsigned char a[64], b[64];

	memset(a, 0x5a, sizeof(a));
	memcpy(b, a, sizeof(b));
	ASSERT_MEM_EQ(a, b, sizeof(a));
	ASSERT_MEM_EQ(a, b, 0);
	b[17] ^= 1;
	ASSERT_UEQ(harness_mem_diff(a, b, sizeof(a)), 17);
	ASSERT_MEM_EQ(a, b, 17);
}

TEST(teardown_runs)
{
	harness_set_teardown(check_teardown);
	teardown_ran = 1;
}

TEST(expect_crash_abort)
{
	harness_expect_crash();
	abort();
}

TEST(expect_crash_raise)
{
	harness_expect_crash();
	raise(SIGABRT);
}

TEST(current_test_name)
{
	ASSERT_STR_EQ(harness_current_test(), "current_test_name");
}
