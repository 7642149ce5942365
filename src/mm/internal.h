/* SPDX-License-Identifier: MIT */
/* Internal interfaces of the primary MMU (src/mm). */
#ifndef SECMMU_MM_INTERNAL_H
#define SECMMU_MM_INTERNAL_H

#include "base/wait.h"
#include "mm/mm_types.h"
#include "secmmu/mmu_notifier.h"
#include "secmmu/mmu_notifier_hooks.h"

/* --- PTE encoding --------------------------------------------------------
 * present: bits 12..51 hold the pfn.
 * !present && SWAP: bits 12..51 hold the swap slot.
 * 0 is "none".
 */
#define PTE_PRESENT   (1ULL << 0)
#define PTE_WRITE     (1ULL << 1)
#define PTE_YOUNG     (1ULL << 2)
#define PTE_DIRTY     (1ULL << 3)
#define PTE_SWAP      (1ULL << 4)
#define PTE_MIGRATING (1ULL << 5) /* !present: a migration is in flight; faults wait */
/*
 * A swap entry of a page that was exclusive to this mm when it was unmapped
 * (Linux's SWP_EXCLUSIVE): swap-in from the swap cache may keep it exclusive
 * -- it must, or a write in flight through a GUP reference would be lost to
 * a COW copy. fork clears it in both entries.
 */
#define PTE_SWAP_EXCL (1ULL << 6)
/*
 * !present: the page lives in device-private memory; the pfn bits hold the
 * device pfn, PTE_WRITE says whether the mapping is writable. A CPU fault
 * calls the pagemap owner's ->migrate_to_ram(). The entry holds a page
 * reference and a mapcount, and counts in rss, as a present PTE does.
 */
#define PTE_DEVICE (1ULL << 7)
/*
 * !present: a device has exclusive access to the system page in the pfn bits
 * (make_device_exclusive()); PTE_WRITE as it was. A CPU fault restores the
 * PTE. Holds a reference and a mapcount, counts in rss.
 */
#define PTE_DEVICE_EXCL (1ULL << 8)
/*
 * A PMD that maps a transparent huge page (x86's _PAGE_PSE): PRESENT, HUGE,
 * the head pfn, WRITE/YOUNG/DIRTY as a PTE. A PMD slot otherwise holds 0 or
 * a pointer to a leaf table, whose bit 0 is never set.
 */
#define PTE_HUGE      (1ULL << 9)
#define PTE_PFN_SHIFT 12
#define PTE_PFN_MASK  (((1ULL << 40) - 1) << PTE_PFN_SHIFT)

static inline bool pte_none(uint64_t pte)
{
	return pte == 0;
}

static inline bool pte_present(uint64_t pte)
{
	return pte & PTE_PRESENT;
}

static inline bool pte_write(uint64_t pte)
{
	return pte & PTE_WRITE;
}

static inline unsigned long pte_pfn(uint64_t pte)
{
	return (pte & PTE_PFN_MASK) >> PTE_PFN_SHIFT;
}

static inline uint64_t pfn_pte(unsigned long pfn, bool write)
{
	return ((uint64_t)pfn << PTE_PFN_SHIFT) | PTE_PRESENT | PTE_YOUNG | (write ? PTE_WRITE : 0);
}

static inline bool pte_is_device(uint64_t pte)
{
	return !pte_present(pte) && (pte & PTE_DEVICE);
}

static inline bool pte_is_device_excl(uint64_t pte)
{
	return !pte_present(pte) && (pte & PTE_DEVICE_EXCL);
}

/* A non-present entry that still maps a page (device-private or exclusive). */
static inline bool pte_maps_page(uint64_t pte)
{
	return pte_present(pte) || (pte & (PTE_DEVICE | PTE_DEVICE_EXCL));
}

static inline uint64_t device_pte(unsigned long pfn, bool write)
{
	return ((uint64_t)pfn << PTE_PFN_SHIFT) | PTE_DEVICE | (write ? PTE_WRITE : 0);
}

static inline bool pmd_trans_huge(uint64_t pmd)
{
	return pmd & PTE_PRESENT;
}

static inline uint64_t pte_load(pte_t *ptep)
{
	return atomic_load_explicit(ptep, memory_order_acquire);
}

/* PTE stores happen under the page-table lock. */
static inline void set_pte(struct mm_struct *mm, pte_t *ptep, uint64_t pte)
{
	lockdep_assert_held(&mm->page_table_lock);
	atomic_store_explicit(ptep, pte, memory_order_release);
}

/* --- page tables (pgtable.c) -------------------------------------------- */

