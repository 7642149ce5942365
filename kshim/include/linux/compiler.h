/* SPDX-License-Identifier: MIT */
/* linux/compiler.h for the kernel-notifier build: see kshim.h. */
#include "kshim.h"
