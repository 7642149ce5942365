// SPDX-License-Identifier: MIT
/* struct file reference counting: fget()/fput(), release on the last put. */
#include <errno.h>

#include "base/alloc.h"
#include "base/debug.h"
#include "secmmu/file.h"

static _Atomic long live_files;

struct file *file_alloc(const struct file_operations *fops, void *private_data)
{
	struct file *file = kzalloc(sizeof(*file));

	if (!file)
		return NULL;
	atomic_init(&file->f_count, 1);
	file->f_op = fops;
	file->private_data = private_data;
	atomic_fetch_add(&live_files, 1);
	return file;
}

struct file *fget(struct file *file)
{
	long old = atomic_fetch_add(&file->f_count, 1);

	BUG_ON(old <= 0); /* fget of a released file */
	return file;
}

/**
 * fput() - drop a file reference; the last one calls f_op->release
 *
 * May sleep (release may). Must not be called with mmap_lock held: a device
 * file's release may unbind from the very mm (seed 002).
 */
void fput(struct file *file)
{
	long old = atomic_fetch_sub(&file->f_count, 1);

	BUG_ON(old <= 0); /* f_count underflow */
	if (old > 1)
		return;
	if (file->f_op && file->f_op->release)
		file->f_op->release(file);
	atomic_fetch_sub(&live_files, 1);
	kfree_sized(file, sizeof(*file));
}

long file_live_count(void)
{
	return atomic_load(&live_files);
}
