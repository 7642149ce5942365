/* SPDX-License-Identifier: MIT */
/*
 * Tasks, kernel threads and lazy TLB.
 *
 * A user task owns an mm (one mm_users reference, held in task->mm) and a file
 * table. Exit runs exit_mm() -- the mm_users reference is dropped -- and then
 * exit_files(): the order Linux's do_exit() uses, on which seed 001's design
 * relies (a VFIO container is closed right after the mm's users are gone).
 *
 * A kernel thread has no mm of its own. When it runs right after a user task
 * on a CPU it keeps that task's mm as active_mm (lazy TLB) with an mm_count
 * reference, until it switches away. This is how an mm struct outlives its
 * process for hours (seed 000), and it holds no page alive.
 */
#ifndef SECMMU_SCHED_H
#define SECMMU_SCHED_H

#include "secmmu/compiler.h"
#include <stdbool.h>

SECMMU_BEGIN_DECLS

struct mm_struct;
struct file;
struct task_struct;

/*
 * The kinds under which tasks hold mm references in the mm's reference
 * tracker (mm.h), the task_struct being the owner: a user task's mm_users,
 * a kernel thread's lazy-TLB mm_count (kthread_switch_lazy) and its
 * kthread_use_mm() mm_count.
 */
#define TASK_HOLDER_KIND     "task"
#define LAZY_TLB_HOLDER_KIND "lazy tlb"
#define USE_MM_HOLDER_KIND   "kthread_use_mm"

/**
 * task_create() - a user task running on @mm
 * @mm: the task takes over one untracked mm_users reference the caller holds
 *      (mm_alloc()'s); the tracker records it as the task's from then on
 * Return: the task, or NULL (-ENOMEM; the reference stays with the caller).
 */
struct task_struct *task_create(const char *name, struct mm_struct *mm);

/**
 * task_fork() - fork @parent: a copy of its mm (dup_mm) and its file table
 * Return: 0 and *child, or -ENOMEM (nothing left behind).
 */
int task_fork(struct task_struct *parent, const char *name, struct task_struct **child);

/**
 * task_exit() - the task exits: exit_mm() (mmput of its mm), then
 * exit_files() (fput of every open file). The task struct stays valid, as a
 * zombie, until task_free(). A second exit is -ESRCH.
 */
int task_exit(struct task_struct *task);
void task_free(struct task_struct *task);
bool task_exited(const struct task_struct *task);
const char *task_name(const struct task_struct *task);

/* The task's mm (no reference taken), NULL for kernel threads and after exit. */
struct mm_struct *task_mm(struct task_struct *task);
/* The mm the task's CPU context uses (lazy TLB for kernel threads), or NULL. */
struct mm_struct *task_active_mm(struct task_struct *task);

/**
 * task_install_file() - put @file in @task's file table; takes over the
 * caller's reference. Return: 0, -ESRCH (task exited), -ENOMEM.
 */
int task_install_file(struct task_struct *task, struct file *file);
/* close(): drop the table's reference. Return: 0 or -EBADF (not open). */
int task_close_file(struct task_struct *task, struct file *file);

/* A kernel thread (no mm). NULL on -ENOMEM. */
struct task_struct *kthread_create(const char *name);
bool task_is_kthread(const struct task_struct *task);

/**
 * kthread_switch_lazy() - @k runs right after @prev on a CPU: it keeps
 * @prev's active_mm with an mm_count reference (mmgrab).
 * Return: 0; -EINVAL if @k is not a kernel thread or uses an mm;
 * -EBUSY if @k already holds a lazy mm; -ESRCH if @prev has no active mm.
 */
int kthread_switch_lazy(struct task_struct *k, struct task_struct *prev);

/**
 * kthread_switch_away() - @k switches to a task with its own mm: the lazy
 * reference is dropped (mmdrop, possibly the last). Return: 0 or -ENOENT if
 * it held none.
 */
int kthread_switch_away(struct task_struct *k);

/* kthread_use_mm(): @k takes on @mm (caller guarantees mm_users > 0). */
int kthread_use_mm(struct task_struct *k, struct mm_struct *mm);
int kthread_unuse_mm(struct task_struct *k);

SECMMU_END_DECLS

#endif /* SECMMU_SCHED_H */