pte_t *pgd_alloc(void);
/* Free every table (the struct is being freed). */
void free_pgtables(struct mm_struct *mm);
/* fault.c: a PTE/PMD of [start, end) made writable in place; caller holds the PTL. */
void flush_secondary_upgrade(struct mm_struct *mm, unsigned long start, unsigned long end);
/* Free every table but the pgd (exit_mmap: the address space is gone). */
void free_pgtables_below_pgd(struct mm_struct *mm);
/* The PTE slot for @addr or NULL if a table on the way is missing. */
pte_t *pte_offset(struct mm_struct *mm, unsigned long addr);
/* The PTE slot, allocating tables; caller holds the PTL. NULL on -ENOMEM. */
pte_t *pte_alloc(struct mm_struct *mm, unsigned long addr);
/* Next address >= @addr whose leaf table exists, or @end (a huge PMD has none). */
unsigned long pte_next_table(struct mm_struct *mm, unsigned long addr, unsigned long end);
/* Next address >= @addr whose PMD is a leaf table or a huge PMD, or @end. */
unsigned long pmd_next_present(struct mm_struct *mm, unsigned long addr, unsigned long end);
/* The PMD slot of @addr, or NULL if an upper table is missing. */
pte_t *pmd_offset(struct mm_struct *mm, unsigned long addr);
/* The PMD slot, allocating upper tables; caller holds the PTL. NULL on -ENOMEM. */
pte_t *pmd_alloc(struct mm_struct *mm, unsigned long addr);
/* The leaf table a PMD points to, or NULL (none, or a huge PMD). */
pte_t *pmd_pte_table(pte_t *pmdp);
pte_t *pte_table_alloc(void);
void pte_table_free(pte_t *table);
/* Point @pmdp at @table (release store). Caller holds the PTL. */
void pmd_populate(struct mm_struct *mm, pte_t *pmdp, pte_t *table);
/*
 * Free the (empty) leaf tables whose whole 2 MiB lies in [start, end).
 * Caller holds mmap_lock for write and rmap_lock for write.
 */
void free_pte_tables(struct mm_struct *mm, unsigned long start, unsigned long end);

/* --- physical memory (phys.c) ------------------------------------------- */

struct page *zero_page(void);

static inline bool is_zero_pfn(unsigned long pfn)
{
	return pfn == 0;
}

/* --- device-private memory (memremap.c) ---------------------------------- */

#define DEV_PAGEMAP_SLOTS 64
/* The pagemap registered in @slot, or NULL (for check: no lock, quiescent callers). */
struct dev_pagemap *device_pagemap_slot(int slot);
bool device_pfn(unsigned long pfn);
struct page *device_pfn_to_page(unsigned long pfn);
unsigned long device_page_to_pfn(const struct page *page);
void *device_page_address(const struct page *page);
/* The last reference is gone: back to the owner through ->page_free(). */
void device_page_free(struct page *page);

/* --- reverse map objects (anon.c) ---------------------------------------- */

/*
 * struct anon_vma: the reverse map of private anonymous pages. Pages point to
 * it through page->mapping with page->index = linear page offset, without a
 * reference: only the VMAs on @vmas hold one. So page->mapping is trusted
 * only while the page is mapped (a mapping PTE lies in one of those VMAs),
 * and the object is freed after an RCU grace period: page_get_anon_vma()
 * reads it under RCU and takes a reference only if it is not already dying
 * (as Linux's folio_get_anon_vma()).
 */
struct anon_vma {
	_Atomic long refcount;
	struct sm_mutex lock; /* @vmas; LOCK_RANK_ANON_VMA */
	struct list_head vmas;
	struct sm_rcu_head rcu;
};

/*
 * struct shmem_obj: the backing object of a shared anonymous mapping (a
 * shmem file). Fixed size: accesses beyond it fault (SIGBUS), even if mremap
 * grew the VMA. Refcounted by the VMAs mapping it.
 */
/*
 * The pages of a shmem_obj point back to it (page->mapping) without a
 * reference; the object clears page->mapping before it lets go of a page,
 * and it is freed after an RCU grace period, so page_get_shmem() can take a
 * reference under RCU the same way.
 */
/*
 * The pages of a shmem_obj live in a sparse two-level table allocated on
 * first use, as Linux's page cache (an xarray): a directory entry covers
 * 2^18 pages (a table of 512 chunk pointers), a chunk 512 pages. A 2 TiB
 * mapping costs 16 KiB of directory until it is touched.
 */
#define SHMEM_CHUNK_SHIFT 9
#define SHMEM_CHUNK_PAGES (1UL << SHMEM_CHUNK_SHIFT)
#define SHMEM_DIR_SHIFT	  (2 * SHMEM_CHUNK_SHIFT)

struct shmem_chunk {
	struct page *pages[SHMEM_CHUNK_PAGES]; /* one reference each */
	unsigned long swap[SHMEM_CHUNK_PAGES]; /* swap slot + 1 of a page written out, or 0 */
};

struct shmem_obj {
	struct sm_rcu_head rcu;
	_Atomic long refcount;
	struct sm_mutex lock;	/* the table (@dir and below); LOCK_RANK_SHMEM */
	unsigned long nr_pages; /* the size: accesses at or beyond it fault (SIGBUS) */
	unsigned long cap;	/* pages @dir can address (never shrinks) */
	struct shmem_chunk **
		*dir; /* (cap >> SHMEM_DIR_SHIFT) + 1 entries, each NULL or 512 chunk pointers */
	struct sm_mutex vma_lock; /* @vmas (the reverse map); LOCK_RANK_ANON_VMA */
	struct list_head vmas;
	struct list_head all; /* shmem_objs, under shmem_objs_lock; no reference */
};

