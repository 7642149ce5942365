/* SPDX-License-Identifier: MIT */
/* linux/mm.h for the kernel-notifier build: see kshim.h. */
#include "kshim.h"
