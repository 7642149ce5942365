// SPDX-License-Identifier: MIT
/*
 * Backing objects of anonymous memory: anon_vma (reverse map of private
 * anonymous pages) and shmem_obj (the object behind MAP_SHARED|MAP_ANONYMOUS).
 */
#include <errno.h>
#include <string.h>
#include <stdlib.h>
#include <sched.h>

#include "base/alloc.h"
#include "secmmu/err.h"
#include "mm/internal.h"
#include "mm/swap_internal.h"

struct anon_vma *anon_vma_alloc(void)
{
	struct anon_vma *av = kzalloc(sizeof(*av));

	if (!av)
		return NULL;
	av->refcount = 1;
	sm_mutex_init(&av->lock, "anon_vma->lock", LOCK_RANK_ANON_VMA);
	INIT_LIST_HEAD(&av->vmas);
	return av;
}

void anon_vma_get(struct anon_vma *av)
{
	long old = atomic_fetch_add(&av->refcount, 1);

	BUG_ON(old <= 0);
}

static void anon_vma_free_rcu(struct sm_rcu_head *head)
{
	struct anon_vma *av = container_of(head, struct anon_vma, rcu);

	sm_mutex_destroy(&av->lock);
	kfree_sized(av, sizeof(*av));
}

void anon_vma_put(struct anon_vma *av)
{
	long old = atomic_fetch_sub(&av->refcount, 1);

	BUG_ON(old <= 0);
	if (old > 1)
		return;
	BUG_ON(!list_empty(&av->vmas));
	/* Reverse-map walkers may still be reading it under RCU. */
	sm_call_rcu(&av->rcu, anon_vma_free_rcu);
}

/* Take a reference unless the count already reached zero (the object is dying). */
static bool ref_get_unless_zero(_Atomic long *ref)
{
	long old = atomic_load(ref);

	while (old > 0)
		if (atomic_compare_exchange_weak(ref, &old, old + 1))
			return true;
	return false;
}

struct anon_vma *page_get_anon_vma(struct page *page)
{
	struct anon_vma *av;

	sm_rcu_read_lock();
	av = __atomic_load_n((struct anon_vma **)&page->mapping, __ATOMIC_ACQUIRE);
	/*
	 * Unmapped: its VMAs (and their anon_vma) may be gone already. KSM: the
	 * page is mapped by VMAs of other anon_vmas than the one it names.
	 */
	if (!av || !page_mapcount(page) || PageTest(page, PG_ksm) ||
	    !ref_get_unless_zero(&av->refcount))
		av = NULL;
	sm_rcu_read_unlock();
	return av; /* Pairs with anon_vma_put() by the caller. */
}

struct shmem_obj *page_get_shmem(struct page *page)
{
	struct shmem_obj *obj;

	sm_rcu_read_lock();
	obj = __atomic_load_n((struct shmem_obj **)&page->mapping, __ATOMIC_ACQUIRE);
	if (obj && !ref_get_unless_zero(&obj->refcount))
		obj = NULL;
	sm_rcu_read_unlock();
	return obj; /* Pairs with shmem_obj_put() by the caller. */
}

/* Every shmem object with a reference left (leaf lock: nothing nests under it). */
static LIST_HEAD(shmem_objs);
static size_t nr_shmem_objs;
static struct sm_mutex shmem_objs_lock;
static pthread_once_t shmem_objs_once = PTHREAD_ONCE_INIT;

static void shmem_objs_init(void)
{
	sm_mutex_init(&shmem_objs_lock, "shmem_objs_lock", LOCK_RANK_LEAF);
}

struct shmem_obj **shmem_obj_get_all(size_t *nr)
{
	struct shmem_obj **objs, *obj;
	size_t n = 0;

