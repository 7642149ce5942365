// SPDX-License-Identifier: MIT
/*
 * VMAs: the VMA tree of an mm, splitting and merging as Linux does.
 *
 * The tree (mm->mm_mt) is an interval tree keyed by [vm_start, vm_end - 1];
 * VMAs never overlap. Every change to the tree or to a linked VMA's bounds
 * happens under mmap_lock held for write.
 *
 * Merging follows Linux (vma_merge / is_mergeable_vma / anon_vma_compatible)
 * closely enough that mremap -- which may not cross VMA boundaries -- gives
 * the same answers as the kernel for the same sequence of calls.
 */
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "base/alloc.h"
#include "mm/internal.h"
#include "secmmu/file.h"

static _Atomic unsigned long next_av_id = 1;

unsigned long anon_vma_new_id(void)
{
	return atomic_fetch_add(&next_av_id, 1);
}

struct vm_area_struct *vma_alloc(struct mm_struct *mm)
{
	struct vma_full *full = kzalloc(sizeof(*full));
	struct vm_area_struct *vma;

	if (!full)
		return NULL;
	vma = &full->vma;
	sm_rwsem_init(&full->vl.lock, "vma_lock", LOCK_RANK_VMA);
	atomic_init(&full->vl.lock_seq, ULONG_MAX);
	atomic_init(&full->vl.detached, true);
	atomic_init(&full->vl.cached, false);
	vma->vm_mm = mm;
	INIT_LIST_HEAD(&vma_core(vma)->anon_link);
	INIT_LIST_HEAD(&vma_core(vma)->shm_link);
	return vma;
}

/* Caller holds @av->lock. */
static void __vma_set_anon_vma(struct vm_area_struct *vma, struct anon_vma *av, unsigned long av_id,
			       bool cloned)
{
	struct vma_core *vc = vma_core(vma);

	lockdep_assert_held(&av->lock);
	BUG_ON(vc->anon_vma);
	anon_vma_get(av); /* Pairs with anon_vma_put() in vma_clear_anon_vma(). */
	vc->av_id = av_id;
	vc->anon_cloned = cloned;
	list_add_tail(&vc->anon_link, &av->vmas);
	/* Pairs with READ_ONCE() in anon_vma_prepare() and faults. */
	__atomic_store_n(&vc->anon_vma, av, __ATOMIC_RELEASE);
}

void vma_set_anon_vma(struct vm_area_struct *vma, struct anon_vma *av, unsigned long av_id,
		      bool cloned)
{
	sm_mutex_lock(&av->lock);
	__vma_set_anon_vma(vma, av, av_id, cloned);
	sm_mutex_unlock(&av->lock);
}

static void vma_clear_anon_vma(struct vm_area_struct *vma)
{
	struct vma_core *vc = vma_core(vma);
	struct anon_vma *av = vc->anon_vma;

	if (!av)
		return;
	sm_mutex_lock(&av->lock);
	list_del_init(&vc->anon_link);
	sm_mutex_unlock(&av->lock);
	vc->anon_vma = NULL;
	vc->av_id = 0;
	/*
	 * unlink_anon_vmas() empties the anon_vma_chain: the VMA is no longer
	 * a forked one (is_mergeable_anon_vma() sees no anon_vma at all).
	 */
	vc->anon_cloned = false;
	anon_vma_put(av);
}

void vma_drop_anon_vma(struct vm_area_struct *vma)
{
	mmap_assert_write_locked(vma->vm_mm);
	vma_start_write(vma);
	vma_clear_anon_vma(vma);
}

static void vma_free_rcu(struct sm_rcu_head *head)
{
	struct vma_full *full = container_of(head, struct vma_full, vl.rcu);

	sm_rwsem_destroy(&full->vl.lock);
	kfree_sized(full, sizeof(*full));
}

/*
 * The struct itself: after a grace period if a lockless lookup may have
 * seen it (it was ever in mm->vma_cache, whose slots vma_unlink() cleared:
 * a lookup that loaded it before is inside an RCU read-side section), else
 * at once.
 */
