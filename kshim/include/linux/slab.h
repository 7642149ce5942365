/* SPDX-License-Identifier: MIT */
/* linux/slab.h for the kernel-notifier build: see kshim.h. */
#include "kshim.h"
