/* SPDX-License-Identifier: MIT */
/*
 * Address spaces: struct mm_struct, its lifetime, and the system calls that
 * change it.
 *
 * LIFETIME (the rule all four VFIO/IOMMU seeds are about)
 *
 *   mm_users  "the address space is in use": its VMAs, page tables and pages
 *             live. mmget()/mmget_not_zero()/mmput(). The last mmput() runs the
 *             exit path (__mmput -> exit_mmap): MMU-notifier release first,
 *             then the arch exit hooks (arch_exit_mmap), then every mapping
 *             torn down and every frame freed; then it drops the one
 *             mm_count reference that all users hold together.
 *   mm_count  "the struct is referenced": mmgrab()/mmdrop(). The last mmdrop()
 *             runs the destroy hooks (destroy_context), checks that no
 *             notifier subscription is left, and frees the struct.
 *
 * A lazy-TLB kernel thread holds only mm_count, possibly for hours: nothing
 * that pins pages may wait for the last mmdrop().
 *
 * Both counters underflowing is a BUG (abort), never silent.
 *
 * LOCKING: mmap_lock (rwsem) protects the VMA tree; faults hold it for read,
 * mmap/munmap/mprotect/mremap/madvise(DONTNEED)/fork for write. The page-table
 * lock protects PTE updates. See src/base/lock.h for the global order.
 */
#ifndef SECMMU_MM_H
#define SECMMU_MM_H

#include "secmmu/compiler.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>

#include "secmmu/page.h"

SECMMU_BEGIN_DECLS

#ifndef MREMAP_MAYMOVE
#define MREMAP_MAYMOVE 1
#endif
#ifndef MREMAP_FIXED
#define MREMAP_FIXED 2
#endif
#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP 4
#endif
#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif
#ifndef MLOCK_ONFAULT
#define MLOCK_ONFAULT 1U
#endif
#ifndef MCL_CURRENT
#define MCL_CURRENT 1
#endif
#ifndef MCL_FUTURE
#define MCL_FUTURE 2
#endif
#ifndef MCL_ONFAULT
#define MCL_ONFAULT 4
#endif

#ifndef MADV_HUGEPAGE
#define MADV_HUGEPAGE 14
#endif
#ifndef MADV_NOHUGEPAGE
#define MADV_NOHUGEPAGE 15
#endif
#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25
#endif

/*
 * The user part of the address space: [MMAP_MIN_ADDR, TASK_SIZE). As x86-64
 * (TASK_SIZE_MAX): the top page below 2^47 is a guard page, never mapped.
 */
#define TASK_SIZE     ((1UL << 47) - 4096)
#define MMAP_MIN_ADDR 0x10000UL

struct mm_struct;
struct file;
struct vm_area_struct;

/* vm_flags */
#define VM_READ	       0x1UL
#define VM_WRITE       0x2UL
#define VM_EXEC	       0x4UL
#define VM_SHARED      0x8UL
#define VM_MAYREAD     0x10UL
#define VM_MAYWRITE    0x20UL
#define VM_MAYEXEC     0x40UL
#define VM_MAYSHARE    0x80UL
#define VM_PFNMAP      0x400UL	/* device memory: no struct page behind PTEs */
#define VM_MERGEABLE   0x1000UL /* KSM may merge pages here */
#define VM_LOCKED      0x2000UL /* mlock()ed */
#define VM_IO	       0x4000UL
#define VM_LOCKONFAULT 0x80000UL /* with VM_LOCKED: mlock2(MLOCK_ONFAULT), no populate */
#define VM_LOCKED_MASK (VM_LOCKED | VM_LOCKONFAULT)
#define VM_DONTCOPY    0x20000UL    /* not inherited by fork (MADV_DONTFORK) */
#define VM_WIPEONFORK  0x02000000UL /* the child gets it empty (MADV_WIPEONFORK) */
#define VM_HUGEPAGE    0x20000000UL /* MADV_HUGEPAGE */
#define VM_NOHUGEPAGE  0x40000000UL /* MADV_NOHUGEPAGE */
#define VM_ACCOUNT                                                                                 \
	0x100000UL /* private writable: committed memory charged (sticks, and so blocks merges) */

/* Fault flags for handle_mm_fault() */
#define FAULT_FLAG_WRITE  0x1U
#define FAULT_FLAG_REMOTE 0x2U /* on behalf of another mm or a device */

