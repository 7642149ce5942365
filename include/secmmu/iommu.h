/* SPDX-License-Identifier: MIT */
/*
 * An IOMMU with Shared Virtual Addressing (SVA): devices that do DMA
 * directly on a process's virtual addresses, tagged with a PASID.
 *
 * THE MODEL (after drivers/iommu/iommu-sva.c, intel/svm.c, arm-smmu-v3-sva.c
 * and io-pgfault.c)
 *
 *   PASID        one per address space (mm), allocated by the first bond of
 *                the mm to any device and shared by every later one; freed
 *                when the last bond of the mm goes. The PASID lives in the
 *                per-mm SVA notifier (mmu_notifier_get/put): the PASID and
 *                the notifier have identical lifetimes (seed 003).
 *   bond         (device, mm): iommu_sva_bind_device(). Binding the same
 *                device and mm again shares the bond and its PASID. A bond
 *                holds mm_count (mmgrab), NEVER mm_users (seed 002): a device
 *                file mmap()ed into the process that bound it must not keep
 *                the address space alive, or exit never completes.
 *   PASID table  per device: PASID -> bond, with a present bit. The IOMMU
 *                walks the CPU page table of a present entry (the device
 *                shares it) and caches what it found in the IOTLB.
 *   IOTLB        the IOMMU's translation cache, tagged (device, PASID, page).
 *                Kept coherent by arch_invalidate_secondary_tlbs (called
 *                under the page-table lock after every PTE change, before the
 *                frame can be freed). Every access through it checks the
 *                frame generation recorded at fill time (page_gen_valid), so
 *                a translation that outlived its frame is caught.
 *   page request a DMA that finds no usable translation asks the device's
 *                fault worker thread to fault the page in (PRI / IOPF). The
 *                worker uses mmget_not_zero(): once mm_users is 0 the request
 *                fails at once (-ESRCH), it never resurrects the mm.
 *   release      the mm exits: exit_mmap() calls ->release BEFORE tearing
 *                down the page tables, and unhooks every notifier, so the
 *                IOMMU would not hear of the teardown. ->release therefore
 *                clears the PASID table entries of the mm and flushes the
 *                IOTLB: the device can fetch no page after exit. Later DMA
 *                and page requests on that PASID are aborted silently
 *                (-ESRCH, "PASID not present"); other PASIDs are undisturbed.
 *                There is no mm_exit callback to the device driver (removed
 *                from Linux in 2020, seed 003): the bond and its PASID stay
 *                until the driver unbinds, typically from a file release.
 *
 * IOMMU_DEV_WRONG_MM_USERS makes bonds hold mm_users as well (the pre-2016
 * intel-svm behaviour): a deliberately wrong driver, per device, to show
 * seed 002's reference cycle. IOMMU_DEV_BROKEN_INVAL makes the IOTLB ignore
 * arch_invalidate_secondary_tlbs for the device: a documented "broken
 * device" (docs/architecture.md, Broken devices) that misses invalidations,
 * for the stale-translation demos and the tests that prove the stale
 * checker catches it.
 *
 * LOCKING (see src/base/lock.h for the ranks)
 *   iommu_sva_lock   LOCK_RANK_DRIVER: serialises bind/unbind; held across
 *                    mmu_notifier_get() (which takes mmap_lock for write).
 *   dev->lock        LOCK_RANK_DRIVER_MMU: the device's PASID table.
 *   smm->lock        LOCK_RANK_DRIVER_MMU: the bonds of one mm; taken by
 *                    ->release. Never nested with dev->lock.
 *   iotlb lock       LOCK_RANK_DEVICE_TLB: the IOTLB; taken from
 *                    arch_invalidate_secondary_tlbs under the page-table lock,
 *                    and held across the DMA memcpy through an IOTLB entry so
 *                    that an invalidation (and the free that follows it)
 *                    waits for the transfer.
 */
#ifndef SECMMU_IOMMU_H
#define SECMMU_IOMMU_H

#include "secmmu/compiler.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "secmmu/mm.h"

SECMMU_BEGIN_DECLS

struct iommu_device;
struct iommu_sva;
struct file;

/* PASIDs are 1 .. IOMMU_PASID_MAX - 1 (0 is the RID_PASID, never given out). */
/*
 * A bond's references in the mm's reference tracker (mm.h): its mm_count
 * (and, on an IOMMU_DEV_WRONG_MM_USERS device, mm_users) under the struct
 * iommu_device as owner, one per bond of that device. The mm's SVA notifier
 * (shared by the bonds of all devices on the mm) holds one more mm_count,
 * kind "mmu_notifier", its owner the mm itself, until a grace period after
 * the mm's last bond goes.
 */