static void vma_free_struct(struct vm_area_struct *vma)
{
	struct vma_full *full = container_of(vma, struct vma_full, vma);

	BUG_ON(!atomic_load_explicit(&full->vl.detached, memory_order_relaxed));
	if (atomic_load_explicit(&full->vl.cached, memory_order_relaxed))
		sm_call_rcu(&full->vl.rcu, vma_free_rcu);
	else
		vma_free_rcu(&full->vl.rcu);
}

void vma_free(struct vm_area_struct *vma)
{
	if (vma->vm_ops && vma->vm_ops->close)
		vma->vm_ops->close(vma);
	vma_clear_anon_vma(vma);
	vma_clear_shm(vma);
	if (vma->vm_file)
		fput(vma->vm_file); /* Pairs with fget() at mmap or vma_dup(). */
	vma_free_struct(vma);
}

static struct vm_area_struct *node_vma(struct itree_node *node)
{
	return node ? container_of((void *)node, struct vm_area_struct, core_priv) : NULL;
}

static void vma_node_set(struct vm_area_struct *vma)
{
	vma_core(vma)->node.start = vma->vm_start;
	vma_core(vma)->node.last = vma->vm_end - 1;
}

void vma_link(struct mm_struct *mm, struct vm_area_struct *vma)
{
	mmap_assert_write_locked(mm);
	vma_node_set(vma);
	itree_insert(&vma_core(vma)->node, &mm->mm_mt);
	mm->map_count++;
	/* Readers look only under the VMA lock, with lock_seq checked. */
	atomic_store_explicit(&vma_lock_of(vma)->detached, false, memory_order_relaxed);
}

/*
 * Take @vma out of mm_mt (to free it, or to move it: split, merge, mremap).
 * It is write-locked first, so no fault holds it, and it leaves every
 * vma_cache slot, so no new lockless lookup finds it; one that loaded it
 * already finds it write-locked (and detached) under its lock.
 */
void vma_unlink(struct mm_struct *mm, struct vm_area_struct *vma)
{
	mmap_assert_write_locked(mm);
	vma_start_write(vma);
	itree_remove(&vma_core(vma)->node, &mm->mm_mt);
	mm->map_count--;
	atomic_store_explicit(&vma_lock_of(vma)->detached, true, memory_order_relaxed);
	if (atomic_load_explicit(&vma_lock_of(vma)->cached, memory_order_relaxed))
		for (unsigned int i = 0; i < VMA_CACHE_SLOTS; i++) {
			struct vm_area_struct *old = vma;

			atomic_compare_exchange_strong_explicit(&mm->vma_cache[i], &old, NULL,
								memory_order_relaxed,
								memory_order_relaxed);
		}
}

/* --- per-VMA locks ---------------------------------------------------- */

static unsigned int vma_cache_slot(unsigned long addr)
{
	unsigned long h = (addr >> (PAGE_SHIFT + HPAGE_PMD_ORDER)) * 0x9e3779b97f4a7c15ull;

	return (unsigned int)(h >> 58) % VMA_CACHE_SLOTS;
}

void vma_cache_install(struct mm_struct *mm, unsigned long addr, struct vm_area_struct *vma)
{
	mmap_assert_locked(mm);
	DEBUG_BUG_ON(addr < vma->vm_start || addr >= vma->vm_end);
	/* Before the store: vma_unlink() (under mmap_lock for write) then sees it. */
	if (!atomic_load_explicit(&vma_lock_of(vma)->cached, memory_order_relaxed))
		atomic_store_explicit(&vma_lock_of(vma)->cached, true, memory_order_relaxed);
	/* Pairs with the acquire load in lock_vma_under_rcu(). */
	atomic_store_explicit(&mm->vma_cache[vma_cache_slot(addr)], vma, memory_order_release);
}

bool vma_is_write_locked(struct vm_area_struct *vma)
{
	return atomic_load_explicit(&vma_lock_of(vma)->lock_seq, memory_order_relaxed) ==
	       atomic_load_explicit(&vma->vm_mm->mm_lock_seq, memory_order_relaxed);
}