struct mmu_interval_notifier;

struct vm_fault {
	struct vm_area_struct *vma;
	unsigned long address; /* page aligned */
	unsigned int flags;
	unsigned long pgoff;
	struct page *page; /* out: the page to map, with a reference for the caller */
	/*
	 * out, optional: the page was looked up under this interval notifier's
	 * sequence. The core installs the PTE only if no invalidation began
	 * since (mmu_interval_check_retry under the page-table lock); else it
	 * drops the page and the fault is retried. This closes the window
	 * between the driver's own retry check and the install, which an
	 * invalidation that zaps the driver's PTEs from another thread could
	 * otherwise slip into.
	 */
	struct mmu_interval_notifier *interval_sub;
	unsigned long interval_seq;
};

/**
 * struct vm_operations_struct - a driver's hooks on its own VMAs
 * @open:  a VMA was duplicated (fork, split); may not fail. No locks of the
 *         driver may be held by the caller; mmap_lock is held for write.
 * @close: a VMA goes away (munmap, exit). mmap_lock held for write, or the mm
 *         is being torn down (mm_users == 0). May sleep.
 * @fault: resolve a fault in the VMA: set vmf->page (a referenced page) and
 *         return 0, or return -EFAULT / -ENOMEM. mmap_lock held for read. May
 *         sleep. Must not take mmap_lock of the same mm.
 */
struct vm_operations_struct {
	void (*open)(struct vm_area_struct *vma);
	void (*close)(struct vm_area_struct *vma);
	int (*fault)(struct vm_fault *vmf);
	const char *name;
};

/*
 * A VMA. Drivers may read the first block of fields of VMAs they were handed
 * (under mmap_lock); the rest belongs to the core.
 */
struct vm_area_struct {
	unsigned long vm_start, vm_end; /* [vm_start, vm_end) */
	unsigned long vm_flags;
	unsigned long vm_pgoff; /* page offset into the backing object */
	struct mm_struct *vm_mm;
	struct file *vm_file; /* holds a file reference (fget) */
	const struct vm_operations_struct *vm_ops;
	void *vm_private_data;
	/* core-private from here */
	void *core_priv[16];
};

/* --- lifetime --------------------------------------------------------- */

/**
 * mm_alloc() - a new, empty address space
 *
 * Return: the mm with mm_users == 1 and mm_count == 1 (the count held on
 * behalf of all users), or NULL on -ENOMEM. Physical memory must exist.
 */
struct mm_struct *mm_alloc(void);

/**
 * mmget() - take an mm_users reference; the caller already holds one
 * (or an mm_count plus knowledge that users cannot be zero).
 */
void mmget(struct mm_struct *mm);

/**
 * mmget_not_zero() - take an mm_users reference unless the mm has exited
 *
 * The way a holder of only mm_count (a device, a kernel thread, an IO fault
 * handler) gets to use the address space. Return: true with a reference,
 * false if mm_users was already zero (exit has begun or finished).
 */
bool mmget_not_zero(struct mm_struct *mm);

/**
 * mmput() - drop an mm_users reference
 *
 * The last one tears the address space down (see the top of this file) and
 * then drops the users' mm_count. May sleep; the caller must hold no lock of
 * rank >= LOCK_RANK_MMAP. Never call from an MMU-notifier callback.
 */
void mmput(struct mm_struct *mm);

/* Pin the struct (not the pages). */
void mmgrab(struct mm_struct *mm);

/**
 * mmdrop() - drop an mm_count reference; the last one frees the struct after
 * running the destroy hooks. Safe from any context that may sleep.
 */
void mmdrop(struct mm_struct *mm);

/* --- reference tracking ------------------------------------------------- */

/*
 * Every mm_users / mm_count reference has a holder, as the kernel's
 * ref_tracker gives every reference of a tracked object one: an owner
 * object (the pointer of the struct that holds the reference: a task, a
 * struct kvm, a VFIO container, a notifier ...) and a kind (a static string
 * naming what the owner is: "task", "kvm", "vfio container" ...). The core
 * records every get and put per holder, so that `check` can verify that
 * every holder is a live object and name the one that leaked.
 *
 * mmget()/mmput()/mmgrab()/mmdrop()/mm_alloc() are the untracked forms
 * (owner NULL, kind NULL): references the core cannot attribute. Each put
 * must name the holder its get named.
 *
 * @owner is compared by pointer, @kind by content; @kind must stay valid
 * as long as the mm (a string literal): the core keeps it to compare with
 * after its holder let go. The gets and puts are lock-free and never sleep
 * (src/mm/mm_holders.c).
 */

