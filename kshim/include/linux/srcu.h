/* SPDX-License-Identifier: MIT */
/* linux/srcu.h for the kernel-notifier build: see kshim.h. */
#include "kshim.h"