	*nr = 0;
	pthread_once(&shmem_objs_once, shmem_objs_init);
	sm_mutex_lock(&shmem_objs_lock);
	objs = nr_shmem_objs ? kcalloc(nr_shmem_objs, sizeof(*objs)) : NULL;
	if (nr_shmem_objs && !objs) {
		sm_mutex_unlock(&shmem_objs_lock);
		return ERR_PTR(-ENOMEM);
	}
	if (objs)
		list_for_each_entry (obj, &shmem_objs, all)
			if (ref_get_unless_zero(&obj->refcount))
				objs[n++] = obj; /* Pairs with shmem_obj_put_all(). */
	sm_mutex_unlock(&shmem_objs_lock);
	*nr = n;
	return objs;
}

void shmem_obj_put_all(struct shmem_obj **objs, size_t nr)
{
	for (size_t i = 0; i < nr; i++)
		shmem_obj_put(objs[i]);
	kfree(objs);
}

static unsigned long shmem_nr_dir(unsigned long cap)
{
	return (cap >> SHMEM_DIR_SHIFT) + 1;
}

static struct shmem_chunk *shmem_chunk(struct shmem_obj *obj, unsigned long idx, bool alloc)
{
	unsigned long d = idx >> SHMEM_DIR_SHIFT, m = (idx >> SHMEM_CHUNK_SHIFT) & 511;
	struct shmem_chunk **mid;

	if (idx >= obj->cap)
		return NULL;
	mid = obj->dir[d];
	if (!mid) {
		if (!alloc)
			return NULL;
		mid = kzalloc(SHMEM_CHUNK_PAGES * sizeof(*mid));
		if (!mid)
			return NULL;
		obj->dir[d] = mid;
	}
	if (!mid[m] && alloc)
		mid[m] = kzalloc(sizeof(struct shmem_chunk));
	return mid[m];
}

struct page **shmem_page_slot(struct shmem_obj *obj, unsigned long idx, bool alloc)
{
	struct shmem_chunk *c = shmem_chunk(obj, idx, alloc);

	return c ? &c->pages[idx & (SHMEM_CHUNK_PAGES - 1)] : NULL;
}

unsigned long *shmem_swap_slot(struct shmem_obj *obj, unsigned long idx, bool alloc)
{
	struct shmem_chunk *c = shmem_chunk(obj, idx, alloc);

	return c ? &c->swap[idx & (SHMEM_CHUNK_PAGES - 1)] : NULL;
}

unsigned long shmem_next_present(struct shmem_obj *obj, unsigned long idx)
{
	while (idx < obj->cap) {
		struct shmem_chunk **mid = obj->dir[idx >> SHMEM_DIR_SHIFT];

		if (!mid)
			idx = ((idx >> SHMEM_DIR_SHIFT) + 1) << SHMEM_DIR_SHIFT;
		else if (!mid[(idx >> SHMEM_CHUNK_SHIFT) & 511])
			idx = ((idx >> SHMEM_CHUNK_SHIFT) + 1) << SHMEM_CHUNK_SHIFT;
		else
			return idx;
	}
	return obj->cap;
}

static void shmem_free_table(struct shmem_obj *obj)
{
	for (unsigned long d = 0; d < shmem_nr_dir(obj->cap); d++) {
		if (!obj->dir[d])
			continue;
		for (unsigned long m = 0; m < SHMEM_CHUNK_PAGES; m++)
			kfree(obj->dir[d][m]);
		kfree(obj->dir[d]);
	}
	kfree(obj->dir);
}

struct shmem_obj *shmem_obj_alloc(unsigned long nr_pages)
{
	struct shmem_obj *obj = kzalloc(sizeof(*obj));

