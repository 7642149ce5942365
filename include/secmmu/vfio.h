/* SPDX-License-Identifier: MIT */
/*
 * VFIO SPAPR-TCE containers with memory preregistration (seeds 000 and 001).
 *
 * Two layers, as in Linux:
 *
 *  mm_iommu_*   (arch/powerpc/mm/book3s64/iommu_api.c) the per-mm registry of
 *               preregistered regions: the mm->context.iommu_group_mem_list
 *               of struct mm_iommu_table_group_mem_t. A region is pinned
 *               (FOLL_WRITE | FOLL_LONGTERM) and charged to locked_vm ONCE per
 *               mm; its "used" count is shared by every container of that mm
 *               that registered it.
 *
 *  tce_iommu_*  (drivers/vfio/vfio_iommu_spapr_tce.c) the container. Each
 *  vfio_*       container remembers the regions IT preregistered (its
 *               prereg_list) and puts exactly those when it is released,
 *               i.e. when its file is closed. Registering one region twice in
 *               one container is -EBUSY.
 *
 * THE LIFETIME RULE (seed 000, merged as seed 001 v7): preregistered memory
 * never waits for the last mmdrop(). A process's exit runs exit_mm() (its
 * mm_users reference goes) and then exit_files(): the container's file is
 * closed and the container puts its regions, so the pages are unpinned and
 * locked_vm uncharged right there, even while a lazy-TLB kernel thread keeps
 * the mm struct (mm_count) alive for hours. destroy_context() at the last
 * mmdrop() only WARNs if a region is left (a put that failed); see
 * vfio_destroy_context_warnings() for what then happens to it.
 *
 * "current": the ioctl-style calls take @mm, the address space of the
 * calling process, on which the caller holds an mm_users reference (it is
 * running). The first such call binds the container to that mm
 * (tce_iommu_mm_set: mmgrab, dropped at release); a call from another mm is
 * -EPERM.
 *
 * LOCKING: container->lock (LOCK_RANK_DRIVER) is held across every call into
 * the mm (pinning takes mmap_lock). The registry uses one global mutex of rank
 * LOCK_RANK_LEAF (Linux's mem_list_mutex), taken inside container->lock and
 * never held across a call out. No function here may be called with a lock of
 * rank >= LOCK_RANK_DRIVER held; all may sleep.
 */
#ifndef SECMMU_VFIO_H
#define SECMMU_VFIO_H

#include "secmmu/compiler.h"
#include <stdbool.h>

SECMMU_BEGIN_DECLS

/*
 * The container's mm_count in the mm's reference tracker (mm.h), the struct
 * tce_container being the owner: taken by its first ioctl (the container is
 * bound to the caller's mm), dropped when its file is released.
 */
#define VFIO_CONTAINER_HOLDER_KIND "vfio container"

struct mm_struct;
struct task_struct;
struct tce_container;
struct mm_iommu_table_group_mem_t;

/* --- the per-mm registry (iommu_api.c) ---------------------------------- */

/**
 * mm_iommu_get() - find or create the preregistered region [ua, ua + entries pages)
 * @mm:      the address space; caller holds mm_users
 * @ua:      page-aligned user address
 * @entries: number of pages, > 0
 * @pmem:    out, the region, with one "used" reference for the caller
 *
 * An existing region with exactly this range gains a use; otherwise the
 * pages are charged to locked_vm, pinned and a region with used == 1 is added
 * to the mm's list. Pairs with mm_iommu_put(). May sleep; takes mmap_lock
 * (read) and the registry lock.
 *
 * Return: 0, -EINVAL (overlaps a different region), -ENOMEM (memlock limit
 * or no memory), -EFAULT (a page cannot be pinned; nothing stays pinned).
 */
long mm_iommu_get(struct mm_struct *mm, unsigned long ua, unsigned long entries,
		  struct mm_iommu_table_group_mem_t **pmem);

