/* SPDX-License-Identifier: MIT */
/*
 * base/wait.h - the library's own view of the driver kit's wait.h
 * (include/secmmu/kit/wait.h, installed: out-of-tree drivers use the same
 * primitives), plus what only src/base uses.
 */
#ifndef SECMMU_BASE_WAIT_H
#define SECMMU_BASE_WAIT_H

#include "secmmu/kit/wait.h"

#include "base/lock.h"
#include "base/sched_explore.h"

#endif /* SECMMU_BASE_WAIT_H */
