/* SPDX-License-Identifier: MIT */
/*
 * secmmu/mmu_notifier.h in the KERNEL_NOTIFIER build (make KERNEL_NOTIFIER=6.12):
 * src/mm, the drivers and the tools compile against Linux's own
 * linux/mmu_notifier.h instead of include/secmmu/mmu_notifier.h, and link
 * with Linux's mm/mmu_notifier.c (kshim/kshim.mk). This header adds only
 * what secmmu's API has beyond the kernel's, each with the reason:
 *
 *  - mmu_notifier_event_name(), for tracing and the scenario runner;
 *  - mmu_notifier_change_pte(): a no-op, Linux 6.10 removed ->change_pte
 *    (src/mm still calls it where the seed describes the legacy path);
 *  - mmu_notifier_range_init() also sets ->owner to NULL: the kernel's
 *    leaves it uninitialised for events other than MIGRATE/EXCLUSIVE (whose
 *    callers use mmu_notifier_range_init_owner()), ours promises NULL and our
 *    drivers compare it for every event;
 *  - mmu_notifier_set_owner() / mmu_interval_notifier_set_owner(): no-ops,
 *    the kernel's core does not track who holds mm_count.
 */
#ifndef SECMMU_KSHIM_COMPAT_MMU_NOTIFIER_H
#define SECMMU_KSHIM_COMPAT_MMU_NOTIFIER_H

#define mmu_notifier_range_init kinline_mmu_notifier_range_init
#include <linux/mmu_notifier.h>
#undef mmu_notifier_range_init

#include "kshim_bridge.h"

static inline void mmu_notifier_range_init(struct mmu_notifier_range *range,
					   enum mmu_notifier_event event, unsigned int flags,
					   struct mm_struct *mm, unsigned long start,
					   unsigned long end)
{
	kinline_mmu_notifier_range_init(range, event, flags, mm, start, end);
	range->owner = NULL;
}

static inline void mmu_notifier_set_owner(struct mmu_notifier *subscription, const void *owner)
{
	(void)subscription;
	(void)owner;
}

static inline void mmu_interval_notifier_set_owner(struct mmu_interval_notifier *interval_sub,
						   const void *owner)
{
	(void)interval_sub;
	(void)owner;
}

#define MMU_NOTIFIER_HOLDER_KIND	  "mmu_notifier"
#define MMU_INTERVAL_NOTIFIER_HOLDER_KIND "interval notifier"

#endif /* SECMMU_KSHIM_COMPAT_MMU_NOTIFIER_H */
