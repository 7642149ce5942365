// SPDX-License-Identifier: MIT
/*
 * Tasks, kernel threads and lazy TLB.
 *
 * References held:
 *   task->mm         one mm_users reference (user tasks; kthreads between
 *                    kthread_use_mm and kthread_unuse_mm: one mm_count)
 *   task->lazy_mm    kernel threads only: one mm_count reference on the mm
 *                    borrowed as active_mm (lazy TLB), until switch-away
 *   task->files[]    one file reference each
 * All fields are under task->lock (LOCK_RANK_TASK); the lock is dropped
 * before mmput()/mmdrop()/fput(), which may sleep and take mmap_lock.
 */
#include <errno.h>
#include <string.h>

#include "base/alloc.h"
#include "base/lock.h"
#include "mm/internal.h"
#include "secmmu/err.h"
#include "secmmu/file.h"
#include "secmmu/mm.h"
#include "secmmu/sched.h"

#define TASK_MAX_FILES 64

struct task_struct {
	char name[32];
	struct sm_mutex lock;
	bool kthread;
	bool exited;
	struct mm_struct *mm;
	struct mm_struct *lazy_mm;
	struct file *files[TASK_MAX_FILES];
};

static struct task_struct *task_alloc(const char *name, bool kthread)
{
	struct task_struct *t = kzalloc(sizeof(*t));

	if (!t)
		return NULL;
	snprintf(t->name, sizeof(t->name), "%s", name ? name : "?");
	sm_mutex_init(&t->lock, "task->lock", LOCK_RANK_TASK);
	t->kthread = kthread;
	return t;
}

struct task_struct *task_create(const char *name, struct mm_struct *mm)
{
	struct task_struct *t;

	if (!mm)
		return NULL;
	t = task_alloc(name, false);
	if (t) {
		t->mm = mm; /* takes over the caller's mm_users reference */
		mm_holder_move(mm, true, NULL, NULL, t, TASK_HOLDER_KIND);
		mm_set_name(mm, t->name);
	}
	return t;
}

int task_fork(struct task_struct *parent, const char *name, struct task_struct **child)
{
	struct mm_struct *mm, *pmm;
	struct task_struct *t;

	sm_mutex_lock(&parent->lock);
	pmm = parent->exited || parent->kthread ? NULL : parent->mm;
	if (pmm)
		mmget_tracked(pmm, parent, "fork"); /* the parent's space across dup_mm() */
	sm_mutex_unlock(&parent->lock);
	if (!pmm)
		return -ESRCH;

	mm = dup_mm(pmm);
	mmput_tracked(pmm, parent, "fork");
	if (IS_ERR(mm))
		return (int)PTR_ERR(mm);
	t = task_alloc(name, false);
	if (!t) {
		mmput(mm);
		return -ENOMEM;
	}
	t->mm = mm;
	mm_holder_move(mm, true, NULL, NULL, t, TASK_HOLDER_KIND); /* dup_mm()'s reference */
	mm_set_name(mm, t->name);
	/* dup_fd(): the child shares every open file. */
	sm_mutex_lock(&parent->lock);
	for (int i = 0; i < TASK_MAX_FILES; i++)
		if (parent->files[i])
			t->files[i] = fget(parent->files[i]);
	sm_mutex_unlock(&parent->lock);
	*child = t;
	return 0;
}

/* exit_mm() then exit_files(), in that order (do_exit). */
int task_exit(struct task_struct *task)
{
	struct file *files[TASK_MAX_FILES];
	struct mm_struct *mm;

	sm_mutex_lock(&task->lock);
	if (task->exited || task->kthread) {
		sm_mutex_unlock(&task->lock);
		return -ESRCH;
	}
	task->exited = true;
	mm = task->mm;
	task->mm = NULL;
	memcpy(files, task->files, sizeof(files));
	memset(task->files, 0, sizeof(task->files));
	sm_mutex_unlock(&task->lock);

	if (mm)
		mmput_tracked(mm, task, TASK_HOLDER_KIND); /* exit_mm(): maybe the last user */
	for (int i = 0; i < TASK_MAX_FILES; i++)
		if (files[i])
			fput(files[i]); /* exit_files() */
	return 0;
}

void task_free(struct task_struct *task)
{
	if (!task)
		return;
	if (!task->kthread && !task->exited)
		task_exit(task);
	if (task->kthread) {
		kthread_unuse_mm(task);
		kthread_switch_away(task);
	}
	sm_mutex_destroy(&task->lock);
	kfree_sized(task, sizeof(*task));
}

