/* SPDX-License-Identifier: MIT */
/*
 * base/debug.h - the library's own view of the driver kit's debug.h
 * (include/secmmu/kit/debug.h, installed: out-of-tree drivers use the same
 * primitives).
 */
#ifndef SECMMU_BASE_DEBUG_H
#define SECMMU_BASE_DEBUG_H

#include "secmmu/kit/debug.h"

#endif /* SECMMU_BASE_DEBUG_H */
