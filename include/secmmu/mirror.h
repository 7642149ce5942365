/* SPDX-License-Identifier: MIT */
/*
 * A mirroring device: the reference secondary MMU (after lib/test_hmm.c).
 *
 * The device has its own page table (a radix tree of 2 MiB leaves), filled
 * on device faults through hmm_range_fault() and kept coherent by one
 * interval notifier per 2 MiB the device has mapped (as nouveau and amdgpu
 * register intervals per mapped range): an invalidation of one range does
 * not disturb faults elsewhere. No page is pinned, so everything it maps can
 * be unmapped, swapped, migrated or merged under it. DMA engine threads (one
 * per queue, up to four per device: transfers of different threads run in
 * parallel) do the transfers with real memcpy through the device's
 * translations, a run of contiguous frames at a time; every access checks
 * the frame generation recorded at fault time, so a translation that
 * outlived its frame is caught (phys_stale_count()).
 *
 * MIRROR_BROKEN makes the invalidate callback ignore invalidations (it only
 * bumps the sequence): a documented "broken device" (docs/architecture.md,
 * Broken devices), per device, for the stale-translation demos and the tests
 * that prove the checker catches one.
 */
#ifndef SECMMU_MIRROR_H
#define SECMMU_MIRROR_H

#include "secmmu/compiler.h"
#include <stddef.h>

#include "secmmu/mm.h"
#include "secmmu/memremap.h"

SECMMU_BEGIN_DECLS

struct mirror;

#define MIRROR_BROKEN 0x1U

/**
 * mirror_create() - attach a mirroring device to @mm
 *
 * The caller holds an mm_users reference. The device holds mm_count
 * references until mirror_destroy(): one through a classic notifier that
 * answers the aging callbacks from its accessed bits, and one per interval
 * notifier (mirror_nr_intervals(): one per 2 MiB it has mapped, inserted by
 * the first fault there). Return: the device or
 * ERR_PTR(-ENOMEM / -EINVAL (mm exited) / -EINTR).
 */
struct mirror *mirror_create(struct mm_struct *mm, unsigned int flags);

/**
 * mirror_create_devmem() - as mirror_create(), with @device_pages pages of
 * device-private memory (mirror_create() gives MIRROR_DEVMEM_DEFAULT).
 * Return: as mirror_create(); -EINVAL also for 0 or too many pages.
 */
#define MIRROR_DEVMEM_DEFAULT 4096
struct mirror *mirror_create_devmem(struct mm_struct *mm, unsigned int flags,
				    unsigned long device_pages);

/*
 * mirror_create_named() - as mirror_create_devmem(); @name (may be NULL)
 * names the device's DMA engine thread in traces: "mirror NAME dma" (the
 * default: "mirror dma"). The name is copied.
 */
struct mirror *mirror_create_named(struct mm_struct *mm, unsigned int flags,
				   unsigned long device_pages, const char *name);

/**
 * mirror_destroy() - detach: stop the DMA engine, move every page still in
 * the device's memory back to system memory (in whatever process maps it),
 * remove the notifiers (waiting for callbacks), free the device page table
 * and the device memory.
 *
 * A second destroy of the same device (or of one never created) is API
 * misuse: WARNed once, nothing done, @m never dereferenced.
 */
void mirror_destroy(struct mirror *m);

/**
 * mirror_read() / mirror_write() - DMA through the device's translations,
 * faulting them in as needed: a missing translation faults the rest of the
 * request in at once (one device fault, many pages, as dmirror). Pages in
 * this device's memory are used where they are; pages in another device's
 * memory are brought back to system memory first. Runs on the device's DMA
 * engine thread; the caller waits. Return: 0, -EFAULT (not mapped / not
 * readable), -EPERM (a write to a read-only mapping), -ESRCH (the mm has
 * exited), -ENOMEM, -EIO (a stale translation was detected: the driver is
 * broken).
 */
int mirror_read(struct mirror *m, unsigned long addr, void *buf, size_t len);
int mirror_write(struct mirror *m, unsigned long addr, const void *buf, size_t len);

/**
 * mirror_migrate_to_device() - move [addr, addr+len) into the device's memory
 * (dmirror's HMM_DMIRROR_MIGRATE_TO_DEV): migrate_vma_*() with
 * MIGRATE_VMA_SELECT_SYSTEM; never-touched anonymous pages get a zeroed
 * device page; the moved pages are mapped in the device page table. The CPU
 * gets them back by touching them. Runs on the caller's thread.
 * Return: 0 if every page of the range is now in this device's memory;
 * -ENOENT if some could not move (shared memory, pinned, another device's);
 * -ENOMEM (device memory exhausted; the rest stays), -EINVAL (unaligned, no
 * VMA or a VMA that cannot be read), -ESRCH (the mm has exited).
 */
int mirror_migrate_to_device(struct mirror *m, unsigned long addr, size_t len);

/**
 * mirror_migrate_to_system() - move this device's pages of [addr, addr+len)
 * back to system memory (HMM_DMIRROR_MIGRATE_TO_SYS). Pages not on this
 * device are left alone. Return: 0, -EINVAL, -ENOMEM, -ESRCH.
 */
int mirror_migrate_to_system(struct mirror *m, unsigned long addr, size_t len);