struct anon_vma *anon_vma_alloc(void);
void anon_vma_get(struct anon_vma *av);
void anon_vma_put(struct anon_vma *av);
/* The anon_vma of a mapped anonymous page, referenced, or NULL (not mapped, or dying). */
struct anon_vma *page_get_anon_vma(struct page *page);
/* The shmem object owning @page, referenced, or NULL (none, or dying). */
struct shmem_obj *page_get_shmem(struct page *page);
struct shmem_obj *shmem_obj_alloc(unsigned long nr_pages);
/*
 * The page / swap slot of index @idx of @obj, or NULL if its chunk was never
 * allocated (then both are empty) and @alloc is false (or allocation
 * failed). Caller holds obj->lock, or owns the object alone.
 */
struct page **shmem_page_slot(struct shmem_obj *obj, unsigned long idx, bool alloc);
unsigned long *shmem_swap_slot(struct shmem_obj *obj, unsigned long idx, bool alloc);
/* The first index >= @idx (below cap) whose chunk exists, or obj->cap. */
unsigned long shmem_next_present(struct shmem_obj *obj, unsigned long idx);
/* Every index of [first, end) whose chunk exists (others are empty). */
#define shmem_for_each_present(obj, i, first, end)                                                 \
	for (unsigned long i = shmem_next_present(obj, first); i < (end);                          \
	     i = shmem_next_present(obj, i + 1))
/*
 * shmem_obj_get_all() - a reference on every live object (mapped or not:
 * a file nobody maps still owns its pages and swap slots), for the checker.
 * Return: a kcalloc'ed array of *@nr objects (release with
 * shmem_obj_put_all()), NULL if there are none, ERR_PTR(-ENOMEM).
 */
struct shmem_obj **shmem_obj_get_all(size_t *nr);
void shmem_obj_put_all(struct shmem_obj **objs, size_t nr);
void shmem_obj_get(struct shmem_obj *obj);
/* Attach @vma to @obj (a reference, and the reverse map); detach in vma_free(). */
void vma_set_shm(struct vm_area_struct *vma, struct shmem_obj *obj);
void vma_clear_shm(struct vm_area_struct *vma);
void shmem_obj_put(struct shmem_obj *obj);
/* The page at @pgoff, allocated on first use, with a reference for the caller. */
int shmem_obj_get_page(struct shmem_obj *obj, unsigned long pgoff, struct page **pagep);
/* Return: 0, or -ENOMEM with nothing punched. */
int shmem_obj_punch_hole(struct shmem_obj *obj, unsigned long first, unsigned long last);
void shmem_obj_zero_tail(struct shmem_obj *obj, unsigned long pgoff, unsigned long offset);
unsigned long shmem_obj_find_pages(struct shmem_obj *obj, unsigned long first, unsigned long nr,
				   struct page **pages);
/*
 * Change the object's size. Shrinking unmaps the pages beyond the new size
 * from every mm that maps them (private copies of them too), inside
 * invalidations, then frees them. Takes each mapping mm's mmap_lock for
 * read: the caller holds none. Return: 0 or -ENOMEM.
 */
int shmem_obj_truncate(struct shmem_obj *obj, unsigned long nr_pages);

/* --- VMAs (vma.c) -------------------------------------------------------- */

/* Extra per-VMA core state, in vma->core_priv. */
struct vma_core {
	struct itree_node node;
	struct anon_vma *anon_vma;
	struct shmem_obj *shm;
	struct list_head anon_link; /* on anon_vma->vmas */
	struct list_head shm_link;  /* on shm->vmas (a private file mapping has both) */
	/*
	 * Merge identity of the anon_vma, as Linux sees it: 0 while no page was
	 * ever written (no anon_vma), a fresh number per VMA after fork (the
	 * child gets its own anon_vma chained to the parent's), shared by the
	 * halves of a split. The anon_vma object itself (the reverse map) is
	 * shared between parent and child here.
	 */
	unsigned long av_id;
	bool anon_cloned; /* got its anon_vma through fork: merges only with the same av_id */
	struct vm_area_struct *next_free; /* on a detached list, see do_munmap() */
};

_Static_assert(sizeof(struct vma_core) <= sizeof(((struct vm_area_struct *)0)->core_priv),
	       "vma core_priv too small");

static inline struct vma_core *vma_core(struct vm_area_struct *vma)
{
	return (struct vma_core *)(void *)vma->core_priv;
}

