/* SPDX-License-Identifier: MIT */
/* linux/sched/mm.h for the kernel-notifier build: see kshim.h. */
#include "kshim.h"
