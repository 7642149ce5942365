/* SPDX-License-Identifier: MIT */
/* linux/sched.h for the kernel-notifier build: see kshim.h. */
#include "kshim.h"