/*
 * struct vma_lock - the per-VMA lock (Linux 6.4's vma->vm_lock and
 * vm_lock_seq), in the allocation of every VMA (struct vma_full, vma_alloc()).
 *
 * Page faults that hold no mmap_lock (lock_vma_under_rcu()) hold @lock for
 * read; so a VMA they hold keeps its bounds, flags, pgoff, anon_vma and its
 * place in mm_mt, and nobody who changes them or mass-changes its pages
 * (munmap, mprotect, mremap, madvise, mlock, fork, mm_take_all_locks) runs
 * meanwhile: all of those hold mmap_lock for write and write-lock the VMA
 * first (vma_start_write()), which waits for the readers and marks the VMA
 * write-locked for the rest of that mmap_lock hold.
 *
 * @lock:     LOCK_RANK_VMA. Read: a fault (vma_start_read(), only trylock:
 *            a busy lock sends the fault to mmap_lock). Write: only inside
 *            vma_start_write(), for an instant, to wait out the readers.
 * @lock_seq: the mm's mm_lock_seq of the mmap_lock hold that write-locked
 *            the VMA (ULONG_MAX: never). Equal to mm->mm_lock_seq: write-
 *            locked, readers back off. Written under @lock for write (and
 *            mmap_lock for write); read by faults with acquire.
 * @detached: the VMA is not in mm_mt (unlinked; being split, merged or
 *            freed). Written under mmap_lock for write with the VMA write-
 *            locked; readers check it under @lock.
 * @cached:   the VMA was ever stored in mm->vma_cache (vma_cache_install(),
 *            under mmap_lock): vma_unlink() must clear its slots and its
 *            free waits for a grace period. Never cleared.
 * @rcu:      the free is deferred past a grace period: a lockless lookup
 *            (vma_cache) may still be about to trylock @lock.
 */
struct vma_lock {
	struct sm_rwsem lock;
	_Atomic unsigned long lock_seq;
	_Atomic bool detached;
	_Atomic bool cached;
	struct sm_rcu_head rcu;
};

struct vma_full {
	struct vm_area_struct vma;
	struct vma_lock vl;
};

static inline struct vma_lock *vma_lock_of(struct vm_area_struct *vma)
{
	return &container_of(vma, struct vma_full, vma)->vl;
}

/*
 * Internal handle_mm_fault() flag: the caller holds @vma's per-VMA lock for
 * read, not mmap_lock (Linux's FAULT_FLAG_VMA_LOCK). A fault that would have
 * to sleep for an event or call out of the core (swap-in, a migration
 * entry, device memory, a driver's ->fault) returns FAULT_RETRY_MMAP
 * instead, having changed nothing: the caller drops the VMA lock and faults
 * again under mmap_lock (Linux's VM_FAULT_RETRY of 6.4).
 */
#define FAULT_FLAG_VMA_LOCK 0x400U
#define FAULT_RETRY_MMAP    1

/**
 * lock_vma_under_rcu() - find and read-lock the VMA of @addr without mmap_lock
 * @mm:   the address space; the caller holds mm_users
 * @addr: the faulting address
 *
 * Looks @addr up in mm->vma_cache inside an RCU read-side section and
 * read-locks the VMA found (vma_start_read()). Only private anonymous VMAs
 * that already have an anon_vma qualify (anon_vma_prepare() walks the
 * neighbours, which only mmap_lock keeps). Never sleeps.
 *
 * Return: the VMA, read-locked, covering @addr, attached; release with
 * vma_end_read(). NULL when the caller must take mmap_lock for read
 * instead: not cached, write-locked by an mmap_lock writer, contended,
 * detached, moved away from @addr, or not eligible.
 */
struct vm_area_struct *lock_vma_under_rcu(struct mm_struct *mm, unsigned long addr);
void vma_end_read(struct vm_area_struct *vma);
/*
 * vma_cache_install() - remember @vma for lock_vma_under_rcu() of @addr
 * Caller holds mmap_lock (read or write); @vma is linked and covers @addr.
 */
void vma_cache_install(struct mm_struct *mm, unsigned long addr, struct vm_area_struct *vma);
/**
 * vma_start_write() - write-lock @vma until mmap_write_unlock()
 *
 * Caller holds mmap_lock for write. Waits for the faults that hold @vma's
 * lock for read, then marks it write-locked for this mmap_lock hold: no
 * fault takes it until mmap_write_unlock() bumps mm_lock_seq. Idempotent
 * within one hold. May sleep.
 */
void vma_start_write(struct vm_area_struct *vma);
/* vma_start_write() of every VMA overlapping [start, end). mmap_lock held for write. */
void vma_start_write_range(struct mm_struct *mm, unsigned long start, unsigned long end);
/* The caller holds mmap_lock (either mode) or @vma's lock for read. */
void vma_assert_locked(struct vm_area_struct *vma);
/* Is @vma write-locked by the current mmap_lock writer? */
bool vma_is_write_locked(struct vm_area_struct *vma);
/*
 * vma_end_write_all() - unlock every VMA write-locked in this mmap_lock hold
 * (bump mm_lock_seq, release). By mmap_write_unlock() (and fork's child),
 * just before mmap_lock is released.
 */
void vma_end_write_all(struct mm_struct *mm);
/* lock_vma_under_rcu() results so far, all mms (debug builds only; tests). */
void vma_lock_stats(unsigned long *hits, unsigned long *misses);

