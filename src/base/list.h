/* SPDX-License-Identifier: MIT */
/*
 * base/list.h - the library's own view of the driver kit's list.h
 * (include/secmmu/kit/list.h, installed: out-of-tree drivers use the same
 * primitives).
 */
#ifndef SECMMU_BASE_LIST_H
#define SECMMU_BASE_LIST_H

#include "secmmu/kit/list.h"

#endif /* SECMMU_BASE_LIST_H */