void vma_start_write(struct vm_area_struct *vma)
{
	struct mm_struct *mm = vma->vm_mm;
	struct vma_lock *vl = vma_lock_of(vma);
	unsigned long seq;

	mmap_assert_write_locked(mm);
	seq = atomic_load_explicit(&mm->mm_lock_seq, memory_order_relaxed);
	if (atomic_load_explicit(&vl->lock_seq, memory_order_relaxed) == seq)
		return;
	/* Waits for the faults that hold it; new ones fail their trylock meanwhile. */
	sm_down_write(&vl->lock);
	/* Published by the release of vl->lock (and of mmap_lock) to the next reader. */
	atomic_store_explicit(&vl->lock_seq, seq, memory_order_relaxed);
	sm_up_write(&vl->lock);
}

void vma_end_write_all(struct mm_struct *mm)
{
	mmap_assert_write_locked(mm);
	/* Pairs with the acquire loads in vma_start_read(). */
	atomic_fetch_add_explicit(&mm->mm_lock_seq, 1, memory_order_release);
}

void vma_start_write_range(struct mm_struct *mm, unsigned long start, unsigned long end)
{
	struct itree_node *node;

	mmap_assert_write_locked(mm);
	if (end <= start)
		return;
	for (node = itree_iter_first(&mm->mm_mt, start, end - 1); node;
	     node = itree_iter_next(node, start, end - 1))
		vma_start_write(node_vma(node));
}

void vma_assert_locked(struct vm_area_struct *vma)
{
	DEBUG_BUG_ON(lockdep_held_mode(&vma->vm_mm->mmap_lock) == HELD_NONE &&
		     lockdep_held_mode(&vma_lock_of(vma)->lock) != HELD_READ);
}

/*
 * vma_start_read() - read-lock @vma unless an mmap_lock writer has it
 *
 * Linux's vma_start_read(): a trylock, never a wait (a writer waiting in
 * vma_start_write() makes it fail, and the fault goes to mmap_lock, where
 * it queues behind that writer). Return: true with @vma's lock held for
 * read and @vma not write-locked.
 */
static bool vma_start_read(struct mm_struct *mm, struct vm_area_struct *vma)
{
	struct vma_lock *vl = vma_lock_of(vma);

	/* A cheap early out; the check that counts is the one under the lock. */
	if (atomic_load_explicit(&vl->lock_seq, memory_order_relaxed) ==
	    atomic_load_explicit(&mm->mm_lock_seq, memory_order_acquire))
		return false;
	if (!sm_down_read_trylock(&vl->lock))
		return false;
	/*
	 * Under the lock, lock_seq is stable (written only under it for
	 * write). Equal to mm_lock_seq: write-locked in the current (or, if
	 * the acquire load below is older than the unlock, a just finished)
	 * mmap_lock hold: back off. Different and mm_lock_seq read after the
	 * writer's mmap_write_unlock() bumped it (acquire, pairs with the
	 * release in vma_end_write_all()): every change that writer made is
	 * visible.
	 */
	if (atomic_load_explicit(&vl->lock_seq, memory_order_relaxed) ==
	    atomic_load_explicit(&mm->mm_lock_seq, memory_order_acquire)) {
		sm_up_read(&vl->lock);
		return false;
	}
	return true;
}

void vma_end_read(struct vm_area_struct *vma)
{
	sm_up_read(&vma_lock_of(vma)->lock);
}

/* Linux 6.4's lock_vma_under_rcu() takes only anonymous VMAs with an anon_vma. */
static bool vma_lock_eligible(struct vm_area_struct *vma)
{
	return !vma->vm_ops && !vma->vm_file && !vma_core(vma)->shm &&
	       READ_ONCE(vma_core(vma)->anon_vma);
}

static _Atomic unsigned long vma_lock_hits, vma_lock_misses;

struct vm_area_struct *lock_vma_under_rcu(struct mm_struct *mm, unsigned long addr)
{
	struct vm_area_struct *vma;

