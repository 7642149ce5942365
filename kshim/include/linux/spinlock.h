/* SPDX-License-Identifier: MIT */
/* linux/spinlock.h for the kernel-notifier build: see kshim.h. */
#include "kshim.h"