/* mm_alloc() whose initial mm_users reference is held by @owner/@kind. */
struct mm_struct *mm_alloc_tracked(const void *owner, const char *kind);
void mmget_tracked(struct mm_struct *mm, const void *owner, const char *kind);
bool mmget_not_zero_tracked(struct mm_struct *mm, const void *owner, const char *kind);
void mmput_tracked(struct mm_struct *mm, const void *owner, const char *kind);
void mmgrab_tracked(struct mm_struct *mm, const void *owner, const char *kind);
void mmdrop_tracked(struct mm_struct *mm, const void *owner, const char *kind);

/**
 * mm_holder_move() - hand a reference from one holder to another
 * @users: true for an mm_users reference, false for mm_count
 *
 * For a reference that changes hands without a get and a put (task_create()
 * takes over the caller's mm_users reference). Does not sleep.
 */
void mm_holder_move(struct mm_struct *mm, bool users, const void *from, const char *from_kind,
		    const void *to, const char *to_kind);

/*
 * MM_HOLDER_USERS_KIND: the holder of the one mm_count reference that all
 * mm_users hold together (its owner is the mm itself); dropped by the last
 * mmput() after the address space is torn down.
 */
#define MM_HOLDER_USERS_KIND "mm_users"

/*
 * MM_HOLDER_OVERFLOW_KIND: the holder (owner NULL) under which the core
 * sums the references of holders it has no slot for. A slot is reused once
 * its holder holds no reference, and when every slot holds references the
 * core chains another table of slots, so any number of holders may hold
 * references at once; this happens only when allocating that table failed
 * (out of memory, or fault injection: the gets run where nothing may
 * sleep, so the allocation is not retried). Those references are still
 * counted, here, but cannot be attributed: `check` reports them as such.
 * A put of a holder without a slot takes its reference back from here.
 */
#define MM_HOLDER_OVERFLOW_KIND "(holder table full)"

/* One holder: the references @owner/@kind holds now (never both zero). */
struct mm_holder {
	const void *owner;
	const char *kind; /* NULL: untracked */
	int users;	  /* mm_users references; negative: put more than it got */
	int count;	  /* mm_count references; likewise */
};

/**
 * mm_query_holders() - the holders of the mm with @id
 *
 * Waits for pending RCU callbacks first (as mm_query_refs()). Fills up to
 * @max entries of @holders, one per distinct (owner, kind) holding a
 * reference now, in the order the holders first took a reference (a holder
 * that held nothing for a while may keep its place or move to the end: it
 * keeps its place unless its slot was taken by another holder meanwhile). Return: the number of
 * holders (may exceed
 * @max: then only @max were filled), -ESRCH if the struct was freed,
 * -EINVAL if @holders is NULL while @max > 0, -ENOMEM if the mm has more
 * holder slots than fit on the stack and the buffer to read them could
 * not be allocated.
 */
int mm_query_holders(unsigned long id, struct mm_holder *holders, int max);

/*
 * mm_peek_holders() - mm_query_holders() without waiting for RCU callbacks:
 * a snapshot now, in which a reference whose put is queued behind a grace
 * period still shows. Does not sleep beyond a leaf lock.
 */
int mm_peek_holders(unsigned long id, struct mm_holder *holders, int max);

int mm_users_read(const struct mm_struct *mm);
int mm_count_read(const struct mm_struct *mm);

/* A small unique id, stable for the struct's lifetime, never reused. */
unsigned long mm_id(const struct mm_struct *mm);

/*
 * mm_name() - the name traces give the mm: the name of the first task that
 * ran on it (task_create(), task_fork()'s child), which is the process's
 * name in a scenario and in its counter tracks; "mmID" before any task.
 * Valid while the caller holds mm_users or mm_count.
 */
const char *mm_name(const struct mm_struct *mm);

