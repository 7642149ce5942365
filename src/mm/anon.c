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
	objs = nr_shmem_objs ? malloc(nr_shmem_objs * sizeof(*objs)) : NULL;
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
	free(objs);
}

struct shmem_obj *shmem_obj_alloc(unsigned long nr_pages)
{
	struct shmem_obj *obj = kzalloc(sizeof(*obj));

	if (!obj)
		return NULL;
	obj->pages = kzalloc(nr_pages * sizeof(*obj->pages));
	obj->swap = obj->pages ? kzalloc(nr_pages * sizeof(*obj->swap)) : NULL;
	if (!obj->swap) {
		kfree(obj->pages);
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
	kfree(obj->swap);
	kfree(obj->pages);
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
	for (unsigned long i = 0; i < obj->cap; i++) {
		if (obj->pages[i]) {
			/* A pinned page may outlive us: it must not point back here. */
			__atomic_store_n(&obj->pages[i]->mapping, NULL, __ATOMIC_RELEASE);
			put_page(obj->pages[i]);
		}
		if (obj->swap[i])
			swap_free(obj->swap[i] - 1);
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
	struct page *page, *new;
	int ret = 0;

	new = alloc_page();
	sm_mutex_lock(&obj->lock);
	if (pgoff >= obj->nr_pages) {
		ret = -EFAULT; /* SIGBUS: beyond the end of the object */
		goto out;
	}
	/*
	 * A migration holds the page locked until the object points at the new
	 * frame (find_lock_page() in Linux): handing out the old one meanwhile
	 * would map a frame the object is about to drop.
	 */
	while (obj->pages[pgoff] && PageTest(obj->pages[pgoff], PG_locked)) {
		struct page *locked = obj->pages[pgoff];

		sm_mutex_unlock(&obj->lock);
		wait_on_page_locked(locked);
		sm_mutex_lock(&obj->lock);
	}
	page = obj->pages[pgoff];
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
		if (obj->swap[pgoff]) {
			ret = swap_readpage(obj->swap[pgoff] - 1, page);
			if (ret) {
				new = page;
				goto out;
			}
			swap_free(obj->swap[pgoff] - 1);
			obj->swap[pgoff] = 0;
		}
		obj->pages[pgoff] = page; /* the object's reference */
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
		struct page *page = first + i < obj->nr_pages ? obj->pages[first + i] : NULL;

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

/* Grow @pages and @swap to @cap entries. Caller holds obj->lock. */
static int shmem_obj_grow(struct shmem_obj *obj, unsigned long cap)
{
	struct page **pages = kzalloc(cap * sizeof(*pages));
	unsigned long *swap = pages ? kzalloc(cap * sizeof(*swap)) : NULL;

	lockdep_assert_held(&obj->lock);
	if (!swap) {
		kfree(pages);
		return -ENOMEM;
	}
	memcpy(pages, obj->pages, obj->cap * sizeof(*pages));
	memcpy(swap, obj->swap, obj->cap * sizeof(*swap));
	kfree(obj->pages);
	kfree(obj->swap);
	obj->pages = pages;
	obj->swap = swap;
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
 */
static void shmem_unmap_range(struct shmem_obj *obj, unsigned long first, unsigned long last)
{
	struct unmap_req *reqs = NULL;
	size_t n = 0, cap = 0;
	struct vma_core *vc;

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
				realloc(reqs, (cap = cap ? 2 * cap : 8) * sizeof(*reqs));

			if (!bigger)
				break; /* the exit or a later truncate will unmap the rest */
			reqs = bigger;
		}
		mmgrab(vma->vm_mm); /* Pairs with mmdrop() below. */
		reqs[n++] = (struct unmap_req){
			vma->vm_mm, vma->vm_start + ((lo - vma->vm_pgoff) << PAGE_SHIFT),
			vma->vm_start + ((hi - vma->vm_pgoff) << PAGE_SHIFT)};
	}
	sm_mutex_unlock(&obj->vma_lock);

	for (size_t i = 0; i < n; i++) {
		struct mm_struct *mm = reqs[i].mm;
		struct mmu_notifier_range range;
		struct vm_area_struct *vma;

		if (mmget_not_zero(mm)) { /* else it is exiting: its teardown unmaps all */
			mmap_read_lock(mm);
			for (vma = find_vma(mm, reqs[i].start); vma && vma->vm_start < reqs[i].end;
			     vma = vma_next(vma)) {
				unsigned long s = vma->vm_start > reqs[i].start ? vma->vm_start
										: reqs[i].start;
				unsigned long e =
					vma->vm_end < reqs[i].end ? vma->vm_end : reqs[i].end;

				if (vma_core(vma)->shm != obj)
					continue;
				mmu_notifier_range_init(&range, MMU_NOTIFY_UNMAP, 0, mm, s, e);
				mmu_notifier_invalidate_range_start(&range);
				zap_page_range(vma, s, e);
				mmu_notifier_invalidate_range_end(&range);
			}
			mmap_read_unlock(mm);
			mmput(mm);
		}
		mmdrop(mm);
	}
	free(reqs);
}

int shmem_obj_truncate(struct shmem_obj *obj, unsigned long nr_pages)
{
	struct page **drop = NULL;
	unsigned long old, ndrop = 0;
	int ret = 0;

	sm_mutex_lock(&obj->lock);
	old = obj->nr_pages;
	if (nr_pages > obj->cap)
		ret = shmem_obj_grow(obj, nr_pages);
	if (!ret && nr_pages < old)
		drop = kcalloc(old - nr_pages, sizeof(*drop));
	if (!ret && nr_pages < old && !drop)
		ret = -ENOMEM;
	if (ret) {
		sm_mutex_unlock(&obj->lock);
		return ret;
	}
	/* From here on no fault can map a page at or beyond the new size. */
	obj->nr_pages = nr_pages;
	for (unsigned long i = nr_pages; i < old; i++) {
		if (obj->pages[i]) {
			__atomic_store_n(&obj->pages[i]->mapping, NULL, __ATOMIC_RELEASE);
			drop[ndrop++] = obj->pages[i];
			obj->pages[i] = NULL;
		}
		if (obj->swap[i]) {
			swap_free(obj->swap[i] - 1);
			obj->swap[i] = 0;
		}
	}
	sm_mutex_unlock(&obj->lock);
	if (nr_pages < old)
		shmem_unmap_range(obj, nr_pages, old);
	for (unsigned long i = 0; i < ndrop; i++)
		put_page(drop[i]); /* the object's reference; mappings are gone */
	kfree(drop);
	return 0;
}
