// SPDX-License-Identifier: MIT
/*
 * A VFIO SPAPR-TCE container with memory preregistration, after Linux's
 * drivers/vfio/vfio_iommu_spapr_tce.c as merged by seed 001 (v7): each
 * container tracks the regions IT preregistered in its prereg_list and puts
 * them when it is released -- when its file is closed, which a process's exit
 * does right after dropping its mm_users (exit_mm, then exit_files). So
 * pinned memory never waits for the last mmdrop().
 *
 * The TCE table is a list of entries, one per IOMMU page (4 KiB): iova ->
 * ua, each inside a region preregistered by any container of the mm (Linux's
 * tce_iommu_build_v2() looks each page up in the mm's list) and counted on
 * it (mm_iommu_mapped_inc), so the region cannot be put while the device
 * could still DMA into it. As in Linux, a map over an existing entry
 * replaces it (the old page is unused), a map that fails part-way clears
 * the entries it built, and an unmap clears whatever entries the range has
 * (none is fine: tce_iommu_clear()).
 *
 * LOCKING: container->lock (LOCK_RANK_DRIVER) serialises everything on a
 * container and is held across mm_iommu_get() (which pins: mmap_lock). As in
 * Linux, tce_iommu_register_pages/unregister_pages need nothing more: the
 * prereg_list is only touched under container->lock.
 *
 * REFERENCES: the container holds mm_count on the mm it is bound to
 * (tce_iommu_mm_set, dropped in tce_iommu_release) -- never mm_users, which
 * would keep the whole address space alive from a file the address space's
 * exit is supposed to close. The container struct itself is reference
 * counted: one for its file, one for the opener.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "secmmu/kit/bugs.h"
#include "secmmu/kit/alloc.h"
#include "secmmu/kit/debug.h"
#include "secmmu/kit/list.h"
#include "secmmu/kit/lock.h"
#include "drivers/vfio/vfio_internal.h"
#include "secmmu/file.h"
#include "secmmu/mm.h"
#include "secmmu/sched.h"
#include "secmmu/vfio.h"

/*
 * A container needs to remember which preregistered region it has
 * referenced to do proper cleanup at the userspace process exit.
 */
struct tce_iommu_prereg {
	struct list_head next;
	struct mm_iommu_table_group_mem_t *mem;
	unsigned long mapped; /* this container's TCE mappings into @mem */
};

/* One TCE: the IOMMU page at @iova maps the user page @ua. */
struct tce_mapping {
	struct list_head next;
	unsigned long iova, ua;
	struct mm_iommu_table_group_mem_t *mem; /* counted: mm_iommu_mapped_inc */
	struct tce_iommu_prereg *tcemem;	/* this container's entry for @mem, or NULL */
};

struct tce_container {
	struct sm_mutex lock;
	_Atomic int ref;
	_Atomic bool released;
	struct file *file;
	struct mm_struct *mm;		 /* mm_count held once bound; lock */
	bool legacy;			 /* VFIO_TCE_LEGACY, fixed at open */
	const struct tce_iommu_ops *ops; /* the test seam, fixed at open; NULL: default */
	void *ops_priv;
	struct list_head prereg_list; /* struct tce_iommu_prereg; lock */
	struct list_head mappings;    /* struct tce_mapping; lock */
};

static _Atomic unsigned long release_warnings;

unsigned long vfio_release_warnings(void)
{
	return atomic_load(&release_warnings);
}

static bool range_ok(unsigned long addr, unsigned long size)
{
	return size && PAGE_ALIGNED(addr) && PAGE_ALIGNED(size) && addr + size > addr &&
	       addr + size <= TASK_SIZE;
}

/* Bind the container to the caller's mm on first use. */
static long tce_iommu_mm_set(struct tce_container *container, struct mm_struct *mm)
{
	lockdep_assert_held(&container->lock);
	if (container->mm)
		return container->mm == mm ? 0 : -EPERM;
	/* Pairs with mmdrop() in tce_iommu_release(). */
	mmgrab_tracked(mm, container, VFIO_CONTAINER_HOLDER_KIND);
	container->mm = mm;
	return 0;
}

/* Lock the container for an ioctl from @mm; -EBADF once released. */
static long tce_lock_for(struct tce_container *container, struct mm_struct *mm)
{
	long ret = 0;

	sm_mutex_lock(&container->lock);
	if (atomic_load(&container->released))
		ret = -EBADF;
	else if (mm)
		ret = tce_iommu_mm_set(container, mm);
	if (ret)
		sm_mutex_unlock(&container->lock);
	return ret;
}