/**
 * mirror_exclusive() - take exclusive access to [addr, addr+len)
 * (make_device_exclusive(); HMM_DMIRROR_EXCLUSIVE): the CPU loses access
 * until it touches a page, which ends the device's exclusive access to it.
 * Return: 0, -EFAULT (no VMA), -EPERM (read-only), -EBUSY, -EINVAL, -ESRCH.
 */
int mirror_exclusive(struct mirror *m, unsigned long addr, size_t len);

/* What the device sees of one page (mirror_snapshot; HMM_DMIRROR_PROT_*). */
enum mirror_prot {
	MIRROR_PROT_NONE = 0x00, /* nothing the device could map (not present, no fault) */
	MIRROR_PROT_READ = 0x01,
	MIRROR_PROT_WRITE = 0x02,
	MIRROR_PROT_ZERO = 0x10,	      /* the zero page (with READ) */
	MIRROR_PROT_DEV_PRIVATE_LOCAL = 0x20, /* in this device's memory (with READ or WRITE) */
	/*
	 * In another device's memory. As in dmirror, never seen in practice:
	 * hmm_range_fault() shows a device only its own device-private pages
	 * (another device's read as NONE, or are faulted back).
	 */
	MIRROR_PROT_DEV_PRIVATE_REMOTE = 0x30,
	MIRROR_PROT_EXCLUSIVE = 0x40, /* held exclusively by this device (with WRITE) */
	MIRROR_PROT_ERROR = 0xff,     /* no VMA, or a VMA that cannot be read */
};

struct mirror_snap {
	unsigned char prot;  /* enum mirror_prot bits */
	unsigned char order; /* of the CPU mapping (hmm_pfn_to_map_order()) */
};

/**
 * mirror_snapshot() - what the device would map for each page of
 * [addr, addr+len), without faulting anything (HMM_DMIRROR_SNAPSHOT):
 * hmm_range_fault() with this device as dev_private_owner. Another device's
 * page is not visible to this one (NONE), as in the kernel's test.
 * @snap: len / PAGE_SIZE entries. Return: 0, -EINVAL, -ESRCH, -ENOMEM.
 */
int mirror_snapshot(struct mirror *m, unsigned long addr, size_t len, struct mirror_snap *snap);

/* Translations currently installed in the device page table. */
unsigned long mirror_nr_entries(struct mirror *m);
/*
 * ... of which map 2 MiB: one entry per 2 MiB the CPU maps with a huge PMD
 * (hmm_pfn_to_map_order()); any invalidation touching it drops it whole.
 */
unsigned long mirror_nr_huge_entries(struct mirror *m);
/* Invalidations received, and stale translations detected. */
unsigned long mirror_nr_invalidations(struct mirror *m);
unsigned long mirror_nr_stale(struct mirror *m);
/*
 * CPU faults on a page in the device's memory whose migration back failed
 * because the page was busy (another reference): each one a wasted round,
 * and with enough faulting threads a livelock. 0 when correct.
 */
unsigned long mirror_nr_lost_faults(struct mirror *m);

/**
 * mirror_lock() / mirror_unlock() - a memory lock, as a GPU runtime's
 * (hsa_amd_memory_lock()): [@addr, @addr + @len) is faulted into the device
 * and stays mapped there until mirror_unlock(); the device's copy engine
 * reads and writes it without retry faults (a missing translation there is
 * a fatal fault: the DMA fails with -EFAULT, counted by
 * mirror_nr_locked_faults()). The pages are pinned (not longterm), so that
 * migration, compaction, reclaim and KSM leave them alone. At most 16 pages,
 * one range per device. May sleep.
 *
 * Return: 0; -EINVAL (unaligned, empty, too long), -EBUSY (a range is locked
 * already), -ESRCH (the process exited), -EFAULT, -ENOMEM. mirror_unlock():
 * 0 or -ENOENT (nothing locked). mirror_destroy() unlocks.
 */
int mirror_lock(struct mirror *m, unsigned long addr, size_t len);
int mirror_unlock(struct mirror *m);
/* Frames mirror_lock() pinned (0 when none; the zero page takes no pin). */
unsigned long mirror_locked_pages(struct mirror *m);
/* DMA into a locked range that found it unmapped (0 when correct). */
unsigned long mirror_nr_locked_faults(struct mirror *m);
/*
 * Device faults (each may fill many pages: the rest of the request), and
 * pages copied (DMA), migrated, made exclusive or snapshotted -- dmirror's
 * faults and cpages, counted since the device was created.
 */
unsigned long mirror_nr_faults(struct mirror *m);
unsigned long mirror_nr_cpages(struct mirror *m);
/*
 * Collision retries of device faults: hmm_range_fault() or
 * mmu_interval_read_retry() found that an invalidation of the range's 2 MiB
 * ran meanwhile, and the fault was redone. Invalidations of other 2 MiB
 * ranges cause none (one interval notifier per 2 MiB the device maps).
 */
unsigned long mirror_nr_fault_retries(struct mirror *m);
/* Interval notifiers the device holds: one per 2 MiB it has mapped (each an mm_count). */
unsigned long mirror_nr_intervals(struct mirror *m);
/* Pages of the device's memory in use. */
unsigned long mirror_device_pages(struct mirror *m);

SECMMU_END_DECLS

#endif /* SECMMU_MIRROR_H */
