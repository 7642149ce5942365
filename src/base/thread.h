/* SPDX-License-Identifier: MIT */
/*
 * base/thread.h - the library's own view of the driver kit's thread.h
 * (include/secmmu/kit/thread.h, installed: out-of-tree drivers use the same
 * primitives).
 */
#ifndef SECMMU_BASE_THREAD_H
#define SECMMU_BASE_THREAD_H

#include "secmmu/kit/thread.h"

#endif /* SECMMU_BASE_THREAD_H */