	if (!obj)
		return NULL;
	obj->dir = kzalloc(shmem_nr_dir(nr_pages) * sizeof(*obj->dir));
	if (!obj->dir) {
		kfree(obj);
		return NULL;
	}
	obj->refcount = 1;
	obj->nr_pages = nr_pages;
	obj->cap = nr_pages;
	sm_mutex_init(&obj->lock, "shmem->lock", LOCK_RANK_SHMEM);
	sm_mutex_init(&obj->vma_lock, "shmem->vma_lock", LOCK_RANK_ANON_VMA);
	INIT_LIST_HEAD(&obj->vmas);
	pthread_once(&shmem_objs_once, shmem_objs_init);
	sm_mutex_lock(&shmem_objs_lock);
	list_add(&obj->all, &shmem_objs);
	nr_shmem_objs++;
	sm_mutex_unlock(&shmem_objs_lock);
	return obj;
}

void shmem_obj_get(struct shmem_obj *obj)
{
	long old = atomic_fetch_add(&obj->refcount, 1);

	BUG_ON(old <= 0);
}

static void shmem_obj_free_rcu(struct sm_rcu_head *head)
{
	struct shmem_obj *obj = container_of(head, struct shmem_obj, rcu);

	sm_mutex_destroy(&obj->lock);
	sm_mutex_destroy(&obj->vma_lock);
	shmem_free_table(obj);
	kfree_sized(obj, sizeof(*obj));
}

void shmem_obj_put(struct shmem_obj *obj)
{
	long old = atomic_fetch_sub(&obj->refcount, 1);

	BUG_ON(old <= 0);
	if (old > 1)
		return;
	/* The object's own reference on each page goes with it. */
	BUG_ON(!list_empty(&obj->vmas));
	sm_mutex_lock(&shmem_objs_lock);
	list_del(&obj->all);
	nr_shmem_objs--;
	sm_mutex_unlock(&shmem_objs_lock);
	shmem_for_each_present(obj, i, 0, obj->cap)
	{
		struct page **pp = shmem_page_slot(obj, i, false);
		unsigned long *sp = shmem_swap_slot(obj, i, false);

		if (*pp) {
			/* A pinned page may outlive us: it must not point back here. */
			__atomic_store_n(&(*pp)->mapping, NULL, __ATOMIC_RELEASE);
			put_page(*pp);
		}
		if (*sp)
			swap_free(*sp - 1);
	}
	sm_call_rcu(&obj->rcu, shmem_obj_free_rcu);
}

void vma_set_shm(struct vm_area_struct *vma, struct shmem_obj *obj)
{
	shmem_obj_get(obj); /* Pairs with shmem_obj_put() in vma_clear_shm(). */
	vma_core(vma)->shm = obj;
	sm_mutex_lock(&obj->vma_lock);
	list_add_tail(&vma_core(vma)->shm_link, &obj->vmas);
	sm_mutex_unlock(&obj->vma_lock);
}

void vma_clear_shm(struct vm_area_struct *vma)
{
	struct shmem_obj *obj = vma_core(vma)->shm;

	if (!obj)
		return;
	sm_mutex_lock(&obj->vma_lock);
	list_del_init(&vma_core(vma)->shm_link);
	sm_mutex_unlock(&obj->vma_lock);
	vma_core(vma)->shm = NULL;
	shmem_obj_put(obj);
}

/*
 * The page at @pgoff with a reference for the caller: from the object, from
 * swap, or a new zeroed one. The frame is allocated before the object lock is
 * taken, because allocation may reclaim, and reclaim takes reverse-map locks
 * that rank below it.
 */