	sm_rcu_read_lock();
	/* The slot is read outside any lock: let the explorer switch here. */
	sched_point("lock_vma_under_rcu");
	/* Pairs with the release store in vma_cache_install(). */
	vma = atomic_load_explicit(&mm->vma_cache[vma_cache_slot(addr)], memory_order_acquire);
	if (!vma || !vma_start_read(mm, vma))
		goto miss;
	/* Under the VMA lock nothing below changes; a VMA moved or freed is detached. */
	if (atomic_load_explicit(&vma_lock_of(vma)->detached, memory_order_relaxed) ||
	    addr < vma->vm_start || addr >= vma->vm_end || !vma_lock_eligible(vma)) {
		vma_end_read(vma);
		goto miss;
	}
	sm_rcu_read_unlock();
	if (sm_debug) /* a shared counter: release builds keep the threads apart */
		atomic_fetch_add_explicit(&vma_lock_hits, 1, memory_order_relaxed);
	return vma;
miss:
	sm_rcu_read_unlock();
	if (sm_debug)
		atomic_fetch_add_explicit(&vma_lock_misses, 1, memory_order_relaxed);
	return NULL;
}

void vma_lock_stats(unsigned long *hits, unsigned long *misses)
{
	*hits = atomic_load_explicit(&vma_lock_hits, memory_order_relaxed);
	*misses = atomic_load_explicit(&vma_lock_misses, memory_order_relaxed);
}

struct vm_area_struct *vma_first(struct mm_struct *mm)
{
	return node_vma(itree_first(&mm->mm_mt));
}

struct vm_area_struct *vma_next(struct vm_area_struct *vma)
{
	return node_vma(itree_next(&vma_core(vma)->node));
}

struct vm_area_struct *vma_prev(struct vm_area_struct *vma)
{
	return node_vma(itree_prev(&vma_core(vma)->node));
}

struct vm_area_struct *find_vma(struct mm_struct *mm, unsigned long addr)
{
	mmap_assert_locked(mm);
	return node_vma(itree_iter_first(&mm->mm_mt, addr, ~0UL));
}

struct vm_area_struct *vma_lookup(struct mm_struct *mm, unsigned long addr)
{
	struct vm_area_struct *vma = find_vma(mm, addr);

	return vma && vma->vm_start <= addr ? vma : NULL;
}

struct vm_area_struct *vma_dup(struct vm_area_struct *vma)
{
	return __vma_dup(vma, vma->vm_mm, false);
}

struct vm_area_struct *__vma_dup(struct vm_area_struct *vma, struct mm_struct *mm, bool fork)
{
	struct vm_area_struct *new = vma_alloc(mm);
	struct vma_core *vc = vma_core(vma);

	if (!new)
		return NULL;
	new->vm_start = vma->vm_start;
	new->vm_end = vma->vm_end;
	new->vm_flags = vma->vm_flags;
	new->vm_pgoff = vma->vm_pgoff;
	new->vm_ops = vma->vm_ops;
	new->vm_private_data = vma->vm_private_data;
	if (vma->vm_file)
		new->vm_file = fget(vma->vm_file); /* Pairs with fput() in vma_free(). */
	if (vc->shm)
		vma_set_shm(new, vc->shm);
	/* fork: the child's VMA gets its own anon_vma identity, chained to ours. */
	if (vc->anon_vma && fork && (vma->vm_flags & VM_WIPEONFORK))
		; /* dup_mmap(): the child's copy starts empty, with no anon_vma */
	else if (vc->anon_vma && fork)
		vma_set_anon_vma(new, vc->anon_vma, anon_vma_new_id(), true);
	else if (vc->anon_vma)
		vma_set_anon_vma(new, vc->anon_vma, vc->av_id, vc->anon_cloned);
	if (new->vm_ops &&new->vm_ops->open)
		new->vm_ops->open(new);
	return new;
}

/*
 * vma_set_bounds() - move a VMA that may already be on reverse-map lists
 *
 * Reverse-map walkers compute addresses from vm_start and vm_pgoff under the
 * anon_vma lock and the shmem object's vma_lock (not mmap_lock), so these
 * fields change only under both, as Linux's vma_adjust() takes the
 * anon_vma and i_mmap locks. Caller holds mmap_lock for write.
 */
void vma_set_bounds(struct vm_area_struct *vma, unsigned long start, unsigned long end,
		    unsigned long pgoff)
{
	struct anon_vma *av = vma_core(vma)->anon_vma;
	struct shmem_obj *obj = vma_core(vma)->shm;

	mmap_assert_write_locked(vma->vm_mm);
	vma_start_write(vma);
	if (av)
		sm_mutex_lock(&av->lock);
	if (obj)
		sm_mutex_lock_nested(&obj->vma_lock, 1);
	vma->vm_start = start;
	vma->vm_end = end;
	vma->vm_pgoff = pgoff;
	if (obj)
		sm_mutex_unlock(&obj->vma_lock);
	if (av)
		sm_mutex_unlock(&av->lock);
}

