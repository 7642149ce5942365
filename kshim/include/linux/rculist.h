/* SPDX-License-Identifier: MIT */
/* linux/rculist.h for the kernel-notifier build: see kshim.h. */
#include "kshim.h"