int shmem_obj_get_page(struct shmem_obj *obj, unsigned long pgoff, struct page **pagep)
{
	struct page *page, *new, **pp;
	unsigned long *sp;
	int ret = 0;

	new = alloc_page();
	sm_mutex_lock(&obj->lock);
	if (pgoff >= obj->nr_pages) {
		ret = -EFAULT; /* SIGBUS: beyond the end of the object */
		goto out;
	}
	pp = shmem_page_slot(obj, pgoff, true);
	sp = shmem_swap_slot(obj, pgoff, true);
	if (!pp || !sp) {
		ret = -ENOMEM; /* the table's chunk */
		goto out;
	}
	/*
	 * A migration holds the page locked until the object points at the new
	 * frame (find_lock_page() in Linux): handing out the old one meanwhile
	 * would map a frame the object is about to drop.
	 */
	while (*pp && PageTest(*pp, PG_locked)) {
		struct page *locked = *pp;

		sm_mutex_unlock(&obj->lock);
		wait_on_page_locked(locked);
		sm_mutex_lock(&obj->lock);
	}
	page = *pp;
	if (!page) {
		if (!new) {
			ret = -ENOMEM;
			goto out;
		}
		page = new;
		new = NULL;
		SetPageFlag(page, PG_swapbacked);
		page->mapping = obj;
		page->index = pgoff;
		if (*sp) {
			ret = swap_readpage(*sp - 1, page);
			if (ret) {
				new = page;
				goto out;
			}
			swap_free(*sp - 1);
			*sp = 0;
		}
		*pp = page; /* the object's reference */
		lru_add(page);
	}
	get_page(page); /* the caller's reference */
	*pagep = page;
out:
	sm_mutex_unlock(&obj->lock);
	if (new)
		put_page(new);
	return ret;
}

/**
 * shmem_obj_find_pages() - the cached pages of [@first, @first + @nr)
 * @pages: @nr slots; each gets a referenced page, or NULL where the object
 *         has no page in memory (never touched, swapped out, or locked by a
 *         migration), as filemap_map_pages() finds them for fault-around
 *
 * Takes obj->lock. Return: how many pages were found.
 */
unsigned long shmem_obj_find_pages(struct shmem_obj *obj, unsigned long first, unsigned long nr,
				   struct page **pages)
{
	unsigned long found = 0;

	sm_mutex_lock(&obj->lock);
	for (unsigned long i = 0; i < nr; i++) {
		struct page **pp =
			first + i < obj->nr_pages ? shmem_page_slot(obj, first + i, false) : NULL;
		struct page *page = pp ? *pp : NULL;

		if (page && PageTest(page, PG_locked))
			page = NULL;
		if (page) {
			get_page(page); /* the caller's; pairs with put_page() or the PTE */
			found++;
		}
		pages[i] = page;
	}
	sm_mutex_unlock(&obj->lock);
	return found;
}

/**
 * shmem_obj_zero_tail() - zero page @pgoff of @obj from byte @offset on
 *
 * The partial last page of a truncate. A page that is swapped out is read
 * back in first. Takes obj->lock. Does nothing if the page is beyond the end.
 */
void shmem_obj_zero_tail(struct shmem_obj *obj, unsigned long pgoff, unsigned long offset)
{
	struct page *page;

	if (shmem_obj_get_page(obj, pgoff, &page))
		return;
	memset((char *)page_address(page) + offset, 0, PAGE_SIZE - offset);
	put_page(page);
}

/* Let the table address @cap pages (a longer directory). Caller holds obj->lock. */
static int shmem_obj_grow(struct shmem_obj *obj, unsigned long cap)
{
	unsigned long n = shmem_nr_dir(obj->cap), m = shmem_nr_dir(cap);
	struct shmem_chunk ***dir;

	lockdep_assert_held(&obj->lock);
	if (m > n) {
		dir = kzalloc(m * sizeof(*dir));
		if (!dir)
			return -ENOMEM;
		memcpy(dir, obj->dir, n * sizeof(*dir));
		kfree(obj->dir);
		obj->dir = dir;
	}
	obj->cap = cap;
	return 0;
}

struct unmap_req {
	struct mm_struct *mm; /* mm_count held */
	unsigned long start, end;
};

/*
 * unmap_mapping_range(): zap [first, last) of the object in every VMA that
 * maps it, with notifications. The VMAs are collected under the reverse-map
 * lock (which ranks above mmap_lock), then each mm is visited with its
 * mmap_lock held for read, where its VMAs may be trusted.
 *
 * @reqs (@cap entries, from unmap_reqs_alloc(), freed here) is allocated by
 * the caller before it drops any page, so that running out of memory fails
 * the caller with nothing done; it grows only if VMAs were added meanwhile.
 */
