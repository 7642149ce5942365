/* SPDX-License-Identifier: MIT */
/* linux/err.h for the kernel-notifier build: see kshim.h. */
#include "kshim.h"