/**
 * mm_query_refs() - the counters of the mm with @id, without a reference
 *
 * Waits for pending RCU callbacks first, so that a struct whose last
 * reference is dropped by a callback is reported consistently.
 * Return: 0 with @users and @count filled, -ESRCH if the struct was freed,
 * or -EINVAL (warned once) if @users or @count is NULL.
 */
int mm_query_refs(unsigned long id, int *users, int *count);

/* Number of mm structs not yet freed. */
unsigned long mm_live_count(void);

/**
 * struct mm_arch_hooks - the arch_exit_mmap / destroy_context points
 * @exit_mmap:       called from the last mmput() (arch_exit_mmap): after the
 *                   MMU-notifier release, before the address space is torn
 *                   down. mm_users is 0. May sleep.
 * @destroy_context: called from the last mmdrop(), before the struct is
 *                   freed. May not fail; may warn.
 */
struct mm_arch_hooks {
	const char *name;
	void (*exit_mmap)(struct mm_struct *mm);
	void (*destroy_context)(struct mm_struct *mm);
};

/* Return: 0, or -ENOSPC when the hook table (16 entries) is full. */
int mm_register_arch_hooks(const struct mm_arch_hooks *hooks);
void mm_unregister_arch_hooks(const struct mm_arch_hooks *hooks);

/*
 * Per-mm context slots for subsystems that keep per-mm state (the powerpc
 * mm->context.iommu_group_mem_list, mm->pasid ...). A slot is a pointer the
 * subsystem owns; the core only clears it at mm allocation. There are 16
 * for the whole process and a slot is never given back: allocate one per
 * subsystem, once (at its initialisation), never per device or per mm.
 */
int mm_context_slot_alloc(void); /* slot number or -ENOSPC */
void *mm_context_get(struct mm_struct *mm, int slot);
void mm_context_set(struct mm_struct *mm, int slot, void *value);

/* --- mmap_lock ---------------------------------------------------------- */

void mmap_read_lock(struct mm_struct *mm);
bool mmap_read_trylock(struct mm_struct *mm);
void mmap_read_unlock(struct mm_struct *mm);
/*
 * After a failed mmap_read_trylock(): wait for a release of @mm's mmap_lock
 * (for a caller that cannot block in mmap_read_lock(), e.g. holding another
 * mm's mmap_lock of the same rank). Under interleaving exploration the
 * caller blocks until the holder releases; otherwise it sleeps until a
 * release (or returns at once if a reader may enter now). May sleep.
 */
void mmap_lock_wait_released(struct mm_struct *mm);
void mmap_write_lock(struct mm_struct *mm);
void mmap_write_unlock(struct mm_struct *mm);
void mmap_assert_locked(struct mm_struct *mm);
void mmap_assert_write_locked(struct mm_struct *mm);

/* --- system calls ----------------------------------------------------- */
/*
 * All take the mm's mmap_lock themselves; the caller holds an mm_users
 * reference and no lock of rank >= LOCK_RANK_MMAP. Results and errno match
 * Linux for the same call.
 */

/**
 * mm_mmap() - map [addr, addr+len) with MAP_FIXED semantics
 * @prot:  PROT_NONE or PROT_READ|PROT_WRITE|PROT_EXEC combination
 * @flags: MAP_PRIVATE or MAP_SHARED (MAP_ANONYMOUS implied when @file is NULL)
 * @file:  NULL for anonymous memory, else a file whose f_op->mmap sets up the VMA
 *
 * Return: @addr, or -EINVAL (unaligned, zero or oversized length, bad
 * flags), -ENOMEM (out of memory or address space).
 */
long mm_mmap(struct mm_struct *mm, unsigned long addr, unsigned long len, int prot, int flags,
	     struct file *file, unsigned long pgoff);
int mm_munmap(struct mm_struct *mm, unsigned long addr, unsigned long len);
int mm_mprotect(struct mm_struct *mm, unsigned long addr, unsigned long len, int prot);
/*
 * @advice: MADV_DONTNEED, MADV_PAGEOUT, MADV_MERGEABLE, MADV_UNMERGEABLE,
 * MADV_DONTFORK, MADV_DOFORK, MADV_WIPEONFORK, MADV_KEEPONFORK, MADV_COLD,
 * MADV_FREE, MADV_REMOVE, MADV_POPULATE_READ, MADV_POPULATE_WRITE,
 * MADV_HUGEPAGE, MADV_NOHUGEPAGE, MADV_COLLAPSE; errors as Linux's madvise(2).
 */
