/* SPDX-License-Identifier: MIT */
/*
 * secmmu/mmu_notifier_hooks.h in the KERNEL_NOTIFIER build: the primary-MMU
 * hooks (mmu_notifier_release, invalidate_range_start/end,
 * arch_invalidate_secondary_tlbs, mm_has_notifiers ...) come from Linux's own
 * linux/mmu_notifier.h there, which the compat secmmu/mmu_notifier.h already
 * includes; our include/secmmu/mmu_notifier_hooks.h would redeclare some of
 * them with other types (mm_has_notifiers() is bool here, int there).
 */
#ifndef SECMMU_KSHIM_COMPAT_MMU_NOTIFIER_HOOKS_H
#define SECMMU_KSHIM_COMPAT_MMU_NOTIFIER_HOOKS_H

#include "secmmu/mmu_notifier.h"

#endif /* SECMMU_KSHIM_COMPAT_MMU_NOTIFIER_HOOKS_H */