struct vm_area_struct *vma_alloc(struct mm_struct *mm);
/* Free a VMA: drops its anon_vma, shmem object and file; calls vm_ops->close. */
void vma_free(struct vm_area_struct *vma);
void vma_link(struct mm_struct *mm, struct vm_area_struct *vma);
void vma_unlink(struct mm_struct *mm, struct vm_area_struct *vma);
struct vm_area_struct *vma_next(struct vm_area_struct *vma);
struct vm_area_struct *vma_prev(struct vm_area_struct *vma);
struct vm_area_struct *vma_first(struct mm_struct *mm);
void vma_set_bounds(struct vm_area_struct *vma, unsigned long start, unsigned long end,
		    unsigned long pgoff);
/* Split @vma at @addr; the new VMA is the part that does not contain @vma's start. */
int vma_split(struct mm_struct *mm, struct vm_area_struct *vma, unsigned long addr);
/* A copy of @vma's attributes (not linked) with shared references taken. */
struct vm_area_struct *vma_dup(struct vm_area_struct *vma);
/* As vma_dup(), for @mm; @fork gives the copy a fresh anon_vma identity (a fork child). */
struct vm_area_struct *__vma_dup(struct vm_area_struct *vma, struct mm_struct *mm, bool fork);
/* Merge @vma with its neighbours where Linux would; returns the survivor. */
struct vm_area_struct *vma_merge_neighbours(struct mm_struct *mm, struct vm_area_struct *vma);
/*
 * vma_merge_new_range() - merge @vma, a range just mapped by copy_vma() or
 * grown in place by mremap, as Linux's vma_merge_new_range() does (no middle
 * VMA: a forked anon_vma of @vma's own does not forbid it); @just_next: only
 * with the next VMA (mremap's vma_merge_extend()). Caller holds mmap_lock for
 * write. Returns the survivor.
 */
struct vm_area_struct *vma_merge_new_range(struct mm_struct *mm, struct vm_area_struct *vma,
					   bool just_next);
int anon_vma_prepare(struct vm_area_struct *vma);
void vma_set_anon_vma(struct vm_area_struct *vma, struct anon_vma *av, unsigned long av_id,
		      bool cloned);
unsigned long anon_vma_new_id(void);
/*
 * unlink_anon_vmas() of a VMA that maps no private page any more (all moved
 * away by MREMAP_DONTUNMAP): it becomes unfaulted. mmap_lock held for write.
 */
void vma_drop_anon_vma(struct vm_area_struct *vma);

static inline bool vma_is_shared(const struct vm_area_struct *vma)
{
	return vma->vm_flags & VM_SHARED;
}

/* --- unmapping (zap.c) ---------------------------------------------------- */

/*
 * Clear the PTEs of [start, end) inside @vma, freeing pages after the
 * secondary TLBs are flushed. Caller holds mmap_lock and has issued
 * invalidate_range_start for a range covering [start, end).
 */
void zap_page_range(struct vm_area_struct *vma, unsigned long start, unsigned long end);
/*
 * Remove every VMA overlapping [start, start+len) (splitting the edge ones),
 * with notifications. Caller holds mmap_lock for write. The removed VMAs are
 * chained on *@detached and must be freed with vma_free_list() after
 * mmap_lock is dropped: freeing may fput() a file whose release takes
 * mmap_lock (seed 002's device file).
 */
int do_munmap(struct mm_struct *mm, unsigned long start, unsigned long len,
	      struct vm_area_struct **detached);
void vma_free_list(struct vm_area_struct *list);
/* Change the flags of [start, end) within @vma: split, set, merge. Returns the VMA now covering
 * start. */
struct vm_area_struct *vma_modify_flags(struct mm_struct *mm, struct vm_area_struct *vma,
					unsigned long start, unsigned long end,
					unsigned long newflags, int *err);
/* Clear the PTE (present or swap) and release what it held; under PTL. */
void zap_pte(struct mm_struct *mm, pte_t *ptep, struct page **freelist, unsigned long *nfree);
void free_page_batch(struct page **batch, unsigned long n);

/* --- faults (fault.c) ------------------------------------------------------ */

/*
 * Core-internal fault flags (beside FAULT_FLAG_WRITE/REMOTE):
 * FAULT_FLAG_UNSHARE  a read fault that breaks COW sharing of a present,
 *                     write-protected private page (or the zero page) and
 *                     maps the copy (or the reused page) read-only and
 *                     exclusive: Linux's FAULT_FLAG_UNSHARE for R/O pins.
 * FAULT_FLAG_FORCE    a read of a VMA without VM_READ (FOLL_FORCE:
 *                     populating an exec- or write-only mapping).
 */
#define FAULT_FLAG_UNSHARE 0x100U
#define FAULT_FLAG_FORCE   0x200U