/* An array for shmem_unmap_range(): one entry per VMA mapping @obj now, and slack. */
static struct unmap_req *unmap_reqs_alloc(struct shmem_obj *obj, size_t *cap)
{
	struct vma_core *vc;
	size_t n = 4;

	sm_mutex_lock(&obj->vma_lock);
	list_for_each_entry (vc, &obj->vmas, shm_link)
		n++;
	sm_mutex_unlock(&obj->vma_lock);
	*cap = n;
	return kcalloc(n, sizeof(struct unmap_req));
}

static void shmem_unmap_range(struct shmem_obj *obj, unsigned long first, unsigned long last,
			      struct unmap_req *reqs, size_t cap)
{
	struct vma_core *vc;
	size_t n = 0;

	sm_mutex_lock(&obj->vma_lock);
	list_for_each_entry (vc, &obj->vmas, shm_link) {
		struct vm_area_struct *vma =
			container_of((void *)vc, struct vm_area_struct, core_priv);
		unsigned long pages = (vma->vm_end - vma->vm_start) >> PAGE_SHIFT;
		unsigned long lo = first > vma->vm_pgoff ? first : vma->vm_pgoff;
		unsigned long hi = last < vma->vm_pgoff + pages ? last : vma->vm_pgoff + pages;

		if (lo >= hi)
			continue;
		if (n == cap) {
			struct unmap_req *bigger =
				krealloc_array(reqs, cap = cap ? 2 * cap : 8, sizeof(*reqs));

			if (!bigger)
				break; /* only if VMAs raced in: their faults see the new state */
			reqs = bigger;
		}
		mmgrab_tracked(vma->vm_mm, obj, "shmem unmap"); /* Pairs with mmdrop() below. */
		reqs[n++] = (struct unmap_req){
			vma->vm_mm, vma->vm_start + ((lo - vma->vm_pgoff) << PAGE_SHIFT),
			vma->vm_start + ((hi - vma->vm_pgoff) << PAGE_SHIFT)};
	}
	sm_mutex_unlock(&obj->vma_lock);

	for (size_t i = 0; i < n; i++) {
		struct mm_struct *mm = reqs[i].mm;
		struct mmu_notifier_range range;
		struct vm_area_struct *vma;

		if (mmget_not_zero_tracked(
			    mm, obj,
			    "shmem unmap")) { /* else it is exiting: its teardown unmaps all */
			mmap_read_lock(mm);
			for (vma = find_vma(mm, reqs[i].start); vma && vma->vm_start < reqs[i].end;
			     vma = vma_next(vma)) {
				unsigned long s = vma->vm_start > reqs[i].start ? vma->vm_start
										: reqs[i].start;
				unsigned long e =
					vma->vm_end < reqs[i].end ? vma->vm_end : reqs[i].end;

				if (vma_core(vma)->shm != obj)
					continue;
				/* zap_page_range_single() in Linux: a CLEAR. */
				mmu_notifier_range_init(&range, MMU_NOTIFY_CLEAR, 0, mm, s, e);
				mmu_notifier_invalidate_range_start(&range);
				zap_page_range(vma, s, e);
				mmu_notifier_invalidate_range_end(&range);
			}
			mmap_read_unlock(mm);
			mmput_tracked(mm, obj, "shmem unmap");
		}
		mmdrop_tracked(mm, obj, "shmem unmap");
	}
	kfree(reqs);
}

/**
 * shmem_obj_punch_hole() - drop the pages [@first, @last) of @obj
 *
 * fallocate(FALLOC_FL_PUNCH_HOLE) for MADV_REMOVE: the pages (and swap
 * slots) go, every mapping of them is zapped under a notifier invalidation
 * first; the object keeps its size, so they read back as zeroes. Takes
 * obj->lock, then each mapping mm's mmap_lock for read: the caller holds no
 * mmap_lock for write of an mm that maps @obj... except its own, which
 * shmem_unmap_range() does not take again. May sleep.
 */
