/* SPDX-License-Identifier: MIT */
/* linux/mm_types.h for the kernel-notifier build: see kshim.h. */
#include "kshim.h"
