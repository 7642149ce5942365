/* SPDX-License-Identifier: MIT */
/*
 * base/bugs.h - the bug museum's switches: the driver kit's
 * include/secmmu/kit/bugs.h (drivers carry some of them).
 */
#ifndef SECMMU_BASE_BUGS_H
#define SECMMU_BASE_BUGS_H

#include "secmmu/kit/bugs.h"

#endif /* SECMMU_BASE_BUGS_H */
