// SPDX-License-Identifier: MIT
/*
 * Tasks: exit order (exit_mm before exit_files), lazy-TLB kernel threads,
 * fork sharing files.
 */
#include "mm/internal.h"
#include "secmmu/sched.h"
#include "testutil.h"

struct release_probe {
	struct mm_struct *mm; /* grabbed by the test */
	int calls;
	int users_at_release;
	unsigned long frames_at_release;
};

static int probe_release(struct file *file)
{
	struct release_probe *p = file->private_data;

	p->calls++;
	p->users_at_release = mm_users_read(p->mm);
	p->frames_at_release = phys_used_frames();
	return 0;
}

static const struct file_operations probe_fops = {
	.name = "probe",
	.release = probe_release,
};

TEST(task_exit_runs_exit_mm_then_exit_files)
{
	struct release_probe probe = {0};
	struct task_struct *t;
	struct mm_struct *mm;
	struct file *f;

	MM_TEST_SETUP();
	mm = mm_alloc();
	map_anon(mm, TBASE, 4, PROT_RW, false);
	write_pages(mm, TBASE, 4, 1);
	probe.mm = mm;
	probe.users_at_release = -1;
	mmgrab(mm);
	t = task_create("t", mm);
	ASSERT_NOT_NULL(t);
	ASSERT_PTR_EQ(task_mm(t), mm);
	ASSERT_PTR_EQ(task_active_mm(t), mm);
	f = file_alloc(&probe_fops, &probe);
	ASSERT_EQ(task_install_file(t, f), 0);
	ASSERT_EQ(task_exit(t), 0);
	ASSERT(task_exited(t));
	ASSERT_NULL(task_mm(t));
	ASSERT_EQ(probe.calls, 1);
	ASSERT_EQ(probe.users_at_release, 0);
	ASSERT_UEQ(probe.frames_at_release, 0);
	ASSERT_EQ(task_exit(t), -ESRCH);
	ASSERT_EQ(probe.calls, 1);
	ASSERT_EQ(task_install_file(t, f), -ESRCH);
	task_free(t);
	mmdrop(mm);
}

TEST(task_create_and_free_without_exit)
{
	struct task_struct *t;
	struct mm_struct *mm;

	MM_TEST_SETUP();
	mm = mm_alloc();
	map_anon(mm, TBASE, 1, PROT_RW, false);
	write_pages(mm, TBASE, 1, 1);
	t = task_create("t", mm);
	ASSERT_STR_EQ(task_name(t), "t");
	ASSERT(!task_is_kthread(t));
	task_free(t); /* exits implicitly */
	ASSERT_NULL(task_create("x", NULL));
}

TEST(close_file)
{
	struct release_probe probe = {0};
	struct task_struct *t;
	struct mm_struct *mm;
	struct file *f;

	MM_TEST_SETUP();
	mm = mm_alloc();
	probe.mm = mm;
	mmgrab(mm);
	t = task_create("t", mm);
	f = file_alloc(&probe_fops, &probe);
	ASSERT_EQ(task_install_file(t, f), 0);
	ASSERT_EQ(task_close_file(t, f), 0);
	ASSERT_EQ(probe.calls, 1);
	ASSERT_EQ(probe.users_at_release, 1);
	ASSERT_EQ(file_live_count(), 0);
	task_free(t);
	mmdrop(mm);
}

TEST(lazy_tlb_keeps_struct_not_pages)
{
	struct task_struct *t, *k;
	struct mm_struct *mm;
	unsigned long id;
	int u, c;

	MM_TEST_SETUP();
	mm = mm_alloc();
	id = mm_id(mm);
	map_anon(mm, TBASE, 4, PROT_RW, false);
	write_pages(mm, TBASE, 4, 1);
	t = task_create("t", mm);
	k = kthread_create("k");
	ASSERT(task_is_kthread(k));
	ASSERT_NULL(task_active_mm(k));
	ASSERT_EQ(kthread_switch_lazy(k, t), 0);
	ASSERT_PTR_EQ(task_active_mm(k), mm);
	ASSERT_NULL(task_mm(k));
	ASSERT_EQ(mm_count_read(mm), 2);
	ASSERT_EQ(mm_users_read(mm), 1);
	ASSERT_EQ(task_exit(t), 0);
	ASSERT_EQ(mm_query_refs(id, &u, &c), 0);
	ASSERT_EQ(u, 0);
	ASSERT_EQ(c, 1);
	ASSERT_UEQ(phys_used_frames(), 0);
	ASSERT_EQ(kthread_switch_away(k), 0);
	ASSERT_EQ(mm_query_refs(id, &u, &c), -ESRCH);
	ASSERT_NULL(task_active_mm(k));
	ASSERT_EQ(kthread_switch_away(k), -ENOENT);
	task_free(t);
	task_free(k);
}