int mm_madvise(struct mm_struct *mm, unsigned long addr, unsigned long len, int advice);
/*
 * mm_oom_reap() - the OOM reaper: unmap @mm's private anonymous memory now,
 * inside non-blockable invalidations (see src/mm/mmap.c). @reaped: pages
 * unmapped. Return: 0 or -EAGAIN (mmap_lock busy, or a subscriber would sleep:
 * that VMA was left).
 */
int mm_oom_reap(struct mm_struct *mm, unsigned long *reaped);
/*
 * @flags: MREMAP_MAYMOVE, MREMAP_FIXED, MREMAP_DONTUNMAP (a move of equal
 * lengths that leaves the old range mapped but empty; requires MAYMOVE).
 * Return: the new address or a negative errno.
 */
long mm_mremap(struct mm_struct *mm, unsigned long addr, unsigned long old_len,
	       unsigned long new_len, int flags, unsigned long new_addr);

/**
 * mm_mlock() - mlock2(): lock [@start, @start+@len) into memory
 * @flags: 0 or MLOCK_ONFAULT (lock the pages as they are faulted in)
 *
 * The VMAs of the range get VM_LOCKED (split and merged as Linux does), their
 * pages are charged to locked_vm against the memlock limit (unless the mm
 * has CAP_IPC_LOCK) and, without MLOCK_ONFAULT, faulted in (a write fault
 * in private writable memory, breaking COW). Reclaim never pages out a page
 * mapped in a locked VMA. Return: 0, -EINVAL (bad @flags), -EPERM (memlock
 * limit 0), -ENOMEM (over the limit, or a hole in the range: the VMAs
 * before the hole stay locked; or a PROT_NONE VMA that cannot be faulted
 * in), -EAGAIN (out of memory while faulting in).
 */
int mm_mlock(struct mm_struct *mm, unsigned long start, unsigned long len, unsigned int flags);
/* munlock(): clear VM_LOCKED; -ENOMEM for a hole (the VMAs before it are done). */
int mm_munlock(struct mm_struct *mm, unsigned long start, unsigned long len);
/**
 * mm_mlockall() - mlockall(): MCL_CURRENT locks every VMA now (and faults
 * them in unless MCL_ONFAULT), MCL_FUTURE every later mapping.
 * Return: 0, -EINVAL (no flag, unknown flags or MCL_ONFAULT alone), -EPERM
 * (memlock limit 0), -ENOMEM (MCL_CURRENT and the mapped size exceeds the
 * limit). Fault-in errors are ignored.
 */
int mm_mlockall(struct mm_struct *mm, int flags);
/* munlockall(): unlock every VMA, and no more MCL_FUTURE. Return: 0. */
int mm_munlockall(struct mm_struct *mm);

/**
 * mm_read() / mm_write() - copy_from_user / copy_to_user against @mm
 *
 * Faults pages in as the CPU would (zero-fill, COW, swap-in). A write that
 * faults part-way has written every byte before the faulting page.
 * Return: 0, -EFAULT (unmapped or protected), -ENOMEM (no frame).
 */
int mm_read(struct mm_struct *mm, unsigned long addr, void *buf, size_t len);

/**
 * for_each_page_chunk() - split a user-address transfer at page boundaries
 * @fn: called for each piece [a, a+n) that lies within one page, with the
 *      matching part of @buf; a nonzero return stops the walk
 *
 * The shape every CPU or device access shares (a translation covers one
 * page). Return: 0, -EFAULT if [addr, addr+len) wraps or leaves the user
 * address space, or the first nonzero return of @fn.
 */
int for_each_page_chunk(unsigned long addr, void *buf, size_t len,
			int (*fn)(void *ctx, unsigned long addr, void *buf, size_t n), void *ctx);
int mm_write(struct mm_struct *mm, unsigned long addr, const void *buf, size_t len);

/**
 * dup_mm() - fork's copy of an address space
 *
 * Private anonymous pages become copy-on-write shared (the parent's PTEs are
 * write-protected under an MMU-notifier invalidation); shared mappings are
 * shared. Return: the child mm (users=1, count=1) or ERR_PTR(-ENOMEM).
 */
struct mm_struct *dup_mm(struct mm_struct *oldmm);

/* --- faults and lookups for secondary MMUs ---------------------------- */

