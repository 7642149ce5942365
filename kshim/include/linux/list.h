/* SPDX-License-Identifier: MIT */
/* linux/list.h for the kernel-notifier build: see kshim.h. */
#include "kshim.h"