TEST(lazy_tlb_errors)
{
	struct task_struct *t, *t2, *k;
	struct mm_struct *mm;

	MM_TEST_SETUP();
	mm = mm_alloc();
	t = task_create("t", mm);
	t2 = task_create("t2", mm_alloc());
	k = kthread_create("k");
	ASSERT_EQ(kthread_switch_lazy(k, t), 0);
	ASSERT_EQ(mm_count_read(mm), 2);
	ASSERT_EQ(kthread_switch_lazy(k, t), -EBUSY);
	ASSERT_EQ(kthread_switch_lazy(k, t2), -EBUSY);
	/* The failed attempts left no reference behind. */
	ASSERT_EQ(mm_count_read(mm), 2);
	ASSERT_EQ(mm_count_read(task_mm(t2)), 1);
	ASSERT_PTR_EQ(task_active_mm(k), mm);
	/* Not a kernel thread. */
	ASSERT_EQ(kthread_switch_lazy(t2, t), -EINVAL);
	ASSERT_EQ(kthread_switch_lazy(k, k), -EINVAL);
	ASSERT_EQ(mm_count_read(mm), 2);
	ASSERT_EQ(kthread_switch_away(k), 0);
	ASSERT_EQ(mm_count_read(mm), 1);
	/* An exited task has no mm to lend. */
	ASSERT_EQ(task_exit(t2), 0);
	ASSERT_EQ(kthread_switch_lazy(k, t2), -ESRCH);
	ASSERT_NULL(task_active_mm(k));
	/* A kthread with no lazy mm has nothing to lend either. */
	struct task_struct *k2 = kthread_create("k2");

	ASSERT_EQ(kthread_switch_lazy(k2, k), -ESRCH);
	/* A kthread exiting is not a thing: -ESRCH. */
	ASSERT_EQ(task_exit(k), -ESRCH);
	task_free(k2);
	task_free(k);
	task_free(t2);
	task_free(t);
}

TEST(kthread_borrows_from_kthread)
{
	struct task_struct *t, *k1, *k2;
	struct mm_struct *mm;
	unsigned long id;
	int u, c;

	MM_TEST_SETUP();
	mm = mm_alloc();
	id = mm_id(mm);
	t = task_create("t", mm);
	k1 = kthread_create("k1");
	k2 = kthread_create("k2");
	ASSERT_EQ(kthread_switch_lazy(k1, t), 0);
	ASSERT_EQ(kthread_switch_lazy(k2, k1), 0);
	ASSERT_PTR_EQ(task_active_mm(k2), mm);
	ASSERT_EQ(mm_count_read(mm), 3);
	ASSERT_EQ(task_exit(t), 0);
	ASSERT_EQ(kthread_switch_away(k1), 0);
	ASSERT_EQ(mm_query_refs(id, &u, &c), 0);
	ASSERT_EQ(u, 0);
	ASSERT_EQ(c, 1);
	ASSERT_EQ(kthread_switch_away(k2), 0);
	ASSERT_EQ(mm_query_refs(id, &u, &c), -ESRCH);
	task_free(k1);
	task_free(k2);
	task_free(t);
}

TEST(task_free_of_kthread_drops_lazy_mm)
{
	struct task_struct *t, *k;
	struct mm_struct *mm;

	MM_TEST_SETUP();
	mm = mm_alloc();
	t = task_create("t", mm);
	k = kthread_create("k");
	ASSERT_EQ(kthread_switch_lazy(k, t), 0);
	task_free(t);
	ASSERT_UEQ(mm_live_count(), 1);
	task_free(k);
	ASSERT_UEQ(mm_live_count(), 0);
}