/*
 * Put the region of @tcemem; on failure the entry stays on the list. At
 * @release a region another container still has TCEs into loses this use all
 * the same and goes with that container's last TCE (mm_iommu_put_release()):
 * Linux's mm_iommu_put() fails there (-EBUSY, tce_iommu_release() WARNs) and
 * the region stays pinned with no owner until the last mmdrop.
 */
static long tce_iommu_prereg_free(struct tce_container *container, struct tce_iommu_prereg *tcemem,
				  bool release)
{
	long ret;

	lockdep_assert_held(&container->lock);
	/* Pairs with mm_iommu_get(). */
	if (container->ops && container->ops->prereg_put)
		ret = container->ops->prereg_put(container->mm, tcemem->mem, container->ops_priv);
	else if (release)
		ret = mm_iommu_put_release(container->mm, tcemem->mem);
	else
		ret = mm_iommu_put(container->mm, tcemem->mem);
	if (ret)
		return ret;
	list_del(&tcemem->next);
	kfree(tcemem);
	return 0;
}

static struct tce_iommu_prereg *prereg_find(struct tce_container *container, unsigned long ua,
					    unsigned long entries)
{
	struct tce_iommu_prereg *tcemem;

	lockdep_assert_held(&container->lock);
	list_for_each_entry (tcemem, &container->prereg_list, next) {
		if (tcemem->mem->ua == ua && tcemem->mem->entries == entries)
			return tcemem;
	}
	return NULL;
}

long tce_iommu_register_pages(struct tce_container *container, struct mm_struct *mm,
			      unsigned long vaddr, unsigned long size)
{
	unsigned long entries = size >> PAGE_SHIFT;
	struct mm_iommu_table_group_mem_t *mem;
	struct tce_iommu_prereg *tcemem;
	long ret;

	if (!range_ok(vaddr, size))
		return -EINVAL;
	ret = tce_lock_for(container, mm);
	if (ret)
		return ret;
	if (container->legacy) {
		/* Pre-seed-000: the mm's used count is all the tracking there is. */
		ret = mm_iommu_get_mode(mm, vaddr, entries, true, &mem);
		goto unlock;
	}
	if (prereg_find(container, vaddr, entries)) {
		ret = -EBUSY; /* v7: once per container */
		goto unlock;
	}
	ret = mm_iommu_get(mm, vaddr, entries, &mem);
	if (ret)
		goto unlock;
	tcemem = kzalloc(sizeof(*tcemem));
	if (!tcemem) {
		mm_iommu_put(mm, mem);
		ret = -ENOMEM;
		goto unlock;
	}
	tcemem->mem = mem;
	list_add(&tcemem->next, &container->prereg_list);
unlock:
	sm_mutex_unlock(&container->lock);
	return ret;
}

static unsigned long legacy_mappings_into(struct tce_container *container,
					  struct mm_iommu_table_group_mem_t *mem)
{
	struct tce_mapping *map;
	unsigned long n = 0;

	list_for_each_entry (map, &container->mappings, next)
		if (map->mem == mem)
			n++;
	return n;
}

long tce_iommu_unregister_pages(struct tce_container *container, struct mm_struct *mm,
				unsigned long vaddr, unsigned long size)
{
	unsigned long entries = size >> PAGE_SHIFT;
	struct mm_iommu_table_group_mem_t *mem;
	struct tce_iommu_prereg *tcemem;
	long ret;

	if (!range_ok(vaddr, size))
		return -EINVAL;
	ret = tce_lock_for(container, mm);
	if (ret)
		return ret;
	if (container->legacy) {
		mem = mm_iommu_find(mm, vaddr, entries);
		if (!mem)
			ret = -ENOENT;
		else if (legacy_mappings_into(container, mem))
			ret = -EBUSY;
		else
			ret = mm_iommu_put(mm, mem);
		goto unlock;
	}
	tcemem = prereg_find(container, vaddr, entries);
	if (!tcemem)
		ret = -ENOENT;
	else if (tcemem->mapped)
		ret = -EBUSY;
	else
		ret = tce_iommu_prereg_free(container, tcemem, false);
unlock:
	sm_mutex_unlock(&container->lock);
	return ret;
}

