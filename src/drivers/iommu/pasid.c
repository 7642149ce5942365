// SPDX-License-Identifier: MIT
/*
 * The system-wide PASID space (iommu_global_pasid_allocate() / the old
 * ioasid allocator): lowest free PASID first, 1 .. IOMMU_PASID_MAX - 1.
 *
 * A PASID is allocated by the SVA notifier's alloc_notifier and freed by its
 * free_notifier (sva.c): PASID and notifier have identical lifetimes.
 *
 * Locking: pasid_lock (LOCK_RANK_LEAF) around the bitmap. Called with
 * mmap_lock held for write (alloc_notifier) and from RCU callbacks
 * (free_notifier): it calls out to nothing.
 */
#include <errno.h>
#include <limits.h>

#include "drivers/iommu/iommu-priv.h"

#define BITS_PER_WORD (sizeof(unsigned long) * CHAR_BIT)

static struct sm_mutex pasid_lock;
static unsigned long pasid_map[IOMMU_PASID_MAX / BITS_PER_WORD];
static unsigned int pasid_nr;

void iommu_pasid_init(void)
{
	sm_mutex_init(&pasid_lock, "iommu pasid_lock", LOCK_RANK_LEAF);
	pasid_map[0] = 1UL; /* PASID 0 is the RID_PASID: never allocated */
}

/**
 * iommu_pasid_alloc() - the lowest free PASID
 *
 * Takes pasid_lock; does not sleep otherwise.
 * Return: the PASID, or -ENOSPC when the space is exhausted.
 */
long iommu_pasid_alloc(void)
{
	long ret = -ENOSPC;

	sm_mutex_lock(&pasid_lock);
	for (unsigned int p = 1; p < IOMMU_PASID_MAX; p++) {
		unsigned long bit = 1UL << (p % BITS_PER_WORD);

		if (pasid_map[p / BITS_PER_WORD] & bit)
			continue;
		pasid_map[p / BITS_PER_WORD] |= bit;
		pasid_nr++;
		ret = p;
		break;
	}
	sm_mutex_unlock(&pasid_lock);
	return ret;
}

/**
 * iommu_pasid_free() - give back a PASID from iommu_pasid_alloc()
 *
 * Freeing a PASID that is not allocated is a caller bug: warned about, and
 * nothing changes.
 */
void iommu_pasid_free(uint32_t pasid)
{
	unsigned long bit = 1UL << (pasid % BITS_PER_WORD);

	if (WARN_ON(pasid == IOMMU_PASID_INVALID || pasid >= IOMMU_PASID_MAX))
		return;
	sm_mutex_lock(&pasid_lock);
	if (!WARN_ON(!(pasid_map[pasid / BITS_PER_WORD] & bit))) {
		pasid_map[pasid / BITS_PER_WORD] &= ~bit;
		pasid_nr--;
	}
	sm_mutex_unlock(&pasid_lock);
}

unsigned int iommu_pasid_nr_allocated(void)
{
	unsigned int n;

	iommu_core_init();
	sm_mutex_lock(&pasid_lock);
	n = pasid_nr;
	sm_mutex_unlock(&pasid_lock);
	return n;
}
