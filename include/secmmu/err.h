/* SPDX-License-Identifier: MIT */
/* Error pointers and errno names, as <linux/err.h>. */
#ifndef SECMMU_ERR_H
#define SECMMU_ERR_H

#include "secmmu/compiler.h"
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>

SECMMU_BEGIN_DECLS

#define MAX_ERRNO 4095

static inline void *ERR_PTR(long error)
{
	return (void *)(intptr_t)error;
}

static inline long PTR_ERR(const void *ptr)
{
	return (long)(intptr_t)ptr;
}

static inline bool IS_ERR(const void *ptr)
{
	return (uintptr_t)ptr >= (uintptr_t)-MAX_ERRNO;
}

static inline bool IS_ERR_OR_NULL(const void *ptr)
{
	return !ptr || IS_ERR(ptr);
}

/**
 * errno_name() - the symbolic name of a negative (or positive) errno
 * @err: e.g. -EINVAL
 *
 * Return: "-EINVAL" for -EINVAL, "EINVAL" for EINVAL, "ok" for 0, and
 * "-E<number>" for an errno without a known name. Never NULL; static storage
 * for known names, a thread-local buffer otherwise.
 */
const char *errno_name(long err);

/**
 * errno_from_name() - parse "-EINVAL" / "EINVAL"
 * Return: the negative errno, or 0 if @name is not a known errno name.
 */
long errno_from_name(const char *name);

SECMMU_END_DECLS

#endif /* SECMMU_ERR_H */
