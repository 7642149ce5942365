/* SPDX-License-Identifier: MIT */
/*
 * Page migration and KSM: two ways the primary MMU changes the frame behind
 * a virtual address while the data stays the same. A secondary MMU that
 * holds no pin follows along through its notifier (MMU_NOTIFY_CLEAR, as
 * Linux's try_to_migrate_one(), or the legacy change_pte for KSM); a pinned frame is never moved or merged.
 */
#ifndef SECMMU_MIGRATE_H
#define SECMMU_MIGRATE_H

#include "secmmu/compiler.h"
#include "secmmu/memremap.h"
#include "secmmu/mm.h"

SECMMU_BEGIN_DECLS

/**
 * migrate_range() - move every present page of [start, start+len) to a new
 * frame, content intact, updating every mapping of it (in every mm) under
 * an MMU_NOTIFY_CLEAR invalidation (MMU_NOTIFY_MIGRATE is for a device
 * driver's migrate_vma, with its owner)
 *
 * The caller holds an mm_users reference. KSM pages are left alone. A page
 * that somebody else holds for a moment (a reclaim or KSM pass, a device's
 * short-term reference, its page lock) is tried again, up to 10 passes as in
 * Linux.
 * Return: 0; -EBUSY if some page is pinned -- the others are still moved;
 * -EAGAIN if some page stayed busy through every pass; -EINVAL (unaligned),
 * -ENOMEM.
 */
int migrate_range(struct mm_struct *mm, unsigned long start, unsigned long len);

/**
 * ksm_scan_all() - one full KSM pass: merge identical private anonymous
 * pages of VM_MERGEABLE areas (MADV_MERGEABLE) of every process into one
 * write-protected frame. Secondary MMUs see the replacement through the
 * legacy change_pte callback inside an MMU_NOTIFY_CLEAR invalidation.
 * A write breaks the sharing by COW. Pinned pages are never merged.
 * Return: the number of frames freed by merging.
 */
unsigned long ksm_scan_all(void);

/* --- migrate_vma: moving pages between system and device memory -------- */

/* Entries of migrate_vma's src[] and dst[] arrays: a pfn and flags. */
#define MIGRATE_PFN_VALID   (1UL << 0) /* there is a page */
#define MIGRATE_PFN_MIGRATE (1UL << 1) /* src: it may move (cleared when it cannot) */
#define MIGRATE_PFN_WRITE   (1UL << 3) /* src: the CPU mapping was writable */
#define MIGRATE_PFN_SHIFT   6

static inline unsigned long migrate_pfn(unsigned long pfn)
{
	return (pfn << MIGRATE_PFN_SHIFT) | MIGRATE_PFN_VALID;
}

static inline struct page *migrate_pfn_to_page(unsigned long mpfn)
{
	if (!(mpfn & MIGRATE_PFN_VALID))
		return NULL;
	return pfn_to_page(mpfn >> MIGRATE_PFN_SHIFT);
}

enum migrate_vma_select {
	MIGRATE_VMA_SELECT_SYSTEM = 1 << 0,	    /* system pages (and empty anonymous ones) */
	MIGRATE_VMA_SELECT_DEVICE_PRIVATE = 1 << 1, /* device pages of pgmap_owner */
};

/**
 * struct migrate_vma - one migration of [start, end) of @vma
 * @vma:         the VMA; [start, end) must lie inside it
 * @src, @dst:   npages entries each, filled by migrate_vma_setup() (src) and
 *               by the driver (dst: migrate_pfn() of a page it allocated,
 *               with a reference, or 0 to skip that page)
 * @cpages:      out: pages collected (may move)
 * @npages:      out: (end - start) / PAGE_SIZE
 * @pgmap_owner: the device's cookie: device pages of this owner are
 *               selected, and the invalidation carries it as its owner
 * @flags:       MIGRATE_VMA_SELECT_*
 * @fault_page:  the device page whose CPU fault started this migration
 *               (from ->migrate_to_ram), or NULL
 */
struct migrate_vma {
	struct vm_area_struct *vma;
	unsigned long *dst;
	unsigned long *src;
	unsigned long cpages;
	unsigned long npages;
	unsigned long start;
	unsigned long end;
	void *pgmap_owner;
	unsigned long flags;
	struct page *fault_page;
};

/**
 * migrate_vma_setup() - collect and unmap the pages of [start, end)
 *
 * Every collected page is locked and unmapped from every process that maps
 * it (its PTEs become migration entries, under MMU_NOTIFY_MIGRATE
 * invalidations carrying @args->pgmap_owner, so the migrating driver may
 * skip its own). Pages that cannot move -- pinned, locked by somebody else,
 * KSM, swap cache, swapped out, device pages of another owner -- are left
 * in place with src 0 (a collected page is always VALID and MIGRATE, locked
 * and unmapped, until migrate_vma_finalize()). Empty and zero-page
 * entries of anonymous memory are collected as src = MIGRATE_PFN_MIGRATE
 * without a page, for a new page to fill. The caller holds mmap_lock for
 * read and an mm_users reference, and must call migrate_vma_pages() and
 * migrate_vma_finalize() after a 0 return. Return: 0, -EINVAL (bad range,
 * flags or VMA), -ENOMEM.
 */
int migrate_vma_setup(struct migrate_vma *args);

/**
 * migrate_vma_pages() - switch the struct page state of every src entry that
 * still migrates and has a dst page over to it; insert the new pages of
 * empty entries. Shared memory (shmem, file pages) never moves to device
 * memory: its src loses MIGRATE_PFN_MIGRATE here, as in Linux. The driver
 * has copied the data before.
 */
void migrate_vma_pages(struct migrate_vma *args);

/**
 * migrate_vma_finalize() - map the new pages where the old ones were (the
 * old ones where migration failed), unlock, drop the collect references and
 * the driver's dst references. Old pages whose last reference goes are freed
 * (->page_free for device pages).
 */
void migrate_vma_finalize(struct migrate_vma *args);

/**
 * migrate_device_range() - start moving the device pages [start_pfn,
 * start_pfn + npages) out, wherever they are mapped (a driver evicting its
 * memory). Fills @src as migrate_vma_setup() does (pages in use only, found
 * through the reverse map); the driver then fills @dst with system pages,
 * copies, and calls migrate_device_pages() and migrate_device_finalize().
 * No mmap_lock needed. Return: 0 or -EINVAL.
 */
int migrate_device_range(unsigned long *src, unsigned long start_pfn, unsigned long npages);
void migrate_device_pages(unsigned long *src, unsigned long *dst, unsigned long npages);
void migrate_device_finalize(unsigned long *src, unsigned long *dst, unsigned long npages);

/**
 * make_device_exclusive() - give a device exclusive access to the page at
 * @addr: fault it in for write, then replace its PTE by a device-exclusive
 * entry (the CPU loses access) inside an MMU_NOTIFY_EXCLUSIVE invalidation
 * carrying @owner. A CPU touch later restores the PTE, inside an
 * invalidation the device must honour (its exclusive access ends).
 *
 * Caller holds mmap_lock for read. Return: the page, locked (PG_locked) and
 * referenced -- the driver maps it, then unlock_page() and put_page() -- or
 * ERR_PTR(-EFAULT / -EPERM (not writable) / -EBUSY / -ENOMEM).
 */
struct page *make_device_exclusive(struct mm_struct *mm, unsigned long addr, void *owner);

/* Release a page lock taken by make_device_exclusive() (or a driver's allocator). */
void unlock_page(struct page *page);

SECMMU_END_DECLS

#endif /* SECMMU_MIGRATE_H */