int fault_in_page(struct vm_area_struct *vma, unsigned long addr, bool write, struct page **pagep);
/* fault_in_page() with more fault flags (FAULT_FLAG_VMA_LOCK); see fault.c. */
int __fault_in_page(struct vm_area_struct *vma, unsigned long addr, bool write,
		    unsigned int fault_flags, struct page **pagep);

/* --- mlock (mlock.c) --------------------------------------------------------- */

/*
 * mlock_future_ok(): may @bytes more of a mapping with @flags be locked?
 * True unless @flags has VM_LOCKED, the mm lacks CAP_IPC_LOCK and
 * locked_vm would exceed the memlock limit.
 */
bool mlock_future_ok(struct mm_struct *mm, unsigned long flags, unsigned long bytes);
/*
 * __mm_populate(): fault in [start, start+len) as mlock does, VMA by VMA
 * (skipping VM_IO/VM_PFNMAP and VM_LOCKONFAULT VMAs): a write fault in
 * private writable VMAs, else a (forced) read fault. Takes mmap_lock for
 * read; the caller holds none. Return: 0, or the first error (-EFAULT for
 * PROT_NONE, -ENOMEM ...) unless @ignore_errors.
 */
int __mm_populate(struct mm_struct *mm, unsigned long start, unsigned long len, bool ignore_errors);
/*
 * populate_one(): fault one page in as __get_user_pages() does for populate:
 * only while the PTE does not map a page (a writable one for @write), so a
 * present page takes no fault (and no fault-around). @force: a read of a VMA
 * without VM_READ (FOLL_FORCE). Caller holds mmap_lock. Return: 0 or the
 * fault's error.
 */
int populate_one(struct vm_area_struct *vma, unsigned long addr, bool write, bool force);
/* populate_vma_page_range() with mmap_lock held (read or write). */
int populate_vma_page_range(struct vm_area_struct *vma, unsigned long start, unsigned long end);
/* VM_LOCKED pages of the VMAs in [start, end) leave locked_vm (munmap, exit). */
void mlock_unaccount_range(struct mm_struct *mm, struct vm_area_struct *vma, unsigned long end);
/* Is @page mapped in a VM_LOCKED VMA (reclaim leaves it alone)? Takes the rmap locks. */
bool page_mlocked(struct page *page);
/* CPU faults on device entries (migrate_device.c); retried by the caller on 0. */
int do_device_private_fault(struct vm_area_struct *vma, unsigned long addr, uint64_t orig,
			    unsigned int flags);
int do_device_exclusive_fault(struct vm_area_struct *vma, unsigned long addr, uint64_t orig);

/* --- transparent huge pages (huge_memory.c) ------------------------------ */

/* The aligned 2 MiB at @haddr fits in @vma, which is private anonymous memory. */
bool thp_vma_suitable(struct vm_area_struct *vma, unsigned long haddr);
/* May @vma have THPs (system setting and MADV_[NO]HUGEPAGE)? MADV_COLLAPSE ignores the setting. */
bool thp_vma_allowable(struct vm_area_struct *vma, bool madv_collapse);
/*
 * First touch in a THP-eligible range: map a new folio with a PMD. Caller
 * holds mmap_lock. Return: 0 (mapped, or raced: retry), -EAGAIN (fall back
 * to 4 KiB pages), -ENOMEM.
 */
int do_huge_pmd_anonymous_page(struct vm_area_struct *vma, unsigned long addr, bool write);
/* Does the huge PMD value @pmd map the huge zero page? */
bool is_huge_zero_pmd(uint64_t pmd);
/* A fault on a huge PMD @pmd (write-protect handling). Caller holds mmap_lock. */
int huge_pmd_fault(struct vm_area_struct *vma, unsigned long addr, uint64_t pmd, bool write);
int do_huge_pmd_wp_page(struct vm_area_struct *vma, unsigned long addr, uint64_t orig);
/*
 * Split the huge PMD covering @addr (if any) into PTEs, inside an
 * MMU_NOTIFY_CLEAR invalidation of the whole 2 MiB. Caller holds mmap_lock
 * and no invalidation. Return: 0 or -ENOMEM.
 */
int split_huge_pmd_address(struct vm_area_struct *vma, unsigned long addr);
/* Split the huge PMDs that [start, end) covers only in part. Caller holds mmap_lock. */
int split_huge_pmd_range(struct mm_struct *mm, unsigned long start, unsigned long end);
/*
 * Clear a huge PMD and drop its folio reference. Caller holds an invalidation
 * over it. Return: false if the entry was no huge PMD under the PTL (a split
 * through the reverse map made it a leaf table after the caller looked
 * without the lock): the caller zaps the table instead.
 */
bool zap_huge_pmd(struct mm_struct *mm, pte_t *pmdp, unsigned long haddr);
/*
 * fork: share the huge PMD @src_pmdp with the child (both write-protected).
 * Both PTLs held. Return: 0, -ENOMEM, or -EAGAIN when the folio may be
 * pinned: the parent's PMD was split and the caller copies its PTEs.
 */
int copy_huge_pmd(struct mm_struct *dst_mm, struct mm_struct *src_mm, pte_t *dst_pmdp,
		  pte_t *src_pmdp, unsigned long haddr);