TEST(kthread_use_mm_ends_lazy_mode)
{
	struct task_struct *t, *t2, *k;
	struct mm_struct *mm, *mm2;

	MM_TEST_SETUP();
	mm = mm_alloc();
	mm2 = mm_alloc();
	t = task_create("t", mm);
	t2 = task_create("t2", mm2);
	k = kthread_create("k");
	ASSERT_EQ(kthread_switch_lazy(k, t), 0);
	ASSERT_EQ(kthread_use_mm(k, mm2), 0);
	ASSERT_EQ(mm_count_read(mm), 1);
	ASSERT_EQ(mm_count_read(mm2), 2);
	ASSERT_PTR_EQ(task_active_mm(k), mm2);
	ASSERT_EQ(kthread_switch_lazy(k, t), -EINVAL); /* uses an mm */
	ASSERT_EQ(mm_count_read(mm), 1);
	ASSERT_EQ(kthread_use_mm(k, mm), -EBUSY);
	ASSERT_EQ(mm_count_read(mm), 1);
	ASSERT_EQ(kthread_unuse_mm(k), 0);
	ASSERT_EQ(kthread_unuse_mm(k), -ENOENT);
	ASSERT_EQ(mm_count_read(mm2), 1);
	task_free(k);
	task_free(t);
	task_free(t2);
}

TEST(fork_shares_files_and_copies_mm)
{
	struct release_probe probe = {0};
	struct task_struct *t, *child = NULL;
	struct mm_struct *mm;
	struct file *f;

	MM_TEST_SETUP();
	mm = mm_alloc();
	probe.mm = mm;
	mmgrab(mm);
	map_anon(mm, TBASE, 2, PROT_RW, false);
	write_pages(mm, TBASE, 2, 1);
	t = task_create("parent", mm);
	f = file_alloc(&probe_fops, &probe);
	ASSERT_EQ(task_install_file(t, f), 0);
	ASSERT_EQ(task_fork(t, "child", &child), 0);
	ASSERT_NOT_NULL(child);
	ASSERT_EQ(atomic_load(&f->f_count), 2);
	ASSERT_PTR_NE(task_mm(child), mm);
	ASSERT_EQ(mm_users_read(mm), 1); /* the temporary mmget was dropped */
	check_pages(task_mm(child), TBASE, 2, 1);
	write_pages(task_mm(child), TBASE, 1, 9);
	check_pages(mm, TBASE, 1, 1);
	ASSERT_EQ(task_exit(t), 0);
	ASSERT_EQ(probe.calls, 0); /* the child still has it open */
	ASSERT_EQ(atomic_load(&f->f_count), 1);
	ASSERT_EQ(task_fork(t, "x", &child), -ESRCH); /* exited parent */
	ASSERT_EQ(task_exit(child), 0);
	ASSERT_EQ(probe.calls, 1);
	task_free(child);
	task_free(t);
	mmdrop(mm);
}

TEST(task_fork_allocation_failures_leak_nothing)
{
	struct task_struct *t, *child = NULL;
	struct mm_struct *mm;
	struct file *f;
	unsigned long nth;
	long live;
	int r = -1;

	MM_TEST_SETUP();
	mm = mm_alloc();
	map_anon(mm, TBASE, 2, PROT_RW, false);
	map_anon(mm, TBASE + PG(3), 2, PROT_RW, true);
	write_pages(mm, TBASE, 2, 1);
	write_pages(mm, TBASE + PG(3), 2, 1);
	t = task_create("parent", mm);
	f = file_alloc(&probe_fops, NULL);
	f->f_op = NULL;
	ASSERT_EQ(task_install_file(t, f), 0);
	for (nth = 1; nth < 100; nth++) {
		unsigned long frames = phys_used_frames();

		live = kzalloc_live();
		fault_inject_alloc(nth);
		r = task_fork(t, "child", &child);
		fault_inject_alloc(0);
		if (!r)
			break;
		ASSERT_EQ(r, -ENOMEM);
		sm_rcu_barrier();
		ASSERT_EQ(kzalloc_live(), live);
		ASSERT_UEQ(phys_used_frames(), frames);
		ASSERT_EQ(atomic_load(&f->f_count), 1);
		ASSERT_UEQ(mm_live_count(), 1);
		ASSERT_EQ(mm_users_read(mm), 1);
	}
	ASSERT_EQ(r, 0);
	ASSERT(nth > 3);
	ASSERT_EQ(atomic_load(&f->f_count), 2);
	task_free(child);
	task_free(t);
}
