/* SPDX-License-Identifier: MIT */
/* linux/rcupdate.h for the kernel-notifier build: see kshim.h. */
#include "kshim.h"