/* mprotect of a whole huge PMD: apply @vma's protection. Under PTL. */
void change_huge_pmd(struct vm_area_struct *vma, pte_t *pmdp);
/* mremap: move a whole huge PMD (both addresses aligned). Under PTL. False: not moved. */
bool move_huge_pmd(struct mm_struct *mm, unsigned long old_addr, unsigned long new_addr);
/* The 4 KiB piece of a huge PMD at @addr, as a PTE value (PTE_HUGE set). */
bool follow_huge_pmd(struct mm_struct *mm, unsigned long addr, uint64_t *ptev);
/* MADV_COLLAPSE of [start, end) within @vma. Caller holds mmap_lock for write. */
int madvise_collapse(struct vm_area_struct *vma, unsigned long start, unsigned long end);
/*
 * Is the large folio @head partially mapped: no PMD maps it, some of its
 * pages are PTE-mapped and some are mapped by nobody? Reads the mapcounts
 * without locks (a snapshot, exact when every mapping's PTL is held).
 */
bool folio_partially_mapped(struct page *head);
/*
 * Queue the large anonymous folio @head for a deferred split if it is
 * partially mapped (__folio_remove_rmap()'s rule) and not queued yet: once.
 * Any locks up to a PTL may be held (takes the deferred-split lock).
 */
void folio_check_partially_mapped(struct page *head);
/**
 * folio_remove_rmap_pte() - a PTE mapping of @page has gone
 * @page: the page the PTE mapped (not the zero page); its reference is
 *        the caller's to drop
 *
 * Drops @page's PTE mapcount (BUG if it has none). If that was the page's
 * last PTE mapping and it belongs to a large folio, the folio is queued for
 * a deferred split when it is now partially mapped
 * (folio_check_partially_mapped(); Linux's folio_remove_rmap_pte() ->
 * __folio_remove_rmap() -> deferred_split_folio()). Every path that unmaps
 * a PTE of a page (COW, zap, reclaim, migration, KSM, device migration)
 * goes through it. Caller holds the PTL of the mapping. Never sleeps.
 */
void folio_remove_rmap_pte(struct page *page);
/* Queue a partially unmapped folio for a deferred split; take it off (freeing). */
void deferred_split_folio(struct page *head);
void deferred_split_del(struct page *head);
/* Folios on the deferred split queue. */
unsigned long deferred_split_count(void);
/*
 * The deferred-split shrinker (deferred_split_scan()): split up to
 * @nr_to_scan queued folios, freeing their unmapped subpages; a busy one
 * goes back on the queue. Takes rmap and page-table locks: call with none
 * held (reclaim). Return: folios split.
 */
unsigned long deferred_split_scan(unsigned long nr_to_scan);
/**
 * split_folio() - split a large anonymous folio into order-0 pages
 * @page: any page of the folio; the caller holds a folio reference
 *
 * Linux's split_huge_page(): huge PMDs mapping it are split first (each
 * with its 2 MiB invalidation), then, inside one MMU_NOTIFY_CLEAR
 * invalidation over the folio's extent in each VMA mapping it (fork:
 * several address spaces, with no limit on their number), the folio becomes HPAGE_PMD_NR order-0
 * pages at the same frames (the PTEs stay as they are). Subpages nobody maps are freed (new
 * generation: a translation to one is stale); mapped ones go on the LRU. The caller's reference
 * stays on @page (as Linux's on the page it locked). Locks: none held on entry (takes the anon_vma
 * lock, rmap_lock, the PTL); may sleep. Return: 0 (split, or not a large folio any more), -EBUSY
 * (pinned, a GUP reference, locked, a page-table lock of a second address space busy, or not
 * anonymous), -ENOMEM.
 */
int split_folio(struct page *page);
/**
 * migrate_huge_pmd() - migrate the THP mapped by the huge PMD at @haddr of @vma
 *
 * As Linux migrates a PMD-mapped folio whole: a new folio, a copy, every
 * PMD mapping it (fork: the parent's and the children's; two of one
 * address space too) switched, inside an MMU_NOTIFY_CLEAR invalidation
 * over the 2 MiB of each. A folio that
 * PTEs map too, or with no huge page free, is split instead (Linux splits
 * on -ENOMEM), for the caller to move the 4 KiB pages.
 * Caller holds mmap_lock; it looked at the PMD without the PTL, so the
 * PMD may have been split (through the reverse map: another mm's migration,
 * reclaim, KSM, the deferred split) or zapped since: that is rechecked
 * under the PTL.
 * Return: 0 (moved whole, or the huge zero page: nothing to move), 1 (no
 * huge PMD there any more, or the folio was split here: the caller
 * migrates the 4 KiB pages), -EBUSY (pinned), -EAGAIN (a transient
 * reference or lock, also one that made the split fail: try again),
 * -ENOMEM.
 */
int migrate_huge_pmd(struct vm_area_struct *vma, unsigned long haddr);

