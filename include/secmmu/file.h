/* SPDX-License-Identifier: MIT */
/*
 * Open files: what a process's exit closes after it has dropped its mm.
 *
 * A struct file is reference counted (fget/fput). The last fput() calls
 * f_op->release. Holders: a task's file table, and every VMA that maps the
 * file (vm_file). That second kind of holder is what made seed 002's cycle:
 * a device file mapped into the process that bound it stays open until the
 * mm is torn down.
 */
#ifndef SECMMU_FILE_H
#define SECMMU_FILE_H

#include "secmmu/compiler.h"
#include <stdbool.h>

SECMMU_BEGIN_DECLS

struct file;
struct vm_area_struct;

/**
 * struct file_operations - a driver's file
 * @release: last reference gone. May sleep; may take driver locks and
 *           mmap_lock. Return value is ignored except for reporting.
 * @mmap:    set up a VMA mapping this file (vm_ops, vm_private_data, flags).
 *           Called with mmap_lock held for write; 0 or negative errno.
 */
struct file_operations {
	const char *name;
	int (*release)(struct file *file);
	int (*mmap)(struct file *file, struct vm_area_struct *vma);
};

struct file {
	SECMMU_ATOMIC(long) f_count;
	const struct file_operations *f_op;
	void *private_data;
};

/* Return: a file with one reference, or NULL (-ENOMEM). */
struct file *file_alloc(const struct file_operations *fops, void *private_data);
struct file *fget(struct file *file);
void fput(struct file *file);

/* Number of struct files not yet released (leak checks). */
long file_live_count(void);

/*
 * Shared files (tmpfs-like: a page cache in memory, swappable). Map them with
 * mm_mmap(mm, addr, len, prot, MAP_SHARED or MAP_PRIVATE, file, pgoff).
 */

/**
 * shmem_file_create() - a file of @size bytes (page-aligned), zero-filled
 * Return: the file with one reference (fput() it), or NULL (-EINVAL/-ENOMEM).
 */
struct file *shmem_file_create(unsigned long size);
bool is_shmem_file(const struct file *file);
/* Return: the size in bytes, or -EINVAL for a file of another kind. */
long shmem_file_size(struct file *file);

/**
 * shmem_file_truncate() - set the file's size
 *
 * Shrinking unmaps the cut-off pages from every process that maps them --
 * shared mappings and the private copies made of them -- inside MMU-notifier
 * invalidations (MMU_NOTIFY_CLEAR, as Linux's unmap_mapping_range()), so
 * secondary MMUs drop them first; then
 * the pages are freed. Accesses beyond the end fault (-EFAULT, SIGBUS in
 * Linux). The caller holds no mmap_lock. May sleep.
 * An unaligned size keeps the page holding the new end, zeroed beyond it
 * (ftruncate()); the size reads back rounded up to whole pages.
 * Return: 0, -EINVAL (not a shmem file, over 1 TiB), -ENOMEM.
 */
int shmem_file_truncate(struct file *file, unsigned long size);

SECMMU_END_DECLS

#endif /* SECMMU_FILE_H */
