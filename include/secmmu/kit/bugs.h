/* SPDX-License-Identifier: MIT */
/*
 * secmmu/kit/bugs.h - the bug museum's switches (secmmu/bugs.h), as the code
 * paths that carry one test them; part of the driver kit because drivers
 * carry some:
 *
 *	if (historic_bug(BUG_GRU_FAULT_NO_RETRY))
 *		... the old behaviour ...
 *
 * The table of names and stories is in src/base/bugs.c, in enum order.
 */
#ifndef SECMMU_KIT_BUGS_H
#define SECMMU_KIT_BUGS_H

#include "secmmu/compiler.h"
#include "secmmu/kit/symbols.h"
#include <stdbool.h>

SECMMU_BEGIN_DECLS

enum historic_bug {
	BUG_SVA_BOND_MM_USERS,		  /* seed 002 */
	BUG_PREREG_AT_MMDROP,		  /* seed 000 */
	BUG_GRU_FAULT_NO_RETRY,		  /* seed 004's collision-retry rule, broken */
	BUG_RELEASE_UNHOOKED_FIRST,	  /* 3ad3d901bbcf */
	BUG_UNREGISTER_RELEASE_TWICE,	  /* 751efd8610d3, d34883d4e35c */
	BUG_COLLAPSE_NO_NOTIFIER,	  /* CVE-2022-48991 */
	BUG_COW_WRONG_WAY,		  /* CVE-2020-29374 */
	BUG_FORK_PINNED_COW,		  /* 70e806e4e645 */
	BUG_MIGRATE_FLUSH_UNLOCKED,	  /* migrate_device: flush TLB while holding PTL */
	BUG_INTERVAL_REMOVE_UNLOCKED_SEQ, /* 319561669a59 */
	BUG_EMPTY_TLB_RANGE,		  /* f7edb07ad7c6 */
	BUG_IOTLB_PER_PAGE_HUGE,	  /* CVE-2023-52484 */
	BUG_OOM_REAP_NO_NOTIFIER,	  /* 4d4bbd8526a8, 93065ac753e4 */
	BUG_PASID_FREED_AT_MMPUT,	  /* 2667ed10d9f0 */
	BUG_TAKE_ALL_LOCKS_MISSES,	  /* eeff9a5d47f8 */
	BUG_PUT_FREE_NO_GRACE,		  /* amdkfd, 2019 */
	BUG_KVM_PFN_NO_RETRY,		  /* issue 13, #12 */
	BUG_KVM_APIC_INVALIDATE_PAGE,	  /* issue 13, #11 */
	BUG_KVM_GPC_REFRESH_RACE,	  /* issue 13, #13 */
	BUG_KVM_CHANGE_PTE_DEAD,	  /* issue 13, #15 */
	BUG_KVM_MEMSLOT_MID_INVALIDATE,	  /* issue 13, #14 */
	BUG_XPMEM_RELEASE_MMAP_LOCK,	  /* issue 13, #23 */
	BUG_IOMMU_PERM_UPGRADE_NO_FLUSH,  /* issue 13, #7 */
	BUG_DEVMEM_FAULT_REF_BEFORE_LOCK, /* issue 13, #24 */
	BUG_MIRROR_LOCK_NOT_PINNED,	  /* issue 13, #25 */
	NR_HISTORIC_BUGS,
};

/* Bit @b set: bug @b is back. Written rarely (before the first mm), read relaxed. */
extern SECMMU_ATOMIC(unsigned long) historic_bugs_on;

static inline bool historic_bug(enum historic_bug b)
{
	return __builtin_expect((secmmu_atomic_load(&historic_bugs_on, SECMMU_MO_RELAXED) >> b) & 1,
				0);
}

SECMMU_END_DECLS

#endif /* SECMMU_KIT_BUGS_H */
