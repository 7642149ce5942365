// SPDX-License-Identifier: MIT
/*
 * The IOMMU's IOTLB: translations (device, PASID, page) -> (frame,
 * generation, writable), filled by page-table walks (dma.c) and dropped by
 * invalidations (sva.c: arch_invalidate_secondary_tlbs, release, unbind).
 *
 * Locking: iotlb_lock (LOCK_RANK_DEVICE_TLB). It is taken from
 * arch_invalidate_secondary_tlbs under the page-table lock, so nothing that
 * sleeps or takes a lock of lower rank may happen under it. A DMA transfer
 * through an entry holds it across the memcpy: the invalidation, which comes
 * before the frame is freed, waits for the transfer (pairs with
 * iommu_iotlb_flush()).
 */
#include <errno.h>
#include <stdlib.h>

#include "secmmu/kit/bugs.h"
#include "drivers/iommu/iommu-priv.h"
#include "secmmu/kit/alloc.h"

#define IOTLB_BUCKETS 4096
/* Per-page invalidation commands at most per flush; a larger range is one whole-PASID command. */
#define IOTLB_MAX_INV_CMDS (IOTLB_BUCKETS / 4)

static struct sm_mutex iotlb_lock;
static struct iommu_iotlb_entry *iotlb[IOTLB_BUCKETS];

void iommu_iotlb_init(void)
{
	sm_mutex_init(&iotlb_lock, "iommu iotlb_lock", LOCK_RANK_DEVICE_TLB);
}

void iommu_iotlb_lock(void)
{
	sm_mutex_lock(&iotlb_lock);
}

void iommu_iotlb_unlock(void)
{
	sm_mutex_unlock(&iotlb_lock);
}

void iommu_iotlb_assert_held(void)
{
	lockdep_assert_held(&iotlb_lock);
}

/* Entries of every device for (pasid, vpn) share a bucket. */
static unsigned long bucket_of(uint32_t pasid, unsigned long vpn)
{
	return ((vpn ^ ((unsigned long)pasid << 40)) * 0x9e3779b97f4a7c15ULL) >> 52;
}

/**
 * iommu_iotlb_find() - the cached translation of @vpn for @dev in @pasid
 * Caller holds the IOTLB lock. Return: the entry or NULL.
 */
struct iommu_iotlb_entry *iommu_iotlb_find(struct iommu_device *dev, uint32_t pasid,
					   unsigned long vpn)
{
	struct iommu_iotlb_entry *e;

	lockdep_assert_held(&iotlb_lock);
	for (e = iotlb[bucket_of(pasid, vpn)]; e; e = e->next)
		if (e->dev == dev && e->pasid == pasid && e->vpn == vpn)
			return e;
	return NULL;
}

static unsigned long iotlb_nr_huge; /* 2 MiB entries of every device; under iotlb_lock */

struct iommu_iotlb_entry *iommu_iotlb_lookup(struct iommu_device *dev, uint32_t pasid,
					     unsigned long vpn)
{
	struct iommu_iotlb_entry *e = iommu_iotlb_find(dev, pasid, vpn);

	if (!e && iotlb_nr_huge)
		e = iommu_iotlb_find(dev, pasid, IOTLB_HUGE_KEY(vpn & ~(IOTLB_HUGE_NR - 1)));
	return e;
}

/**
 * iommu_iotlb_insert() - cache a walk's result
 *
 * Caller holds the IOTLB lock and has checked, under it, that no
 * invalidation of @pasid began since the walk (iommu_sva_mm.inv_seq).
 * Return: 0 or -ENOMEM.
 */
int iommu_iotlb_insert(struct iommu_device *dev, uint32_t pasid, unsigned long vpn,
		       unsigned long pfn, uint32_t gen, bool write)
{
	struct iommu_iotlb_entry *e = iommu_iotlb_find(dev, pasid, vpn);

	if (!e) {
		unsigned long b = bucket_of(pasid, vpn);

		e = kzalloc(sizeof(*e));
		if (!e)
			return -ENOMEM;
		e->dev = dev;
		e->pasid = pasid;
		e->vpn = vpn;
		e->next = iotlb[b];
		iotlb[b] = e;
		dev->iotlb_entries++;
		if (IOTLB_KEY_IS_HUGE(vpn)) {
			dev->iotlb_huge++;
			iotlb_nr_huge++;
		}
	}
	e->pfn = pfn;
	e->gen = gen;
	e->write = write;
	atomic_fetch_add(&dev->iotlb_fills, 1);
	return 0;
}