/* Caller holds mmap_lock (read or write). NULL if no VMA contains @addr. */
struct vm_area_struct *vma_lookup(struct mm_struct *mm, unsigned long addr);
/* First VMA with vm_end > @addr, or NULL. Caller holds mmap_lock. */
struct vm_area_struct *find_vma(struct mm_struct *mm, unsigned long addr);

/**
 * handle_mm_fault() - resolve a fault at @addr in @vma
 *
 * Caller holds mmap_lock for read (or write). Breaks COW for a write fault.
 * Return: 0, -EFAULT (access not allowed by the VMA, or SIGBUS-like access
 * beyond the backing object), -ENOMEM.
 */
int handle_mm_fault(struct vm_area_struct *vma, unsigned long addr, unsigned int flags);

/**
 * follow_pfn_pte() - what the primary PTE at @addr maps right now
 * @pfn:      out, the frame
 * @writable: out, whether the PTE allows writes
 *
 * Caller holds mmap_lock. Takes no page reference: the answer is only good
 * under an interval-notifier sequence check (mmu_interval_read_retry) or
 * while the caller otherwise excludes invalidations.
 * Return: 0, -EFAULT if no VMA allows reading @addr, or -ENOENT if no
 * frame is mapped there now (never touched, or swapped out).
 */
int follow_pfn_pte(struct mm_struct *mm, unsigned long addr, unsigned long *pfn, bool *writable,
		   uint32_t *gen);

/**
 * follow_pfn_order() - follow_pfn_pte() that also tells the mapping's size
 * @order: out, 0 for a 4 KiB PTE, HPAGE_PMD_ORDER for a huge PMD (KVM's
 *         host_pfn_mapping_level()); then @pfn and @gen are those of the
 *         first frame of the 2 MiB at @addr & HPAGE_PMD_MASK (the folio's
 *         head), to be checked with folio_gen_valid()
 *
 * Same contract and errors as follow_pfn_pte().
 */
int follow_pfn_order(struct mm_struct *mm, unsigned long addr, unsigned long *pfn, bool *writable,
		     uint32_t *gen, unsigned int *order);

/**
 * zap_vma_ptes() - remove the PTEs a driver installed in its own VMA
 * @vma:     a driver VMA (vm_ops set), e.g. an XPMEM attachment
 * @address: page-aligned start inside @vma
 * @size:    page-aligned length inside @vma
 *
 * Clears the PTEs inside an MMU_NOTIFY_CLEAR invalidation of @vma's mm and
 * drops the page references they held. The caller guarantees that @vma is
 * not freed meanwhile (its vm_ops->close synchronises with the caller) and
 * need not hold that mm's mmap_lock; it takes the mm's rmap_lock for read,
 * so it must not hold a lock ranked above LOCK_RANK_RMAP (a DRIVER_MMU lock,
 * say). May sleep. Return: 0, or -EINVAL for a range outside @vma or a VMA
 * that is not a driver's.
 */
int zap_vma_ptes(struct vm_area_struct *vma, unsigned long address, unsigned long size);

/* --- accounting ------------------------------------------------------- */

struct mm_stats {
	unsigned long rss;	 /* present PTEs mapping a frame */
	unsigned long swap;	 /* swap entries in PTEs */
	unsigned long locked_vm; /* pages charged against RLIMIT_MEMLOCK */
	unsigned long pinned_vm; /* pages pinned long-term */
	unsigned long thp;	 /* PMD-mapped huge pages (smaps' AnonHugePages / 2 MiB) */
};

void mm_get_stats(struct mm_struct *mm, struct mm_stats *st);

/* --- introspection: /proc/PID/maps and /proc/PID/pagemap ------------------ */

/* One VMA as /proc/PID/maps shows it. */
struct mm_vma_info {
	unsigned long start, end; /* [start, end) */
	unsigned long flags;	  /* VM_* (VM_READ, VM_WRITE, VM_EXEC, VM_MAYSHARE, ...) */
};

/**
 * mm_get_vmas() - the VMAs that intersect [@start, @end), in address order
 * @out: room for @max entries (may be NULL if @max is 0)
 *
 * Takes mmap_lock for read. Return: how many VMAs intersect the range (the
 * first min(count, max) are in @out), or -EINVAL if @end < @start.
 */