bool task_exited(const struct task_struct *task)
{
	return task->exited;
}

const char *task_name(const struct task_struct *task)
{
	return task->name;
}

struct mm_struct *task_mm(struct task_struct *task)
{
	return task->mm;
}

struct mm_struct *task_active_mm(struct task_struct *task)
{
	return task->kthread ? (task->mm ? task->mm : task->lazy_mm) : task->mm;
}

int task_install_file(struct task_struct *task, struct file *file)
{
	int ret = -ENOMEM;

	sm_mutex_lock(&task->lock);
	if (task->exited) {
		ret = -ESRCH;
		goto out;
	}
	for (int i = 0; i < TASK_MAX_FILES; i++) {
		if (!task->files[i]) {
			task->files[i] = file;
			ret = 0;
			break;
		}
	}
out:
	sm_mutex_unlock(&task->lock);
	return ret;
}

int task_close_file(struct task_struct *task, struct file *file)
{
	int ret = -EBADF;

	sm_mutex_lock(&task->lock);
	for (int i = 0; i < TASK_MAX_FILES; i++) {
		if (task->files[i] == file) {
			task->files[i] = NULL;
			ret = 0;
			break;
		}
	}
	sm_mutex_unlock(&task->lock);
	if (!ret)
		fput(file);
	return ret;
}

struct task_struct *kthread_create(const char *name)
{
	return task_alloc(name, true);
}

bool task_is_kthread(const struct task_struct *task)
{
	return task->kthread;
}

int kthread_switch_lazy(struct task_struct *k, struct task_struct *prev)
{
	struct mm_struct *mm;
	int ret = 0;

	if (!k->kthread || k == prev)
		return -EINVAL;
	/* Lock order: two task locks are never held together; read prev first. */
	sm_mutex_lock(&prev->lock);
	mm = prev->kthread ? (prev->mm ? prev->mm : prev->lazy_mm) : prev->mm;
	if (mm)
		mmgrab_tracked(mm, k,
			       LAZY_TLB_HOLDER_KIND); /* pairs with mmdrop() at switch-away */
	sm_mutex_unlock(&prev->lock);
	if (!mm)
		return -ESRCH;

	sm_mutex_lock(&k->lock);
	if (k->mm)
		ret = -EINVAL;
	else if (k->lazy_mm)
		ret = -EBUSY;
	else
		k->lazy_mm = mm;
	sm_mutex_unlock(&k->lock);
	if (ret)
		mmdrop_tracked(mm, k, LAZY_TLB_HOLDER_KIND);
	return ret;
}

int kthread_switch_away(struct task_struct *k)
{
	struct mm_struct *mm;

	if (!k->kthread)
		return -EINVAL;
	sm_mutex_lock(&k->lock);
	mm = k->lazy_mm;
	k->lazy_mm = NULL;
	sm_mutex_unlock(&k->lock);
	if (!mm)
		return -ENOENT;
	mmdrop_tracked(mm, k, LAZY_TLB_HOLDER_KIND); /* maybe the last: frees the struct */
	return 0;
}

int kthread_use_mm(struct task_struct *k, struct mm_struct *mm)
{
	struct mm_struct *lazy;

	if (!k->kthread)
		return -EINVAL;
	mmgrab_tracked(mm, k, USE_MM_HOLDER_KIND); /* pairs with mmdrop() in kthread_unuse_mm() */
	sm_mutex_lock(&k->lock);
	if (k->mm) {
		sm_mutex_unlock(&k->lock);
		mmdrop_tracked(mm, k, USE_MM_HOLDER_KIND);
		return -EBUSY;
	}
	k->mm = mm;
	lazy = k->lazy_mm; /* switching to a real mm ends lazy mode */
	k->lazy_mm = NULL;
	sm_mutex_unlock(&k->lock);
	if (lazy)
		mmdrop_tracked(lazy, k, LAZY_TLB_HOLDER_KIND);
	return 0;
}

int kthread_unuse_mm(struct task_struct *k)
{
	struct mm_struct *mm;

	sm_mutex_lock(&k->lock);
	mm = k->mm;
	k->mm = NULL;
	sm_mutex_unlock(&k->lock);
	if (!mm)
		return -ENOENT;
	mmdrop_tracked(mm, k, USE_MM_HOLDER_KIND);
	return 0;
}