/* The TCE at @iova, or NULL. Caller holds container->lock. */
static struct tce_mapping *tce_entry(struct tce_container *container, unsigned long iova)
{
	struct tce_mapping *map;

	lockdep_assert_held(&container->lock);
	list_for_each_entry (map, &container->mappings, next)
		if (map->iova == iova)
			return map;
	return NULL;
}

/* This container's preregistration of @mem (NULL: legacy, or another container's). */
static struct tce_iommu_prereg *prereg_of(struct tce_container *container,
					  struct mm_iommu_table_group_mem_t *mem)
{
	struct tce_iommu_prereg *t;

	lockdep_assert_held(&container->lock);
	list_for_each_entry (t, &container->prereg_list, next)
		if (t->mem == mem)
			return t;
	return NULL;
}

/* tce_iommu_unuse_page_v2(): clear one TCE. Caller holds container->lock. */
static void unmap_one(struct tce_container *container, struct tce_mapping *map)
{
	lockdep_assert_held(&container->lock);
	list_del(&map->next);
	if (map->tcemem)
		map->tcemem->mapped--;
	mm_iommu_mapped_dec(map->mem);
	kfree(map);
}

/* tce_iommu_clear(): clear every TCE of [iova, iova + size). Caller holds container->lock. */
static void tce_clear_range(struct tce_container *container, unsigned long iova, unsigned long size)
{
	struct tce_mapping *map, *tmp;

	list_for_each_entry_safe (map, tmp, &container->mappings, next)
		if (map->iova >= iova && map->iova - iova < size)
			unmap_one(container, map);
}

long tce_iommu_map(struct tce_container *container, struct mm_struct *mm, unsigned long iova,
		   unsigned long vaddr, unsigned long size)
{
	unsigned long off;
	long ret;

	if (!range_ok(vaddr, size) || !PAGE_ALIGNED(iova) || iova + size < iova)
		return -EINVAL;
	ret = tce_lock_for(container, mm);
	if (ret)
		return ret;
	/* tce_iommu_build_v2(): page by page. */
	for (off = 0; off < size; off += PAGE_SIZE) {
		struct mm_iommu_table_group_mem_t *mem;
		struct tce_mapping *map, *old;

		map = kzalloc(sizeof(*map));
		if (!map) {
			ret = -ENOMEM;
			break;
		}
		mem = mm_iommu_lookup_mapped_inc(mm, vaddr + off, PAGE_SIZE);
		if (!mem) {
			kfree(map);
			ret = -EINVAL; /* not preregistered by any container of the mm */
			break;
		}
		old = tce_entry(container, iova + off);
		if (old)
			unmap_one(container, old); /* the xchg returned the old TCE */
		map->iova = iova + off;
		map->ua = vaddr + off;
		map->mem = mem;
		map->tcemem = container->legacy ? NULL : prereg_of(container, mem);
		if (map->tcemem)
			map->tcemem->mapped++;
		list_add_tail(&map->next, &container->mappings);
	}
	if (ret)
		tce_clear_range(container, iova, off); /* what this call built */
	sm_mutex_unlock(&container->lock);
	return ret;
}

long tce_iommu_unmap(struct tce_container *container, unsigned long iova, unsigned long size)
{
	long ret;

	if (!size || !PAGE_ALIGNED(iova) || !PAGE_ALIGNED(size) || iova + size < iova)
		return -EINVAL;
	ret = tce_lock_for(container, NULL);
	if (ret)
		return ret;
	tce_clear_range(container, iova, size); /* empty entries are skipped */
	sm_mutex_unlock(&container->lock);
	return 0;
}

/*
 * tce_iommu_release() - the container's file is gone (close, or exit_files)
 *
 * Clears every TCE mapping, then puts every region this container
 * preregistered. A put that fails is WARNed about and its entry kept (v7),
 * so the region keeps its use -- and its pins -- until destroy_context()
 * finds it. (Upstream loops `while (!list_empty(&container->prereg_list))`
 * over tce_iommu_prereg_free(), which would spin on such an entry; here each
 * entry is tried once.) Finally the mm_count from tce_iommu_mm_set() goes.
 * Called without locks; may sleep.
 */