int vma_split(struct mm_struct *mm, struct vm_area_struct *vma, unsigned long addr)
{
	struct vm_area_struct *new;

	mmap_assert_write_locked(mm);
	BUG_ON(addr <= vma->vm_start || addr >= vma->vm_end || !PAGE_ALIGNED(addr));
	/* vma_adjust_trans_huge(): no huge PMD may straddle the new boundary. */
	if (addr & ~HPAGE_PMD_MASK) {
		int err = split_huge_pmd_address(vma, addr);

		if (err)
			return err;
	}
	new = vma_dup(vma);
	if (!new)
		return -ENOMEM;
	vma_unlink(mm, vma);
	vma_set_bounds(new, addr, new->vm_end,
		       vma->vm_pgoff + ((addr - vma->vm_start) >> PAGE_SHIFT));
	vma_set_bounds(vma, vma->vm_start, addr, vma->vm_pgoff);
	vma_link(mm, vma);
	vma_link(mm, new);
	return 0;
}

static unsigned long vma_pages(const struct vm_area_struct *vma)
{
	return (vma->vm_end - vma->vm_start) >> PAGE_SHIFT;
}

/* is_mergeable_anon_vma(): NULL merges with an anon_vma that was not forked. */
static bool anon_mergeable(struct vm_area_struct *a, struct vm_area_struct *b)
{
	struct vma_core *ca = vma_core(a), *cb = vma_core(b);

	if (!ca->av_id || !cb->av_id)
		return !(ca->av_id ? ca->anon_cloned : cb->anon_cloned);
	return ca->av_id == cb->av_id;
}

/*
 * is_mergeable_anon_vma() for a new range (copy_vma(), an mremap that grows
 * in place): Linux merges it with no middle VMA, so only the neighbour
 * @tgt's forked-ness counts, and only when @new brings no anon_vma.
 */
static bool anon_mergeable_new(struct vm_area_struct *tgt, struct vm_area_struct *new)
{
	struct vma_core *ct = vma_core(tgt), *cn = vma_core(new);

	if (!ct->av_id)
		return true;
	if (!cn->av_id)
		return !ct->anon_cloned;
	return ct->av_id == cn->av_id;
}

/* are_anon_vmas_compatible(): may @a and @b share one anon_vma? */
static bool anon_compatible(struct vm_area_struct *a, struct vm_area_struct *b)
{
	return !vma_core(a)->av_id || !vma_core(b)->av_id ||
	       vma_core(a)->av_id == vma_core(b)->av_id;
}

/* Everything but the anon_vma: may @a (lower) and @b (upper, adjacent) become one VMA? */
static bool can_merge_attrs(struct vm_area_struct *a, struct vm_area_struct *b)
{
	if (a->vm_end != b->vm_start)
		return false;
	if (a->vm_flags != b->vm_flags || a->vm_file != b->vm_file || a->vm_ops || b->vm_ops)
		return false;
	if (vma_core(a)->shm != vma_core(b)->shm)
		return false;
	return a->vm_pgoff + vma_pages(a) == b->vm_pgoff;
}

/* May @a (lower) and @b (upper, adjacent), both existing VMAs, become one? */
static bool can_merge(struct vm_area_struct *a, struct vm_area_struct *b)
{
	return can_merge_attrs(a, b) && anon_mergeable(a, b);
}

/* @a absorbs @b; @b is freed. */
static void vma_absorb(struct mm_struct *mm, struct vm_area_struct *a, struct vm_area_struct *b)
{
	struct vma_core *cb = vma_core(b);

	vma_unlink(mm, b);
	vma_unlink(mm, a);
	vma_set_bounds(a, a->vm_start, b->vm_end, a->vm_pgoff);
	if (!vma_core(a)->anon_vma && cb->anon_vma)
		vma_set_anon_vma(a, cb->anon_vma, cb->av_id, cb->anon_cloned);
	vma_link(mm, a);
	vma_free(b);
}

