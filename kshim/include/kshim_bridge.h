/* SPDX-License-Identifier: MIT */
/*
 * kshim_bridge.h - what the kernel-notifier build adds to linux/mmu_notifier.h:
 * secmmu's out-of-line names for the kernel's inline hooks (kshim/bridge.c),
 * for code that includes the kernel's header.
 */
#ifndef SECMMU_KSHIM_BRIDGE_H
#define SECMMU_KSHIM_BRIDGE_H

#include <stdbool.h>

struct mm_struct;
struct mmu_notifier_range;
enum mmu_notifier_event;

#pragma GCC visibility push(default)
const char *mmu_notifier_event_name(enum mmu_notifier_event event);
void mmu_notifier_change_pte(struct mm_struct *mm, unsigned long address, unsigned long pfn,
			     bool writable);
#pragma GCC visibility pop

#endif /* SECMMU_KSHIM_BRIDGE_H */
