// SPDX-License-Identifier: MIT
/*
 * Shared files: a struct file over a page-cache object (the shmem object
 * that also backs shared anonymous memory). MAP_SHARED mappings of it share
 * its pages; MAP_PRIVATE mappings read them and copy on write; truncation
 * unmaps the cut-off part from every mm that maps it -- the seed's "other
 * tasks may still invoke mmu notifiers ... such as with vmtruncate".
 */
#include <errno.h>

#include "mm/internal.h"
#include "secmmu/file.h"

static int shmem_file_release(struct file *file)
{
	shmem_obj_put(file->private_data); /* Pairs with shmem_obj_alloc(). */
	return 0;
}

static int shmem_file_mmap(struct file *file, struct vm_area_struct *vma)
{
	vma_set_shm(vma, file->private_data);
	return 0;
}

static const struct file_operations shmem_file_ops = {
	.name = "shmem",
	.release = shmem_file_release,
	.mmap = shmem_file_mmap,
};

struct file *shmem_file_create(unsigned long size)
{
	struct shmem_obj *obj;
	struct file *file;

	if (!PAGE_ALIGNED(size) || size > (1UL << 40))
		return NULL;
	obj = shmem_obj_alloc(size >> PAGE_SHIFT);
	if (!obj)
		return NULL;
	file = file_alloc(&shmem_file_ops, obj);
	if (!file)
		shmem_obj_put(obj);
	return file;
}

bool is_shmem_file(const struct file *file)
{
	return file && file->f_op == &shmem_file_ops;
}

long shmem_file_size(struct file *file)
{
	struct shmem_obj *obj;
	long size;

	if (!is_shmem_file(file))
		return -EINVAL;
	obj = file->private_data;
	sm_mutex_lock(&obj->lock);
	size = (long)(obj->nr_pages << PAGE_SHIFT);
	sm_mutex_unlock(&obj->lock);
	return size;
}

int shmem_file_truncate(struct file *file, unsigned long size)
{
	int ret;

	if (!is_shmem_file(file) || size > (1UL << 40))
		return -EINVAL;
	/*
	 * As ftruncate(): the page holding the new end stays, zeroed beyond it
	 * (truncate_inode_pages_range() zeroes the partial page); the pages
	 * after it go.
	 */
	ret = shmem_obj_truncate(file->private_data, PAGE_ALIGN(size) >> PAGE_SHIFT);
	if (!ret && !PAGE_ALIGNED(size))
		shmem_obj_zero_tail(file->private_data, size >> PAGE_SHIFT, size & ~PAGE_MASK);
	return ret;
}