/* Absorb @b into @a where @a comes first but @b must survive as the pointer: start moves. */
static void vma_absorb_prev(struct mm_struct *mm, struct vm_area_struct *prev,
			    struct vm_area_struct *vma)
{
	vma_absorb(mm, prev, vma);
}

struct vm_area_struct *vma_merge_neighbours(struct mm_struct *mm, struct vm_area_struct *vma)
{
	struct vm_area_struct *prev = vma_prev(vma), *next;

	mmap_assert_write_locked(mm);
	if (prev && can_merge(prev, vma)) {
		vma_absorb_prev(mm, prev, vma);
		vma = prev;
	}
	next = vma_next(vma);
	if (next && can_merge(vma, next))
		vma_absorb(mm, vma, next);
	return vma;
}

struct vm_area_struct *vma_merge_new_range(struct mm_struct *mm, struct vm_area_struct *vma,
					   bool just_next)
{
	struct vm_area_struct *prev = just_next ? NULL : vma_prev(vma), *next = vma_next(vma);
	bool left, right;

	mmap_assert_write_locked(mm);
	left = prev && can_merge_attrs(prev, vma) && anon_mergeable_new(prev, vma);
	right = next && can_merge_attrs(vma, next) && anon_mergeable_new(next, vma) &&
		(!left || anon_compatible(prev, next));
	if (left) {
		vma_absorb_prev(mm, prev, vma);
		vma = prev;
	}
	if (right)
		vma_absorb(mm, vma, next);
	return vma;
}

/*
 * anon_vma_compatible() + reusable_anon_vma(): a neighbour whose anon_vma may
 * be shared by @vma, so that the two can merge later.
 */
static bool anon_vma_reusable(struct vm_area_struct *a, struct vm_area_struct *b,
			      struct vm_area_struct *old)
{
	const unsigned long access = VM_READ | VM_WRITE | VM_EXEC;

	if (a->vm_end != b->vm_start || a->vm_file != b->vm_file)
		return false;
	if ((a->vm_flags ^ b->vm_flags) & ~access)
		return false;
	if (b->vm_pgoff != a->vm_pgoff + vma_pages(a))
		return false;
	return vma_core(old)->anon_vma && !vma_core(old)->anon_cloned;
}

/**
 * anon_vma_prepare() - give @vma an anon_vma before its first private page
 *
 * Reuses an adjacent compatible VMA's anon_vma as Linux does, so that
 * merging behaves the same. Caller holds mmap_lock, or @vma's per-VMA lock
 * if @vma has an anon_vma already (lock_vma_under_rcu() checks: the
 * neighbours are stable only under mmap_lock). Read suffices: racing
 * faults are serialised by the anon_vma lock and the PTL, taken in that
 * order as in Linux). Return: 0 or -ENOMEM.
 */
int anon_vma_prepare(struct vm_area_struct *vma)
{
	struct mm_struct *mm = vma->vm_mm;
	struct vma_core *vc = vma_core(vma);
	struct vm_area_struct *prev, *next, *src = NULL;
	struct anon_vma *av;
	unsigned long id;

	vma_assert_locked(vma);
	if (READ_ONCE(vc->anon_vma))
		return 0;
	mmap_assert_locked(mm);
	sm_mutex_lock(&mm->page_table_lock);
	next = vma_next(vma);
	prev = vma_prev(vma);
	if (next && anon_vma_reusable(vma, next, next))
		src = next;
	else if (prev && anon_vma_reusable(prev, vma, prev))
		src = prev;
	av = src ? vma_core(src)->anon_vma : NULL;
	id = src ? vma_core(src)->av_id : 0;
	if (av)
		anon_vma_get(av); /* Pairs with the put below. */
	sm_mutex_unlock(&mm->page_table_lock);

	if (!av) {
		av = anon_vma_alloc();
		if (!av)
			return -ENOMEM;
		id = anon_vma_new_id();
	}
	sm_mutex_lock(&av->lock);
	sm_mutex_lock(&mm->page_table_lock);
	if (!vc->anon_vma)
		__vma_set_anon_vma(vma, av, id, false);
	sm_mutex_unlock(&mm->page_table_lock);
	sm_mutex_unlock(&av->lock);
	anon_vma_put(av);
	return 0;
}
