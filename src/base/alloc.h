/* SPDX-License-Identifier: MIT */
/*
 * base/alloc.h - the library's own view of the driver kit's alloc.h
 * (include/secmmu/kit/alloc.h, installed: out-of-tree drivers use the same
 * primitives).
 */
#ifndef SECMMU_BASE_ALLOC_H
#define SECMMU_BASE_ALLOC_H

#include "secmmu/kit/alloc.h"

#endif /* SECMMU_BASE_ALLOC_H */
