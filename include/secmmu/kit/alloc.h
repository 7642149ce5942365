/* SPDX-License-Identifier: MIT */
/*
 * Allocation of core objects, with fault injection.
 *
 * Every allocation a core or driver path can fail on goes through kzalloc(),
 * so that a test can make the Nth one fail (fault_inject_alloc()) and check
 * that the path returns -ENOMEM and leaves nothing behind.
 */
#ifndef SECMMU_KIT_ALLOC_H
#define SECMMU_KIT_ALLOC_H

#include "secmmu/compiler.h"
#include "secmmu/kit/symbols.h"

#include <stddef.h>

SECMMU_BEGIN_DECLS

/* Zeroed memory, or NULL (genuinely out of memory, or an injected failure). */
void *kzalloc(size_t size);
/* Zeroed array of @n elements of @size bytes, or NULL (also when n * size overflows). */
void *kcalloc(size_t n, size_t size);
/*
 * krealloc_array() - resize @p (NULL, or from kzalloc()/kcalloc()/
 * krealloc_array()) to @n elements of @size bytes, keeping its contents; the
 * new tail is NOT zeroed. Return: the new array, or NULL (out of memory, an
 * injected failure, or n * size overflows) with @p untouched and still the
 * caller's.
 */
void *krealloc_array(void *p, size_t n, size_t size);
/* Free; poisons @size bytes first in debug builds when @size is known. */
void kfree(void *p);
void kfree_sized(void *p, size_t size);

/**
 * fault_inject_alloc() - make the @nth kzalloc() from now fail (1 = the next
 * one), on any thread; 0 disarms. Failures are counted in
 * fault_inject_alloc_hits().
 */
void fault_inject_alloc(unsigned long nth);
unsigned long fault_inject_alloc_hits(void);
/* Number of kzalloc() calls so far (to size a walk over every site). */
unsigned long kzalloc_calls(void);
/* Allocations not yet freed (leak checks). */
long kzalloc_live(void);

SECMMU_END_DECLS

#endif /* SECMMU_KIT_ALLOC_H */