/**
 * mm_iommu_put() - drop a use of @mem; the last one unpins, uncharges, frees
 * @mm: the region's mm; caller holds at least mm_count
 *
 * Return: 0; -ENOENT if @mem has no user; -EBUSY if this is the last use and
 * the region is still mapped (mm_iommu_mapped_inc): the use is kept.
 */
long mm_iommu_put(struct mm_struct *mm, struct mm_iommu_table_group_mem_t *mem);

/**
 * mm_iommu_find() - the region with exactly [ua, ua + entries pages), no reference
 * Return: the region or NULL. Only stable while the caller holds a use on it.
 */
struct mm_iommu_table_group_mem_t *mm_iommu_find(struct mm_struct *mm, unsigned long ua,
						 unsigned long entries);

/**
 * mm_iommu_mapped_inc() / mm_iommu_mapped_dec() - a TCE entry now (no longer)
 * points into @mem. inc is -ENXIO once the region has no user.
 */
long mm_iommu_mapped_inc(struct mm_iommu_table_group_mem_t *mem);
void mm_iommu_mapped_dec(struct mm_iommu_table_group_mem_t *mem);

/* Number of regions on @mm's list (the caller holds mm_count). */
unsigned long mm_iommu_nr_regions(struct mm_struct *mm);

/*
 * Pages pinned (and charged to locked_vm) by the regions on @mm's list, each
 * region counted once however many containers use it (the caller holds
 * mm_count). For invariant checks.
 */
unsigned long mm_iommu_pinned_pages(struct mm_struct *mm);

/* --- containers (vfio_iommu_spapr_tce.c) -------------------------------- */

/**
 * vfio_spapr_tce_open() - open a container as @task: a file in @task's file
 * table, so the task's exit (exit_files, after exit_mm) releases it
 * @containerp: out, the container with one reference for the caller
 *              (vfio_container_put()); the file holds another
 *
 * Return: 0, -ESRCH (@task exited), -ENOMEM. May sleep.
 */
int vfio_spapr_tce_open(struct task_struct *task, struct tce_container **containerp);

/*
 * VFIO_TCE_LEGACY: a documented feature, the container as it was before
 * seed 000, kept to prove the rule: no per-container tracking (registering
 * twice just adds a use), its release puts nothing, and its regions are
 * unpinned only by destroy_context() at the last mmdrop() -- so a lazy-TLB
 * kernel thread keeps them pinned after exit. Per container (a scenario's
 * `vfio C NAME legacy`); the museum's seed000-prereg-at-mmdrop switch makes
 * every container legacy.
 */
#define VFIO_TCE_LEGACY 0x1U

/**
 * struct tce_iommu_ops - the container's test seam (a const table given at
 * open; NULL: the default)
 * @prereg_put: put one region this container preregistered, in place of
 *   mm_iommu_put(): return 0 or a negative errno (a failed put is warned
 *   about and the entry kept, as in Linux). Called with the container's
 *   lock held (LOCK_RANK_DRIVER): must not sleep on anything the container
 *   or mm_iommu takes, must not call into the container. @priv is the
 *   pointer given at open. The scenario's `vfio_fail_next_put` uses it to
 *   fail the next put with -EBUSY.
 */
struct tce_iommu_ops {
	long (*prereg_put)(struct mm_struct *mm, struct mm_iommu_table_group_mem_t *mem,
			   void *priv);
};

/**
 * vfio_spapr_tce_open_ops() - vfio_spapr_tce_open() with @flags (0 or
 * VFIO_TCE_LEGACY) and a test seam (@ops, @priv; both may be NULL)
 * Return: as vfio_spapr_tce_open(), or -EINVAL for an unknown flag.
 */
int vfio_spapr_tce_open_ops(struct task_struct *task, unsigned int flags,
			    const struct tce_iommu_ops *ops, void *priv,
			    struct tce_container **containerp);

/* Drop the caller's reference from vfio_spapr_tce_open(). */
void vfio_container_put(struct tce_container *container);

