// SPDX-License-Identifier: MIT
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "base/debug.h"

static atomic_ulong warn_count;

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

void sm_poison(void *p, size_t len)
{
	if (sm_debug && p)
		memset(p, SM_POISON_BYTE, len);
}
