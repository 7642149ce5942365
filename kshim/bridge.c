// SPDX-License-Identifier: MIT
/*
 * bridge.c - secmmu's out-of-line notifier hooks on top of the kernel's
 * notifier core (the kernel-notifier build only).
 *
 * src/mm calls the primary-MMU hooks as functions (include/secmmu/
 * mmu_notifier.h); Linux has them as static inlines in linux/mmu_notifier.h
 * that test mm_has_notifiers() and call the __mmu_notifier_*() functions of
 * mm/mmu_notifier.c. This file includes the kernel's header with those
 * inlines renamed (kinline_*) and defines our names as calls to them, so the
 * hooks behave exactly as the kernel's inlines do. Only struct mm_struct and
 * struct mmu_notifier_range cross this boundary, and their layouts agree
 * (asserted below against our header's field list).
 */
#define mmu_notifier_release		    kinline_mmu_notifier_release
#define mmu_notifier_clear_flush_young	    kinline_mmu_notifier_clear_flush_young
#define mmu_notifier_clear_young	    kinline_mmu_notifier_clear_young
#define mmu_notifier_test_young		    kinline_mmu_notifier_test_young
#define mmu_notifier_invalidate_range_start kinline_mmu_notifier_invalidate_range_start
#define mmu_notifier_invalidate_range_start_nonblock                                               \
	kinline_mmu_notifier_invalidate_range_start_nonblock
#define mmu_notifier_invalidate_range_end kinline_mmu_notifier_invalidate_range_end
#define mmu_notifier_arch_invalidate_secondary_tlbs                                                \
	kinline_mmu_notifier_arch_invalidate_secondary_tlbs
#define mmu_notifier_subscriptions_destroy kinline_mmu_notifier_subscriptions_destroy
#define mm_has_notifiers		   kinline_mm_has_notifiers
#define mmu_notifier_get		   kinline_mmu_notifier_get
#include <linux/mmu_notifier.h>
#undef mmu_notifier_release
#undef mmu_notifier_clear_flush_young
#undef mmu_notifier_clear_young
#undef mmu_notifier_test_young
#undef mmu_notifier_invalidate_range_start
#undef mmu_notifier_invalidate_range_start_nonblock
#undef mmu_notifier_invalidate_range_end
#undef mmu_notifier_arch_invalidate_secondary_tlbs
#undef mmu_notifier_subscriptions_destroy
#undef mm_has_notifiers
#undef mmu_notifier_get

#include "kshim_bridge.h"

_Static_assert(offsetof(struct mmu_notifier_range, mm) == 0 &&
		       offsetof(struct mmu_notifier_range, start) == sizeof(void *) &&
		       offsetof(struct mmu_notifier_range, end) == 2 * sizeof(void *) &&
		       offsetof(struct mmu_notifier_range, flags) == 3 * sizeof(void *) &&
		       offsetof(struct mmu_notifier_range, event) ==
			       3 * sizeof(void *) + sizeof(unsigned int) &&
		       offsetof(struct mmu_notifier_range, owner) == 4 * sizeof(void *) &&
		       sizeof(struct mmu_notifier_range) == 5 * sizeof(void *),
	       "struct mmu_notifier_range differs from include/secmmu/mmu_notifier.h");

/* Our API: exported from the variant's libsecmmu.so (-fvisibility=hidden otherwise). */
#pragma GCC visibility push(default)

void mmu_notifier_release(struct mm_struct *mm)
{
	kinline_mmu_notifier_release(mm);
}

int mmu_notifier_clear_flush_young(struct mm_struct *mm, unsigned long start, unsigned long end)
{
	return kinline_mmu_notifier_clear_flush_young(mm, start, end);
}

int mmu_notifier_clear_young(struct mm_struct *mm, unsigned long start, unsigned long end)
{
	return kinline_mmu_notifier_clear_young(mm, start, end);
}

int mmu_notifier_test_young(struct mm_struct *mm, unsigned long address)
{
	return kinline_mmu_notifier_test_young(mm, address);
}

/* Linux removed ->change_pte in 6.10: subscribers see the start/end pair only. */
void mmu_notifier_change_pte(struct mm_struct *mm, unsigned long address, unsigned long pfn,
			     bool writable)
{
	(void)mm;
	(void)address;
	(void)pfn;
	(void)writable;
}

void mmu_notifier_invalidate_range_start(struct mmu_notifier_range *range)
{
	kinline_mmu_notifier_invalidate_range_start(range);
}

int mmu_notifier_invalidate_range_start_nonblock(struct mmu_notifier_range *range)
{
	return kinline_mmu_notifier_invalidate_range_start_nonblock(range);
}

void mmu_notifier_invalidate_range_end(struct mmu_notifier_range *range)
{
	kinline_mmu_notifier_invalidate_range_end(range);
}

void mmu_notifier_arch_invalidate_secondary_tlbs(struct mm_struct *mm, unsigned long start,
						 unsigned long end)
{
	kinline_mmu_notifier_arch_invalidate_secondary_tlbs(mm, start, end);
}

bool mm_has_notifiers(struct mm_struct *mm)
{
	return kinline_mm_has_notifiers(mm);
}

void mmu_notifier_subscriptions_destroy(struct mm_struct *mm)
{
	kinline_mmu_notifier_subscriptions_destroy(mm);
}

struct mmu_notifier *mmu_notifier_get(const struct mmu_notifier_ops *ops, struct mm_struct *mm)
{
	return kinline_mmu_notifier_get(ops, mm);
}

static const char *const event_names[] = {
	[MMU_NOTIFY_UNMAP] = "unmap",
	[MMU_NOTIFY_CLEAR] = "clear",
	[MMU_NOTIFY_PROTECTION_VMA] = "protection_vma",
	[MMU_NOTIFY_PROTECTION_PAGE] = "protection_page",
	[MMU_NOTIFY_SOFT_DIRTY] = "soft_dirty",
	[MMU_NOTIFY_RELEASE] = "release",
	[MMU_NOTIFY_MIGRATE] = "migrate",
	[MMU_NOTIFY_EXCLUSIVE] = "exclusive",
};

/* secmmu's name for an event (Linux has none; tracing and tests use it). */
const char *mmu_notifier_event_name(enum mmu_notifier_event event)
{
	if ((unsigned int)event >= ARRAY_SIZE(event_names))
		return "unknown";
	return event_names[event];
}

#pragma GCC visibility pop