int shmem_obj_punch_hole(struct shmem_obj *obj, unsigned long first, unsigned long last)
{
	struct page **drop = NULL;
	unsigned long ndrop = 0, nr_drop = 0;
	struct unmap_req *reqs;
	size_t cap;

	reqs = unmap_reqs_alloc(obj, &cap);
	if (!reqs)
		return -ENOMEM;
	sm_mutex_lock(&obj->lock);
	if (last > obj->nr_pages)
		last = obj->nr_pages;
	if (first < last) {
		shmem_for_each_present(obj, i, first, last) nr_drop +=
			*shmem_page_slot(obj, i, false) != NULL;
		drop = kcalloc(nr_drop + 1, sizeof(*drop));
		if (!drop) {
			sm_mutex_unlock(&obj->lock);
			kfree(reqs);
			return -ENOMEM; /* nothing punched */
		}
	}
	if (drop) {
		shmem_for_each_present(obj, i, first, last)
		{
			struct page **pp = shmem_page_slot(obj, i, false);
			unsigned long *sp = shmem_swap_slot(obj, i, false);

			if (*pp) {
				__atomic_store_n(&(*pp)->mapping, NULL, __ATOMIC_RELEASE);
				drop[ndrop++] = *pp;
				*pp = NULL;
			}
			if (*sp) {
				swap_free(*sp - 1);
				*sp = 0;
			}
		}
	}
	sm_mutex_unlock(&obj->lock);
	if (!drop) {
		kfree(reqs);
		return 0;
	}
	shmem_unmap_range(obj, first, last, reqs, cap);
	for (unsigned long i = 0; i < ndrop; i++)
		put_page(drop[i]); /* the object's reference; mappings are gone */
	kfree(drop);
	return 0;
}

int shmem_obj_truncate(struct shmem_obj *obj, unsigned long nr_pages)
{
	struct page **drop = NULL;
	unsigned long old, ndrop = 0, nr_drop = 0;
	struct unmap_req *reqs;
	int ret = 0;
	size_t cap;

	reqs = unmap_reqs_alloc(obj, &cap);
	if (!reqs)
		return -ENOMEM;
	sm_mutex_lock(&obj->lock);
	old = obj->nr_pages;
	if (nr_pages > obj->cap)
		ret = shmem_obj_grow(obj, nr_pages);
	if (!ret && nr_pages < old) {
		shmem_for_each_present(obj, i, nr_pages, old) nr_drop +=
			*shmem_page_slot(obj, i, false) != NULL;
		if (nr_drop) {
			drop = kcalloc(nr_drop, sizeof(*drop));
			if (!drop)
				ret = -ENOMEM;
		}
	}
	if (ret) {
		sm_mutex_unlock(&obj->lock);
		kfree(reqs);
		return ret;
	}
	/* From here on no fault can map a page at or beyond the new size. */
	obj->nr_pages = nr_pages;
	shmem_for_each_present(obj, i, nr_pages, old)
	{
		struct page **pp = shmem_page_slot(obj, i, false);
		unsigned long *sp = shmem_swap_slot(obj, i, false);

		if (*pp) {
			__atomic_store_n(&(*pp)->mapping, NULL, __ATOMIC_RELEASE);
			drop[ndrop++] = *pp;
			*pp = NULL;
		}
		if (*sp) {
			swap_free(*sp - 1);
			*sp = 0;
		}
	}
	sm_mutex_unlock(&obj->lock);
	if (nr_pages < old)
		shmem_unmap_range(obj, nr_pages, old, reqs, cap);
	else
		kfree(reqs);
	for (unsigned long i = 0; i < ndrop; i++)
		put_page(drop[i]); /* the object's reference; mappings are gone */
	kfree(drop);
	return 0;
}
