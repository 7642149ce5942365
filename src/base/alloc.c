// SPDX-License-Identifier: MIT
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#include "base/alloc.h"
#include "base/debug.h"

static atomic_ulong fail_countdown;
static atomic_ulong fail_hits;
static atomic_ulong calls;
static atomic_long live;

void fault_inject_alloc(unsigned long nth)
{
	atomic_store(&fail_countdown, nth);
}

unsigned long fault_inject_alloc_hits(void)
{
	return atomic_load(&fail_hits);
}

unsigned long kzalloc_calls(void)
{
	return atomic_load(&calls);
}

long kzalloc_live(void)
{
	return atomic_load(&live);
}

static bool should_fail(void)
{
	unsigned long c = atomic_load(&fail_countdown);

	while (c) {
		if (atomic_compare_exchange_weak(&fail_countdown, &c, c - 1)) {
			if (c == 1) {
				atomic_fetch_add(&fail_hits, 1);
				return true;
			}
			return false;
		}
	}
	return false;
}

void *kzalloc(size_t size)
{
	void *p;

	atomic_fetch_add(&calls, 1);
	if (should_fail())
		return NULL;
	p = calloc(1, size ? size : 1);
	if (p)
		atomic_fetch_add(&live, 1);
	return p;
}

void *kcalloc(size_t n, size_t size)
{
	if (size && n > SIZE_MAX / size)
		return NULL;
	return kzalloc(n * size);
}

void *krealloc_array(void *p, size_t n, size_t size)
{
	void *q;

	if (size && n > SIZE_MAX / size)
		return NULL;
	atomic_fetch_add(&calls, 1);
	if (should_fail())
		return NULL;
	q = realloc(p, n && size ? n * size : 1);
	if (q && !p)
		atomic_fetch_add(&live, 1);
	return q;
}

void kfree(void *p)
{
	if (!p)
		return;
	atomic_fetch_sub(&live, 1);
	free(p);
}

void kfree_sized(void *p, size_t size)
{
	if (!p)
		return;
	sm_poison(p, size);
	kfree(p);
}