/* Should @e be dropped by this flush? */
static bool flush_match(const struct iommu_iotlb_entry *e, struct iommu_device *dev, uint32_t pasid,
			unsigned long svpn, unsigned long evpn, bool from_invalidation)
{
	unsigned long first = IOTLB_KEY_VPN(e->vpn);
	unsigned long last = first + (IOTLB_KEY_IS_HUGE(e->vpn) ? IOTLB_HUGE_NR - 1 : 0);

	/* A 2 MiB entry any part of which is in the range goes whole. */
	if (e->pasid != pasid || last < svpn || first > evpn)
		return false;
	if (dev && e->dev != dev)
		return false;
	/* The deliberately broken device ignores invalidations (not release). */
	if (from_invalidation && (e->dev->flags & IOMMU_DEV_BROKEN_INVAL))
		return false;
	return true;
}

static void flush_bucket(unsigned long b, struct iommu_device *dev, uint32_t pasid,
			 unsigned long svpn, unsigned long evpn, bool from_invalidation)
{
	struct iommu_iotlb_entry **pp = &iotlb[b], *e;

	while ((e = *pp)) {
		if (flush_match(e, dev, pasid, svpn, evpn, from_invalidation)) {
			*pp = e->next;
			e->dev->iotlb_entries--;
			if (IOTLB_KEY_IS_HUGE(e->vpn)) {
				e->dev->iotlb_huge--;
				iotlb_nr_huge--;
			}
			if (from_invalidation)
				atomic_fetch_add(&e->dev->iotlb_flushes, 1);
			kfree(e);
		} else {
			pp = &e->next;
		}
	}
}

/**
 * iommu_iotlb_flush() - drop the translations of [@start, @end) in @pasid
 * @dev: only this device's, or NULL for every device's
 * @from_invalidation: an arch_invalidate_secondary_tlbs flush (ignored by an
 *   IOMMU_DEV_BROKEN_INVAL device) rather than a release or unbind
 *
 * Caller holds the IOTLB lock. Does not sleep.
 */
void iommu_iotlb_flush(struct iommu_device *dev, uint32_t pasid, unsigned long start,
		       unsigned long end, bool from_invalidation)
{
	unsigned long svpn = start >> PAGE_SHIFT, evpn = (end - 1) >> PAGE_SHIFT;

	lockdep_assert_held(&iotlb_lock);
	if (end <= start)
		return;
	/*
	 * Up to IOTLB_MAX_INV_CMDS pages: one command per page; more: one
	 * command for the whole PASID (a sweep of every bucket here). The
	 * museum's iotlb-per-page-huge (base/bugs.h) sends one per page
	 * whatever the size, as arm-smmu-v3 did before the fix of
	 * CVE-2023-52484 (a soft lockup on a huge range), for the invalidations
	 * of the MMU notifier (the unbind/release flush of the whole address
	 * space would take hours page by page).
	 */
	if (evpn - svpn < IOTLB_MAX_INV_CMDS ||
	    (from_invalidation && historic_bug(BUG_IOTLB_PER_PAGE_HUGE))) {
		/* The performance detector: commands against the range's size. */
		if (evpn - svpn >= IOTLB_MAX_INV_CMDS)
			sm_rule_broken(
				"an IOTLB invalidation of %lu pages sent %lu per-page "
				"commands (more than %d: invalidate the whole PASID instead)",
				evpn - svpn + 1, evpn - svpn + 1, IOTLB_MAX_INV_CMDS);
		for (unsigned long v = svpn; v <= evpn; v++) {
			flush_bucket(bucket_of(pasid, v), dev, pasid, v, v, from_invalidation);
			if (iotlb_nr_huge && (v == svpn || !(v & (IOTLB_HUGE_NR - 1))))
				flush_bucket(
					bucket_of(pasid, IOTLB_HUGE_KEY(v & ~(IOTLB_HUGE_NR - 1))),
					dev, pasid, v, v, from_invalidation);
		}
		return;
	}
	for (unsigned long b = 0; b < IOTLB_BUCKETS; b++)
		flush_bucket(b, dev, pasid, svpn, evpn, from_invalidation);
}
