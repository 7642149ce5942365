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
