/* SPDX-License-Identifier: MIT */
/* linux/export.h for the kernel-notifier build: see kshim.h. */
#include "kshim.h"
