// SPDX-License-Identifier: MIT
#include <stdarg.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "base/debug.h"
#include "secmmu/check.h"

static atomic_ulong warn_count;
static atomic_ulong rule_count;
static atomic_bool rule_first_taken;
static char rule_first[256]; /* written once, by the taker of rule_first_taken */
static atomic_bool rule_first_ready;

void sm_bug(const char *file, int line, const char *cond)
{
	fprintf(stderr, "secmmu: BUG at %s:%d: %s\n", file, line, cond);
	fflush(stderr);
	abort();
}

void sm_warn(const char *file, int line, const char *cond)
{
	atomic_fetch_add(&warn_count, 1);
	fprintf(stderr, "secmmu: WARNING at %s:%d: %s\n", file, line, cond);
}

unsigned long sm_warn_count(void)
{
	return atomic_load(&warn_count);
}

void sm_rule_broken(const char *fmt, ...)
{
	char msg[sizeof(rule_first)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "secmmu: rule broken: %s\n", msg);
	if (!atomic_exchange(&rule_first_taken, true)) {
		memcpy(rule_first, msg, sizeof(msg));
		/* Pairs with the acquire load in secmmu_rule_violations(). */
		atomic_store_explicit(&rule_first_ready, true, memory_order_release);
	}
	atomic_fetch_add(&rule_count, 1);
}

unsigned long secmmu_rule_violations(char *first, unsigned long len)
{
	unsigned long n = atomic_load(&rule_count);

	if (first && len) {
		first[0] = 0;
		if (atomic_load_explicit(&rule_first_ready, memory_order_acquire))
			snprintf(first, len, "%s", rule_first);
	}
	return n;
}

void secmmu_rule_violations_forget_first(void)
{
	atomic_store(&rule_first_ready, false);
	atomic_store(&rule_first_taken, false);
}

void sm_poison(void *p, size_t len)
{
	if (sm_debug && p)
		memset(p, SM_POISON_BYTE, len);
}