/**
 * vfio_container_close() - close(2) of the container's file by @task
 *
 * The last close releases the container (tce_iommu_release): every TCE
 * mapping is cleared, every region the container preregistered is put (a
 * failed put is warned about and the entry kept), and the mm_count taken by
 * tce_iommu_mm_set() is dropped. The caller serialises this against @task's
 * exit. Return: 0, or -EBADF if the file is no longer open in @task.
 */
int vfio_container_close(struct tce_container *container, struct task_struct *task);

/* The container's file was released (closed by close() or exit). */
bool vfio_container_released(struct tce_container *container);

/*
 * The container holds mm_count on the mm it is bound to: from its first
 * ioctl with an mm (tce_iommu_mm_set) until its release. Takes
 * container->lock.
 */
bool vfio_container_holds_mm(struct tce_container *container);

/**
 * tce_iommu_register_pages() - VFIO_IOMMU_SPAPR_REGISTER_MEMORY
 * @mm: the caller's address space (current->mm), mm_users held
 *
 * Return: 0, -EBUSY (already preregistered in THIS container), -EINVAL
 * (unaligned or zero, or overlapping a different region of the mm), -ENOMEM
 * (RLIMIT_MEMLOCK), -EFAULT, -EPERM (another mm), -EBADF (released).
 */
long tce_iommu_register_pages(struct tce_container *container, struct mm_struct *mm,
			      unsigned long vaddr, unsigned long size);

/**
 * tce_iommu_unregister_pages() - VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY
 * Return: 0, -ENOENT (not preregistered by this container), -EBUSY (TCE
 * entries still point into it; or the put failed: the entry is kept),
 * -EINVAL, -EPERM, -EBADF.
 */
long tce_iommu_unregister_pages(struct tce_container *container, struct mm_struct *mm,
				unsigned long vaddr, unsigned long size);

/**
 * tce_iommu_map() - VFIO_IOMMU_MAP_DMA: TCE entries for [iova, iova + size)
 * pointing at [vaddr, vaddr + size), one per 4 KiB page, each page inside a
 * region preregistered by any container of @mm (Linux's
 * tce_iommu_build_v2() looks it up in the mm's list). An existing entry is
 * replaced; a page outside every region stops the map and clears the
 * entries this call built.
 * Return: 0, -EINVAL (a page not preregistered, unaligned, zero), -ENOMEM,
 * -EPERM, -EBADF.
 */
long tce_iommu_map(struct tce_container *container, struct mm_struct *mm, unsigned long iova,
		   unsigned long vaddr, unsigned long size);

/**
 * tce_iommu_unmap() - VFIO_IOMMU_UNMAP_DMA: clear every TCE entry of
 * [iova, iova + size); empty entries are skipped (tce_iommu_clear()).
 * Return: 0, -EINVAL (unaligned, zero), -EBADF.
 */
long tce_iommu_unmap(struct tce_container *container, unsigned long iova, unsigned long size);

/* Introspection (container->lock taken): regions in prereg_list, mappings. */
unsigned long vfio_container_nr_prereg(struct tce_container *container);
unsigned long vfio_container_nr_mappings(struct tce_container *container);

/* --- counters (tests and scenarios assert on them) ----------------------- */

/* Puts that failed in tce_iommu_release() (warned; entry kept). */
unsigned long vfio_release_warnings(void);

/*
 * destroy_context() found a (non-legacy) region left at the last mmdrop():
 * one WARN per region. Nothing can reach the region any more, so it is then
 * unpinned and freed from an RCU callback (destroy_context runs where frames
 * may not be freed); upstream Linux only warns and leaks it.
 */
unsigned long vfio_destroy_context_warnings(void);

/*
 * Regions still on an mm's list when its last mmput() ran arch_exit_mmap:
 * in the merged design the containers are still open then (exit_files comes
 * after exit_mm) and put them a moment later; v1's cleanup there is not
 * needed, and would pull regions from under open containers.
 */
unsigned long vfio_exit_mmap_regions_seen(void);

SECMMU_END_DECLS

#endif /* SECMMU_VFIO_H */