static void tce_iommu_release(struct tce_container *container)
{
	struct tce_iommu_prereg *tcemem, *tmp;
	struct tce_mapping *map, *mtmp;
	struct mm_struct *mm;

	lockdep_assert_not_held(&container->lock);
	sm_mutex_lock(&container->lock);
	atomic_store(&container->released, true);
	list_for_each_entry_safe (map, mtmp, &container->mappings, next)
		unmap_one(container, map);
	list_for_each_entry_safe (tcemem, tmp, &container->prereg_list, next) {
		long ret = tce_iommu_prereg_free(container, tcemem, true);

		if (WARN_ON(ret))
			atomic_fetch_add(&release_warnings, 1);
	}
	mm = container->mm;
	container->mm = NULL;
	sm_mutex_unlock(&container->lock);
	if (mm)
		/* Pairs with mmgrab() in tce_iommu_mm_set(). */
		mmdrop_tracked(mm, container, VFIO_CONTAINER_HOLDER_KIND);
}

static void tce_container_free(struct tce_container *container)
{
	struct tce_iommu_prereg *tcemem, *tmp;

	/*
	 * Entries whose put failed: their use of the region is left to the
	 * mm (destroy_context WARNs); only our bookkeeping goes.
	 */
	list_for_each_entry_safe (tcemem, tmp, &container->prereg_list, next) {
		list_del(&tcemem->next);
		kfree(tcemem);
	}
	sm_mutex_destroy(&container->lock);
	kfree(container);
}

void vfio_container_put(struct tce_container *container)
{
	if (atomic_fetch_sub(&container->ref, 1) == 1)
		tce_container_free(container);
}

static int tce_file_release(struct file *file)
{
	struct tce_container *container = file->private_data;

	tce_iommu_release(container);
	vfio_container_put(container); /* Pairs with the file's reference in open. */
	return 0;
}

static const struct file_operations tce_fops = {
	.name = "vfio-spapr-tce",
	.release = tce_file_release,
};

int vfio_spapr_tce_open(struct task_struct *task, struct tce_container **containerp)
{
	return vfio_spapr_tce_open_ops(task, 0, NULL, NULL, containerp);
}

int vfio_spapr_tce_open_ops(struct task_struct *task, unsigned int flags,
			    const struct tce_iommu_ops *ops, void *priv,
			    struct tce_container **containerp)
{
	struct tce_container *container;
	struct file *file;
	int ret;

	if (flags & ~VFIO_TCE_LEGACY)
		return -EINVAL;
	if (mm_iommu_init_once())
		return -ENOMEM;
	container = kzalloc(sizeof(*container));
	if (!container)
		return -ENOMEM;
	sm_mutex_init(&container->lock, "tce_container.lock", LOCK_RANK_DRIVER);
	INIT_LIST_HEAD(&container->prereg_list);
	INIT_LIST_HEAD(&container->mappings);
	container->legacy = (flags & VFIO_TCE_LEGACY) || historic_bug(BUG_PREREG_AT_MMDROP);
	container->ops = ops;
	container->ops_priv = priv;
	atomic_store(&container->ref, 2); /* the caller's and the file's */
	file = file_alloc(&tce_fops, container);
	if (!file) {
		tce_container_free(container);
		return -ENOMEM;
	}
	container->file = file;
	ret = task_install_file(task, file);
	if (ret) {
		fput(file); /* releases the container: drops the file's reference */
		vfio_container_put(container);
		return ret;
	}
	*containerp = container;
	return 0;
}

int vfio_container_close(struct tce_container *container, struct task_struct *task)
{
	if (atomic_load(&container->released))
		return -EBADF;
	return task_close_file(task, container->file);
}

bool vfio_container_released(struct tce_container *container)
{
	return atomic_load(&container->released);
}

bool vfio_container_holds_mm(struct tce_container *container)
{
	bool held;

	sm_mutex_lock(&container->lock);
	held = container->mm != NULL;
	sm_mutex_unlock(&container->lock);
	return held;
}

unsigned long vfio_container_nr_prereg(struct tce_container *container)
{
	struct tce_iommu_prereg *tcemem;
	unsigned long n = 0;

	sm_mutex_lock(&container->lock);
	list_for_each_entry (tcemem, &container->prereg_list, next)
		n++;
	sm_mutex_unlock(&container->lock);
	return n;
}

unsigned long vfio_container_nr_mappings(struct tce_container *container)
{
	struct tce_mapping *map;
	unsigned long n = 0;

	sm_mutex_lock(&container->lock);
	list_for_each_entry (map, &container->mappings, next)
		n++;
	sm_mutex_unlock(&container->lock);
	return n;
}