#define IOMMU_SVA_BOND_HOLDER_KIND "sva bond"

#define IOMMU_PASID_MAX	    1024U
#define IOMMU_PASID_INVALID 0U

/* iommu_device_create() flags */
#define IOMMU_DEV_WRONG_MM_USERS 0x1U /* bonds hold mm_users: seed 002's cycle */
#define IOMMU_DEV_BROKEN_INVAL	 0x2U /* ignore IOTLB invalidations: stale DMA */

/**
 * iommu_device_create() - a device behind the SVA-capable IOMMU
 * @name:  for messages
 * @flags: 0 or IOMMU_DEV_* for the deliberately wrong variants
 *
 * Starts the device's DMA engine thread and its page-request (fault) worker
 * thread. May sleep.
 * Return: the device (one reference, the creator's) or ERR_PTR(-EINVAL) for
 * unknown flags, ERR_PTR(-ENOMEM), ERR_PTR(-EAGAIN) (no thread).
 */
struct iommu_device *iommu_device_create(const char *name, unsigned int flags);

/**
 * iommu_device_destroy() - remove the device (hot-unplug)
 *
 * Stops the DMA engine and the fault worker (waiting for the request in
 * progress) and drops the creator's reference; the structure is freed when
 * the last bond and the last device file referring to it are gone. Later DMA
 * is -ENODEV, later binds -ENODEV. May sleep; no lock may be held.
 * Return: 0, or -EBUSY if bonds remain (still destroyed: they keep the
 * memory until they are unbound).
 */
int iommu_device_destroy(struct iommu_device *dev);

/**
 * iommu_sva_bind_device() - share @mm with @dev
 *
 * The caller holds an mm_users reference on @mm (it is current->mm). The
 * first bond of @mm with any device obtains the per-mm SVA notifier with
 * mmu_notifier_get(), which allocates the mm's PASID; later bonds share both.
 * A second bind of the same device and mm returns the same bond (a
 * reference counted by binds). The bond holds mm_count (mmgrab), never
 * mm_users (except on an IOMMU_DEV_WRONG_MM_USERS device). Takes
 * iommu_sva_lock and, for a new notifier, mmap_lock for write: the caller
 * must hold no lock of rank >= LOCK_RANK_DRIVER. May sleep.
 * Return: the bond, or ERR_PTR(-ENODEV) (device destroyed), -EINVAL (mm
 * has exited), -ENOSPC (no PASID left), -ENOMEM, -EINTR.
 */
struct iommu_sva *iommu_sva_bind_device(struct iommu_device *dev, struct mm_struct *mm);

/**
 * iommu_sva_unbind_device() - undo one iommu_sva_bind_device()
 *
 * The last unbind of a bond removes it from the device's PASID table,
 * flushes the device's IOTLB entries for it, and drops its references: its
 * mm_count, and its reference on the per-mm notifier (the last one frees the
 * notifier and the PASID after a grace period). May be called after the mm
 * has exited, from a file release during the mm's own teardown, or from the
 * DMA/fault threads. May sleep; no lock may be held. Each successful bind
 * must be matched by exactly one unbind of its handle; one unbind too many
 * (or a handle that was never bound) is API misuse: WARNed once, nothing
 * done, the handle never dereferenced.
 */
void iommu_sva_unbind_device(struct iommu_sva *handle);

/**
 * iommu_sva_unbind_mm() - undo one bind of @dev with the mm whose mm_id()
 * is @mm_id, without a handle
 *
 * For callers that know the address space only by id (a file's release,
 * the scenario language). Never dereferences a freed mm: the id is unique
 * for the whole run. Same context rules as iommu_sva_unbind_device().
 * Return: 0, or -ENOENT if @dev has no bond with that mm (never bound, or
 * unbound already: a double unbind is reported, not a crash).
 */
int iommu_sva_unbind_mm(struct iommu_device *dev, unsigned long mm_id);

/* The PASID of a bond (valid until its last unbind). */
uint32_t iommu_sva_get_pasid(struct iommu_sva *handle);

/**
 * iommu_sva_find_pasid() - the PASID @dev uses for the mm with @mm_id
 * Return: the PASID, or -ENOENT if they are not bound. Takes dev->lock.
 */
long iommu_sva_find_pasid(struct iommu_device *dev, unsigned long mm_id);

