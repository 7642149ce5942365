/* SPDX-License-Identifier: MIT */
/* linux/stddef.h for the kernel-notifier build: see kshim.h. */
#include "kshim.h"
