/* SPDX-License-Identifier: MIT */
/*
 * Shared between the preregistration registry (mm_iommu.c) and the SPAPR-TCE
 * container (spapr_tce.c). Not a public interface.
 */
#ifndef SECMMU_DRIVERS_VFIO_INTERNAL_H
#define SECMMU_DRIVERS_VFIO_INTERNAL_H

#include <stdbool.h>

#include "secmmu/kit/list.h"
#include "secmmu/kit/rcu.h"
#include "secmmu/vfio.h"

struct page;

/*
 * struct mm_iommu_table_group_mem_t - one preregistered region of one mm
 * @next:    on the mm's list (struct mm_iommu_ctx), registry lock
 * @ua:      first user address; @entries pages
 * @used:    uses (containers, or legacy registrations); registry lock
 * @mapped:  TCE entries pointing into the region; registry lock
 * @hpages:  the pinned pages, one pin each, held until the last put
 * @mm:      the mm whose list holds it (no reference: the list lives as long)
 * @legacy:  created by a legacy container: destroy_context() frees it quietly
 * @put_pending: its last use went at a container's release while TCEs of
 *           another container still pointed into it (used == 0, mapped > 0):
 *           the mm_iommu_mapped_dec() that clears the last one frees it, a
 *           new mm_iommu_get() revives it; registry lock
 */
struct mm_iommu_table_group_mem_t {
	struct list_head next;
	struct sm_rcu_head rcu;
	unsigned long ua;
	unsigned long entries;
	unsigned long used;
	unsigned long mapped;
	struct page **hpages;
	struct mm_struct *mm;
	bool legacy;
	bool put_pending;
};

static inline bool mm_iommu_contains(const struct mm_iommu_table_group_mem_t *mem, unsigned long ua,
				     unsigned long size)
{
	unsigned long end = mem->ua + (mem->entries << 12);

	return ua >= mem->ua && size <= end - mem->ua && ua - mem->ua <= (end - mem->ua) - size;
}

/* A region of @mm containing [ua, ua + size), no reference (legacy lookups). */
struct mm_iommu_table_group_mem_t *mm_iommu_lookup(struct mm_struct *mm, unsigned long ua,
						   unsigned long size);
/*
 * mm_iommu_lookup() and mm_iommu_mapped_inc() in one step under the region
 * list's lock: the region of @mm containing [ua, ua + size), now counted as
 * mapped (so no other container's put can free it), or NULL. Any container
 * of the mm may map any region of the mm, as Linux's tce_iommu_build_v2()
 * looks regions up in the mm's list. Pairs with mm_iommu_mapped_dec().
 */
struct mm_iommu_table_group_mem_t *mm_iommu_lookup_mapped_inc(struct mm_struct *mm,
							      unsigned long ua, unsigned long size);

/*
 * mm_iommu_put_release() - mm_iommu_put() for a container's release: if the
 * last use goes while TCEs of another container still point into @mem, the
 * use goes all the same and the region is freed (unpinned, uncharged) by
 * the mm_iommu_mapped_dec() that clears the last TCE, instead of -EBUSY
 * leaving it pinned, with no owner, until the last mmdrop. Caller holds
 * mm_count. Return: 0 or -ENOENT (no user). May sleep.
 */
long mm_iommu_put_release(struct mm_struct *mm, struct mm_iommu_table_group_mem_t *mem);

/* Mark regions created by mm_iommu_get() from now on as legacy (per call). */
long mm_iommu_get_mode(struct mm_struct *mm, unsigned long ua, unsigned long entries, bool legacy,
		       struct mm_iommu_table_group_mem_t **pmem);

/* Register the arch hooks and the context slot once. Return: 0 or -ENOSPC. */
int mm_iommu_init_once(void);

#endif /* SECMMU_DRIVERS_VFIO_INTERNAL_H */