/**
 * iommu_dma_read() / iommu_dma_write() - DMA tagged with @pasid
 *
 * Executed on the device's DMA engine thread (the caller waits): every page
 * is translated through the IOTLB, filled by walking the CPU page table of
 * the PASID's mm, with page requests to the fault worker when no usable
 * PTE is there. May sleep; no lock may be held.
 * Return: 0; -EFAULT (the fault worker could not resolve an address: no
 * VMA, or access not allowed); -ESRCH (PASID not present: never bound, or
 * its mm has exited -- aborted silently, other PASIDs are unaffected);
 * -EIO (a stale IOTLB entry was caught: the frame was freed under it);
 * -ENOMEM; -ENODEV (device destroyed); -EAGAIN (livelocked by invalidations,
 * or a write faulting again and again on a read-only IOTLB entry: the IOTLB
 * caches permissions, and only an invalidation drops an entry).
 */
int iommu_dma_read(struct iommu_device *dev, uint32_t pasid, unsigned long addr, void *buf,
		   size_t len);
int iommu_dma_write(struct iommu_device *dev, uint32_t pasid, unsigned long addr, const void *buf,
		    size_t len);

/**
 * iommu_page_request() - the device sends a page request (PRI) for @pasid
 * and waits for the response, as its DMA engine does on a translation miss
 *
 * Handled by the device's fault worker: it finds the bond of @pasid, takes
 * mm_users with mmget_not_zero() (failure: answered at once with -ESRCH),
 * faults the page in under mmap_read_lock (handle_mm_fault) and mmput()s.
 * May sleep; no lock may be held.
 * Return: 0, -EFAULT, -ESRCH, -ENOMEM, -ENODEV.
 */
int iommu_page_request(struct iommu_device *dev, uint32_t pasid, unsigned long addr, bool write);

/**
 * struct iommu_pasid_info - one entry of a device's PASID table
 * @pasid:   the PASID
 * @present: false once ->release cleared it (the mm has exited)
 * @mm_id:   mm_id() of its address space
 */
struct iommu_pasid_info {
	uint32_t pasid;
	bool present;
	unsigned long mm_id;
};

/**
 * iommu_dev_pasids() - the PASID table of @dev, in ascending PASID order
 * Return: the number of entries (even if more than @max; only @max are
 * filled). Takes dev->lock.
 */
int iommu_dev_pasids(struct iommu_device *dev, struct iommu_pasid_info *out, int max);

/**
 * iommu_pasid_nr_allocated() - PASIDs allocated system-wide right now
 *
 * A PASID is freed together with its notifier, after a grace period; call
 * mmu_notifier_synchronize() first for an exact answer.
 */
unsigned int iommu_pasid_nr_allocated(void);

/**
 * struct iommu_stats - counters of one device
 * @iotlb_entries:  translations cached in the IOTLB for the device now
 * @iotlb_fills:    IOTLB fills from a page-table walk
 * @iotlb_flushes:  invalidations received (arch_invalidate_secondary_tlbs)
 * @page_requests:  page requests handled by the fault worker
 * @prq_exited:     page requests answered -ESRCH because mmget_not_zero failed
 * @pasid_faults:   DMA aborted because the PASID was not present
 * @stale:          stale IOTLB entries caught (frame generation changed)
 * @iotlb_huge:     ... of @iotlb_entries, 2 MiB ones (the CPU maps a huge PMD
 *                  there); an invalidation touching any part drops it whole
 * @perm_fault_loops: DMAs that gave up after faulting again and again on a
 *                  read-only IOTLB entry nothing invalidated (a write to a
 *                  page made writable without a secondary-TLB flush)
 */
struct iommu_stats {
	unsigned long iotlb_entries;
	unsigned long iotlb_fills;
	unsigned long iotlb_flushes;
	unsigned long page_requests;
	unsigned long prq_exited;
	unsigned long pasid_faults;
	unsigned long stale;
	unsigned long iotlb_huge;
	unsigned long perm_fault_loops;
};

void iommu_dev_stats(struct iommu_device *dev, struct iommu_stats *st);

/**
 * iommu_sva_devfile_open() - open the device file of @dev in a process
 * whose address space is @mm, as an accelerator driver (uacce, idxd) does
 *
 * Opening binds the device to @mm (iommu_sva_bind_device(); same caller
 * rules); the file's release unbinds (iommu_sva_unbind_mm()). Its mmap
 * maps a device region (a doorbell page: VM_IO, not accessible to the CPU
 * in this model): the VMA holds a reference on the file -- seed 002's cycle
 * when the bond holds mm_users. @pasid, if not NULL, receives the PASID.
 * Return: the file with one reference (install it in the task's file table)
 * or ERR_PTR(-errno) as iommu_sva_bind_device().
 */
struct file *iommu_sva_devfile_open(struct iommu_device *dev, struct mm_struct *mm,
				    uint32_t *pasid);

SECMMU_END_DECLS

#endif /* SECMMU_IOMMU_H */
