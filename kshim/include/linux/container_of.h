/* SPDX-License-Identifier: MIT */
/* linux/container_of.h for the kernel-notifier build: see kshim.h. */
#include "kshim.h"
