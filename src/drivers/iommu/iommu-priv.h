/* SPDX-License-Identifier: MIT */
/*
 * Internals of the SVA IOMMU (include/secmmu/iommu.h), shared by
 * pasid.c, iotlb.c, sva.c, iopf.c and dma.c. Nothing outside
 * src/drivers/iommu/ includes this.
 *
 * References:
 *   struct iommu_device  dev->refs: the creator (until iommu_device_destroy),
 *                        every bond, every open device file.
 *   struct iommu_sva     bond->refs: the device's PASID table (from the first
 *                        bind to the last unbind), plus every DMA walk and
 *                        page request using it at the moment. bond->users
 *                        counts binds (under iommu_sva_lock). The last ref
 *                        drops mm_count (mmdrop), the notifier (the last put
 *                        frees the PASID) and the device.
 *   struct iommu_sva_mm  the per-mm SVA notifier, from mmu_notifier_get():
 *                        one reference per bond; freed with its PASID by
 *                        free_notifier after a grace period.
 */
#ifndef SECMMU_DRIVERS_IOMMU_PRIV_H
#define SECMMU_DRIVERS_IOMMU_PRIV_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "secmmu/kit/bugs.h"
#include "secmmu/kit/debug.h"
#include "secmmu/kit/lock.h"
#include "secmmu/kit/thread.h"
#include "secmmu/kit/wait.h"
#include "secmmu/iommu.h"
#include "secmmu/mmu_notifier.h"

/* --- work queues: the DMA engine and the fault worker are real threads -- */

struct iommu_work {
	void (*fn)(struct iommu_work *work);
	bool done;
	struct iommu_work *next;
};

struct iommu_wq {
	const char *name; /* what the queue does: "prq", "dma" */
	struct sm_thread thread;
	struct sm_mutex lock; /* LOCK_RANK_WORKQ: the queue; never held across fn */
	struct sm_waitq cond; /* queued work, a finished work, stopping */
	struct iommu_work *head, **tail;
	bool stopping;
	bool started;
};

int iommu_wq_start(struct iommu_wq *wq, const char *dev_name, const char *what);
int iommu_wq_run(struct iommu_wq *wq, struct iommu_work *work);
void iommu_wq_stop(struct iommu_wq *wq);

/* --- objects ------------------------------------------------------------ */

struct iommu_sva_mm {
	struct mmu_notifier mn; /* from mmu_notifier_get(); holds mm_count */
	uint32_t pasid;		/* allocated in alloc_notifier, freed in free_notifier */
	struct sm_mutex lock;	/* LOCK_RANK_DRIVER_MMU: @bonds, @released */
	struct iommu_sva *bonds;
	bool released;
	bool pasid_freed; /* the museum's pasid-freed-at-mmput freed it at ->release */
	/* Bumped under the IOTLB lock by every invalidation of this PASID. */
	_Atomic unsigned long inv_seq;
};

struct iommu_sva {
	struct iommu_device *dev;
	struct iommu_sva_mm *smm;
	struct mm_struct *mm; /* mm_count held (mmgrab) until the last ref */
	unsigned long mm_id;
	uint32_t pasid;
	unsigned int users; /* binds; under iommu_sva_lock */
	_Atomic int refs;
	_Atomic bool present;	    /* the PASID table entry's present bit */
	bool detached;		    /* unbound: no IOTLB fill any more; under the IOTLB lock */
	bool mm_users_held;	    /* IOMMU_DEV_WRONG_MM_USERS: the bond also holds mm_users */
	struct iommu_sva *dev_next; /* dev->bonds, sorted by PASID; under dev->lock */
	struct iommu_sva *mm_next;  /* smm->bonds; under smm->lock */
	struct iommu_sva *all_next; /* every bound bond (users > 0); under iommu_sva_lock */
};

struct iommu_device {
	char name[32];
	unsigned int flags;
	_Atomic int refs;
	_Atomic bool dead;
	struct sm_mutex lock; /* LOCK_RANK_DRIVER_MMU: the PASID table @bonds */
	struct iommu_sva *bonds;
	struct iommu_wq dma_wq;	     /* the DMA engine */
	struct iommu_wq prq_wq;	     /* the page-request (fault) worker */
	unsigned long iotlb_entries; /* under the IOTLB lock */
	unsigned long iotlb_huge;    /* 2 MiB entries among them; under the IOTLB lock */
	_Atomic unsigned long iotlb_fills;
	_Atomic unsigned long iotlb_flushes;
	_Atomic unsigned long page_requests;
	_Atomic unsigned long prq_exited;
	_Atomic unsigned long pasid_faults;
	_Atomic unsigned long stale;
	_Atomic unsigned long perm_fault_loops; /* DMAs that gave up on a read-only entry */
};

/* dma.c */
void iommu_core_init(void);
void iommu_device_get(struct iommu_device *dev);
void iommu_device_put(struct iommu_device *dev);

/* pasid.c */
void iommu_pasid_init(void);
long iommu_pasid_alloc(void);
void iommu_pasid_free(uint32_t pasid);

/* iotlb.c */
void iommu_iotlb_init(void);
void iommu_iotlb_lock(void);
void iommu_iotlb_unlock(void);
void iommu_iotlb_assert_held(void);
/*
 * A 2 MiB entry (the CPU maps a huge PMD there) is keyed IOTLB_HUGE_KEY of
 * its aligned vpn; pfn and gen are the folio head's (folio_gen_valid()).
 */
#define IOTLB_HUGE_NR	     HPAGE_PMD_NR
#define IOTLB_HUGE_KEY(v)    ((v) | (1UL << 63))
#define IOTLB_KEY_IS_HUGE(k) (((k) >> 63) != 0)
#define IOTLB_KEY_VPN(k)     ((k) & ~(1UL << 63))

struct iommu_iotlb_entry {
	struct iommu_iotlb_entry *next;
	struct iommu_device *dev;
	uint32_t pasid;
	unsigned long vpn; /* a vpn, or IOTLB_HUGE_KEY(aligned vpn) */
	unsigned long pfn;
	uint32_t gen;
	bool write;
};
/* The exact entry of key @vpn (a vpn or an IOTLB_HUGE_KEY). */
struct iommu_iotlb_entry *iommu_iotlb_find(struct iommu_device *dev, uint32_t pasid,
					   unsigned long vpn);
/* The entry translating @vpn: its 4 KiB one, else the 2 MiB one around it. */
struct iommu_iotlb_entry *iommu_iotlb_lookup(struct iommu_device *dev, uint32_t pasid,
					     unsigned long vpn);
/* Cache a translation for key @vpn (IOTLB_HUGE_KEY: 2 MiB from the head @pfn). */
int iommu_iotlb_insert(struct iommu_device *dev, uint32_t pasid, unsigned long vpn,
		       unsigned long pfn, uint32_t gen, bool write);
void iommu_iotlb_flush(struct iommu_device *dev, uint32_t pasid, unsigned long start,
		       unsigned long end, bool from_invalidation);

/* sva.c */
void iommu_sva_init(void);
struct iommu_sva *iommu_sva_get_by_pasid(struct iommu_device *dev, uint32_t pasid);
void iommu_sva_bond_put(struct iommu_sva *bond);

/* iopf.c */
int iommu_iopf_submit(struct iommu_device *dev, uint32_t pasid, unsigned long addr, bool write);

#endif /* SECMMU_DRIVERS_IOMMU_PRIV_H */
