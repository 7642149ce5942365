/* SPDX-License-Identifier: MIT */
/* linux/mmap_lock.h for the kernel-notifier build: see kshim.h. */
#include "kshim.h"
