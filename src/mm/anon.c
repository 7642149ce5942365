// SPDX-License-Identifier: MIT
/*
 * Backing objects of anonymous memory: anon_vma (reverse map of private
 * anonymous pages) and shmem_obj (the object behind MAP_SHARED|MAP_ANONYMOUS).
 */
#include <errno.h>

#include "base/alloc.h"
#include "mm/internal.h"

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

void anon_vma_put(struct anon_vma *av)
{
	long old = atomic_fetch_sub(&av->refcount, 1);

	BUG_ON(old <= 0);
	if (old > 1)
		return;
	BUG_ON(!list_empty(&av->vmas));
	sm_mutex_destroy(&av->lock);
	kfree_sized(av, sizeof(*av));
}

struct shmem_obj *shmem_obj_alloc(unsigned long nr_pages)
{
	struct shmem_obj *obj = kzalloc(sizeof(*obj));

	if (!obj)
		return NULL;
	obj->pages = kzalloc(nr_pages * sizeof(*obj->pages));
	if (!obj->pages) {
		kfree(obj);
		return NULL;
	}
	obj->refcount = 1;
	obj->nr_pages = nr_pages;
	sm_mutex_init(&obj->lock, "shmem->lock", LOCK_RANK_SHMEM);
	return obj;
}

void shmem_obj_get(struct shmem_obj *obj)
{
	long old = atomic_fetch_add(&obj->refcount, 1);

	BUG_ON(old <= 0);
}

void shmem_obj_put(struct shmem_obj *obj)
{
	long old = atomic_fetch_sub(&obj->refcount, 1);

	BUG_ON(old <= 0);
	if (old > 1)
		return;
	/* The object's own reference on each page goes with it. */
	for (unsigned long i = 0; i < obj->nr_pages; i++)
		if (obj->pages[i])
			put_page(obj->pages[i]);
	sm_mutex_destroy(&obj->lock);
	kfree(obj->pages);
	kfree_sized(obj, sizeof(*obj));
}

int shmem_obj_get_page(struct shmem_obj *obj, unsigned long pgoff, struct page **pagep)
{
	struct page *page;

	if (pgoff >= obj->nr_pages)
		return -EFAULT; /* SIGBUS: beyond the object */
	sm_mutex_lock(&obj->lock);
	page = obj->pages[pgoff];
	if (!page) {
		page = alloc_page();
		if (!page) {
			sm_mutex_unlock(&obj->lock);
			return -ENOMEM;
		}
		SetPageFlag(page, PG_swapbacked);
		page->mapping = obj;
		page->index = pgoff;
		obj->pages[pgoff] = page; /* the object's reference */
	}
	get_page(page); /* the caller's reference */
	sm_mutex_unlock(&obj->lock);
	*pagep = page;
	return 0;
}