/* --- reclaim (vmscan.c) ------------------------------------------------ */

/* The most pages a swap plug holds: Linux's SWAP_CLUSTER_MAX. */
#define SWAP_PLUG_MAX 32

/**
 * struct swap_plug - anonymous pages paged out and waiting for their write
 * @nr: queued pages
 * @lru: the pages were isolated from the LRU (reclaim): one not freed goes
 *	back there, with the reference handed over
 * @freed: pages the flushes so far freed
 * @slot: the slot each page is written to (the pageout's count of it)
 * @page: the pages; each locked (PG_locked) and unmapped, in the swap
 *	cache, holding the reference its queuer handed over with it
 *
 * Linux's block plug around madvise(MADV_PAGEOUT) (do_madvise()) and
 * reclaim_pages(): the swap writes of a batch are submitted together and
 * those of consecutive slots merge into one request. A plug lives on its
 * owner's stack; swap_plug_flush() writes the pages, finishes their
 * pageout and releases their locks and references. Whoever fills a plug
 * must flush it before it waits for anything a page lock may block
 * (the queued pages stay locked until then), and before it returns.
 */
struct swap_plug {
	unsigned int nr;
	bool lru;
	unsigned long freed;
	unsigned long slot[SWAP_PLUG_MAX];
	struct page *page[SWAP_PLUG_MAX];
};

void swap_plug_flush(struct swap_plug *plug);
void reclaim_page(struct vm_area_struct *vma, unsigned long addr, struct swap_plug *plug);
int break_ksm(struct vm_area_struct *vma, unsigned long addr);

/* --- exit ----------------------------------------------------------------- */

void exit_mmap(struct mm_struct *mm);
/*
 * Reference holders (mm_holders.c): mm_holders_init() by mm_alloc(); a get
 * is recorded after the counter rose, a put before it drops. Lock-free,
 * never sleeps. mm_holders_collect(): see mm_query_holders().
 */
void mm_holders_init(struct mm_struct *mm);
/* Free the tables chained to @mm's first: from __mmdrop(), nobody else left. */
void mm_holders_destroy(struct mm_struct *mm);
/* Slots in @mm's chain now, the overflow slot included (a bound for collect). */
int mm_holders_slots(struct mm_struct *mm);
/* Did a table allocation fail, so that references went to the overflow slot? */
bool mm_holders_alloc_failed(struct mm_struct *mm);
/*
 * For the tests (tests/unit/test_mm_holders.c), not the API: the tables in
 * @mm's chain now; the first slot of @owner's probe window in the table at
 * @level of any chain (MM_HOLDER_WINDOW slots from there, wrapping); the
 * slots the calling thread's holder gets and puts have looked at so far;
 * the slots claimed for a key in @mm so far (mm->holders_seq).
 */
int mm_holders_tables(struct mm_struct *mm);
unsigned long mm_holders_claims(struct mm_struct *mm);
unsigned int mm_holder_window(const void *owner, unsigned int level);
unsigned long mm_holders_scanned(void);
/* One slot's holder read by mm_holders_collect(): @snap is the caller's storage. */
struct holder_snap {
	struct mm_holder h;
	unsigned long seq;
};
void mm_holder_get(struct mm_struct *mm, bool users, const void *owner, const char *kind);
void mm_holder_put(struct mm_struct *mm, bool users, const void *owner, const char *kind);
int mm_holders_collect(struct mm_struct *mm, struct holder_snap *snap, int cap,
		       struct mm_holder *out, int max);
void mm_run_exit_hooks(struct mm_struct *mm);
/* The first task on @mm names it (mm_name()); before the mm is shared. */
void mm_set_name(struct mm_struct *mm, const char *name);
/*
 * Call @fn for every mm whose mm_users is not zero, holding an mm_users
 * reference across the call (no other lock). Stops at the first nonzero
 * return, which it returns.
 */
int mm_for_each_live(int (*fn)(struct mm_struct *mm, void *arg), void *arg);

/*
 * The page lock (PG_locked) as a sleeping lock's wait side: a migration or a
 * pageout holds it; who finds it held waits for unlock_page() (secmmu/
 * migrate.h; the kernel's folio_wait_locked(); migration_entry_wait() waits
 * the same way). Waits on an address: @page's struct page is never freed.
 * The caller holds no lock.
 */
static inline void wait_on_page_locked(struct page *page)
{
	might_sleep();
	sm_wait_var_event(&page->flags, !PageTest(page, PG_locked));
}

/*
 * migration_entry_wait() - wait until the migration behind the migration
 * entry @orig at @addr of @mm ended (its page is unlocked), then the caller
 * retries the fault. A device page's struct page goes away with its
 * pagemap: the wait registers in pgmap->waiters (memunmap_pages() waits for
 * it) while the entry, checked under the PTL, still names it. Caller holds
 * mmap_lock for read, no PTL. May sleep.
 */
void migration_entry_wait(struct mm_struct *mm, unsigned long addr, uint64_t orig);

#endif /* SECMMU_MM_INTERNAL_H */