long mm_get_vmas(struct mm_struct *mm, unsigned long start, unsigned long end,
		 struct mm_vma_info *out, unsigned long max);

/*
 * Per-page state bits of mm_pagemap(). Later kinds of mapping (device
 * private, huge) add bits here; a page with none of them is not present.
 */
#define MM_PAGE_PRESENT	  (1U << 0) /* a PTE maps a frame (or the zero page) */
#define MM_PAGE_SWAP	  (1U << 1) /* a swap (or migration) entry: Linux's PM_SWAP */
#define MM_PAGE_ZERO	  (1U << 2) /* present, the shared zero page */
#define MM_PAGE_EXCLUSIVE (1U << 3) /* present, mapped exactly once: PM_MMAP_EXCLUSIVE */
/*
 * In device-private memory (a device-private entry; Linux's pagemap shows it
 * as PM_SWAP, so MM_PAGE_SWAP is set too).
 */
#define MM_PAGE_DEVICE (1U << 4)
/* Present, part of a transparent huge page mapped by a PMD (AnonHugePages). */
#define MM_PAGE_THP (1U << 5)

/**
 * mm_pagemap() - the state of @nr_pages pages from @addr
 * @addr: page aligned
 * @out:  @nr_pages entries of MM_PAGE_* bits
 *
 * Pages outside every VMA read as 0. Takes mmap_lock for read and the
 * page-table lock. Return: 0, or -EINVAL (unaligned, or the range wraps or
 * passes TASK_SIZE).
 */
int mm_pagemap(struct mm_struct *mm, unsigned long addr, unsigned long nr_pages, uint32_t *out);

/* RLIMIT_MEMLOCK in bytes (default 8 MiB); RLIM_INFINITY for none. */
void mm_set_memlock_limit(struct mm_struct *mm, unsigned long bytes);
unsigned long mm_memlock_limit(struct mm_struct *mm);
/* CAP_IPC_LOCK: bypass the memlock limit. */
void mm_set_cap_ipc_lock(struct mm_struct *mm, bool cap);

/**
 * account_locked_vm() - charge or uncharge @npages against RLIMIT_MEMLOCK
 * Return: 0, or -ENOMEM if charging would exceed the limit (nothing charged).
 */
int account_locked_vm(struct mm_struct *mm, unsigned long npages, bool inc);
void mm_pinned_vm_add(struct mm_struct *mm, long npages);

/* --- transparent huge pages --------------------------------------------- */

/* /sys/kernel/mm/transparent_hugepage/enabled */
enum thp_mode {
	THP_NEVER,
	THP_MADVISE, /* the default: only MADV_HUGEPAGE areas */
	THP_ALWAYS,
};

/* Return: 0, or -EINVAL for an unknown mode. */
int thp_set_mode(int mode);
int thp_get_mode(void);
/*
 * /sys/kernel/mm/transparent_hugepage/use_zero_page (default 1): a read
 * fault in a THP-eligible range maps the huge zero page (1) or allocates a
 * huge page (0). Return: 0, or -EINVAL unless @on is 0 or 1.
 */
int thp_set_use_zero_page(int on);
int thp_get_use_zero_page(void);

/**
 * mm_collapse() - khugepaged's collapse of the 2 MiB range around @addr
 *
 * Replaces the 4 KiB mappings of the aligned 2 MiB range containing @addr by
 * one PMD of a new huge page holding their contents, inside an
 * MMU_NOTIFY_CLEAR invalidation of the 2 MiB. khugepaged's rules: the VMA
 * must be eligible (thp_get_mode(), MADV_[NO]HUGEPAGE) and cover the whole
 * range, at least one PTE present and young, at most 256 pages shared.
 * Takes mmap_lock for write.
 *
 * Return: 0 (collapsed or already huge), -EFAULT (no VMA), -EINVAL (not
 * eligible, or nothing mapped), -EAGAIN (a page is pinned, held by GUP,
 * swapped out, KSM, or too shared), -ENOMEM (no free huge page).
 */
int mm_collapse(struct mm_struct *mm, unsigned long addr);

/*
 * khugepaged_scan() - one khugepaged pass over every live mm, collapsing up to
 * @max_collapse ranges. Return: the number collapsed.
 */
unsigned long khugepaged_scan(unsigned long max_collapse);

SECMMU_END_DECLS

#endif /* SECMMU_MM_H */
