/* SPDX-License-Identifier: MIT */
/*
 * secmmu/version.h - the library's version.
 *
 * This file is the single source of the version: the Makefile reads
 * SECMMU_VERSION_STRING from it for the shared library's file name
 * (libsecmmu.so.MAJOR.MINOR.PATCH), its soname (libsecmmu.so.MAJOR) and
 * secmmu.pc. The soname's MAJOR changes exactly when the ABI breaks.
 *
 * SECMMU_VERSION_* describe the headers a program was compiled against;
 * secmmu_version() the library it runs with.
 */
#ifndef SECMMU_VERSION_H
#define SECMMU_VERSION_H

#include "secmmu/compiler.h"

#define SECMMU_VERSION_MAJOR  0
#define SECMMU_VERSION_MINOR  1
#define SECMMU_VERSION_PATCH  0
#define SECMMU_VERSION_STRING "0.1.0"
/* One comparable number: 0x00MMmmpp (e.g. #if SECMMU_VERSION_NUMBER >= 0x000100). */
#define SECMMU_VERSION_NUMBER                                                                      \
	((SECMMU_VERSION_MAJOR << 16) | (SECMMU_VERSION_MINOR << 8) | SECMMU_VERSION_PATCH)

SECMMU_BEGIN_DECLS

/**
 * secmmu_version() - the version of the library in use
 *
 * Return: "MAJOR.MINOR.PATCH" of the library the program is linked (or
 * loaded) with, a static string; compare with SECMMU_VERSION_STRING to see
 * whether it matches the headers. Never fails; any thread, any context.
 */
const char *secmmu_version(void);

SECMMU_END_DECLS

#endif /* SECMMU_VERSION_H */
