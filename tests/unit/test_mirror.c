// SPDX-License-Identifier: MIT
/*
 * The mirroring device (the reference secondary MMU): coherence with the
 * primary MMU through interval notifiers, and the stale-translation checker
 * proven by a deliberately broken device.
 */
#include "secmmu/kit/thread.h"
#include "secmmu/migrate.h"
#include "secmmu/mirror.h"
#include "secmmu/mmu_notifier.h"
#include "secmmu/sched.h"
#include "testutil.h"

TEST(mirror_sees_cpu_writes_and_cpu_sees_dma)
{
	struct mm_struct *mm;
	struct mirror *m;
	char buf[8];

	MM_TEST_SETUP();
	mm = mm_new_mapped(4, PROT_RW, false);
	m = mirror_create(mm, 0);
	ASSERT(!IS_ERR(m));
	ASSERT_EQ(mm_write(mm, TBASE + 10, "cpu", 3), 0);
	ASSERT_EQ(mirror_read(m, TBASE + 10, buf, 3), 0);
	ASSERT_MEM_EQ(buf, "cpu", 3);
	ASSERT_EQ(mirror_write(m, TBASE + PG(1) - 2, "dmaX", 4), 0);
	ASSERT_EQ(mm_read(mm, TBASE + PG(1) - 2, buf, 4), 0);
	ASSERT_MEM_EQ(buf, "dmaX", 4);
	ASSERT_UEQ(mirror_nr_entries(m), 2);
	ASSERT_UEQ(mirror_nr_stale(m), 0);
	mirror_destroy(m);
	mmput(mm);
}

TEST(mirror_follows_munmap_and_remap)
{
	struct mm_struct *mm;
	struct mirror *m;
	char buf[4];

	MM_TEST_SETUP();
	mm = mm_new_mapped(2, PROT_RW, false);
	m = mirror_create(mm, 0);
	ASSERT(!IS_ERR(m));
	ASSERT_EQ(mm_write(mm, TBASE, "old", 3), 0);
	ASSERT_EQ(mirror_read(m, TBASE, buf, 3), 0);
	ASSERT_UEQ(mirror_nr_entries(m), 1);
	ASSERT_EQ(mm_munmap(mm, TBASE, PG(2)), 0);
	/* The invalidation dropped the translation before the frame was freed. */
	ASSERT_UEQ(mirror_nr_entries(m), 0);
	ASSERT_EQ(mirror_read(m, TBASE, buf, 3), -EFAULT);
	ASSERT_EQ(mm_mmap(mm, TBASE, PG(2), PROT_READ | PROT_WRITE, MAP_PRIVATE, NULL, 0),
		  (long)TBASE);
	ASSERT_EQ(mm_write(mm, TBASE, "new", 3), 0);
	ASSERT_EQ(mirror_read(m, TBASE, buf, 3), 0);
	ASSERT_MEM_EQ(buf, "new", 3);
	ASSERT_UEQ(phys_stale_count(), 0);
	mirror_destroy(m);
	mmput(mm);
}

TEST(mirror_follows_cow_after_fork)
{
	struct mm_struct *mm, *child;
	struct mirror *m;
	char buf[4];

	MM_TEST_SETUP();
	mm = mm_new_mapped(1, PROT_RW, false);
	ASSERT_EQ(mm_write(mm, TBASE, "aaa", 3), 0);
	m = mirror_create(mm, 0);
	ASSERT(!IS_ERR(m));
	/* A writable device translation of the parent's page... */
	ASSERT_EQ(mirror_write(m, TBASE, "bbb", 3), 0);
	child = dup_mm(mm);
	ASSERT(!IS_ERR(child));
	/* ...must not survive fork's write-protection: DMA writes would leak into the child. */
	ASSERT_EQ(mirror_write(m, TBASE, "ccc", 3), 0);
	ASSERT_EQ(mm_read(child, TBASE, buf, 3), 0);
	ASSERT_MEM_EQ(buf, "bbb", 3);
	ASSERT_EQ(mm_read(mm, TBASE, buf, 3), 0);
	ASSERT_MEM_EQ(buf, "ccc", 3);
	/* And the parent's CPU COW break is seen by the device. */
	ASSERT_EQ(mm_write(child, TBASE, "ddd", 3), 0);
	ASSERT_EQ(mm_write(mm, TBASE, "eee", 3), 0);
	ASSERT_EQ(mirror_read(m, TBASE, buf, 3), 0);
	ASSERT_MEM_EQ(buf, "eee", 3);
	mmput(child);
	mirror_destroy(m);
	mmput(mm);
}

TEST(mirror_follows_mprotect_and_dontneed)
{
	struct mm_struct *mm;
	struct mirror *m;
	char buf[4] = {1, 1, 1, 1};

	MM_TEST_SETUP();
	mm = mm_new_mapped(1, PROT_RW, false);
	m = mirror_create(mm, 0);
	ASSERT(!IS_ERR(m));
	ASSERT_EQ(mirror_write(m, TBASE, "abc", 3), 0);
	ASSERT_EQ(mm_mprotect(mm, TBASE, PG(1), PROT_READ), 0);
	ASSERT_EQ(mirror_write(m, TBASE, "xyz", 3), -EPERM); /* a write fault on a read-only VMA */
	ASSERT_EQ(mirror_read(m, TBASE, buf, 3), 0);
	ASSERT_MEM_EQ(buf, "abc", 3);
	ASSERT_EQ(mm_mprotect(mm, TBASE, PG(1), PROT_NONE), 0);
	ASSERT_EQ(mirror_read(m, TBASE, buf, 3), -EFAULT);
	ASSERT_EQ(mm_mprotect(mm, TBASE, PG(1), PROT_READ | PROT_WRITE), 0);
	ASSERT_EQ(mm_madvise(mm, TBASE, PG(1), MADV_DONTNEED), 0);
	ASSERT_EQ(mirror_read(m, TBASE, buf, 3), 0);
	ASSERT_MEM_EQ(buf, "\0\0\0", 3);
	mirror_destroy(m);
	mmput(mm);
}

/* The checker must catch a device that ignores invalidations. */
TEST(broken_mirror_is_caught)
{
	struct mm_struct *mm;
	struct mirror *m;
	char buf[4];

	MM_TEST_SETUP();
	mm = mm_new_mapped(1, PROT_RW, false);
	m = mirror_create(mm, MIRROR_BROKEN);
	ASSERT(!IS_ERR(m));
	ASSERT_EQ(mm_write(mm, TBASE, "abc", 3), 0);
	ASSERT_EQ(mirror_read(m, TBASE, buf, 3), 0);
	ASSERT_EQ(mm_munmap(mm, TBASE, PG(1)), 0); /* frame freed; device kept it */
	ASSERT_UEQ(mirror_nr_entries(m), 1);
	ASSERT_EQ(mirror_read(m, TBASE, buf, 3), -EIO);
	ASSERT_UEQ(mirror_nr_stale(m), 1);
	ASSERT_UGE(phys_stale_count(), 1);
	mirror_destroy(m);
	mmput(mm);
}

/*
 * A copy goes through a run of consecutive frames with one lookup, but the
 * generation of every page of it is checked: a frame freed in the middle of
 * a run is caught (once), the pages before it are copied, and a write stops
 * before it (the freed frame keeps its bytes).
 */
TEST(stale_page_inside_a_contiguous_run_is_caught)
{
	unsigned long pfn[8], freed_pfn;
	char buf[PG(8)], *freed;
	struct mm_struct *mm;
	struct mirror *m;
	bool w;
	uint32_t gen;

	MM_TEST_SETUP();
	mm = mm_new_mapped(8, PROT_RW, false);
	write_pages(mm, TBASE, 8, 31);
	mmap_read_lock(mm);
	for (int i = 0; i < 8; i++)
		ASSERT_EQ(follow_pfn_pte(mm, TBASE + PG(i), &pfn[i], &w, &gen), 0);
	mmap_read_unlock(mm);
	/* The frames are one ascending run (the allocator's ascending runs): one copy. */
	for (int i = 1; i < 8; i++)
		ASSERT_UEQ(pfn[i], pfn[0] + i);
	m = mirror_create(mm, MIRROR_BROKEN);
	ASSERT(!IS_ERR(m));
	ASSERT_EQ(mirror_read(m, TBASE, buf, PG(8)), 0);
	ASSERT_UEQ(mirror_nr_entries(m), 8);
	freed_pfn = pfn[3];
	freed = page_address(pfn_to_page(freed_pfn));
	ASSERT_EQ(mm_munmap(mm, TBASE + PG(3), PG(1)), 0); /* the broken device keeps it */
	ASSERT_UEQ(mirror_nr_entries(m), 8);

	memset(buf, 0, sizeof(buf));
	ASSERT_EQ(mirror_read(m, TBASE, buf, PG(8)), -EIO);
	ASSERT_UEQ(mirror_nr_stale(m), 1);
	for (int i = 0; i < 3; i++)
		ASSERT_PATTERN(buf + PG(i), PAGE_SIZE, 31 + i);

	memset(buf, 'W', sizeof(buf));
	ASSERT_EQ(mirror_write(m, TBASE + PG(1), buf, PG(4)), -EIO);
	ASSERT_UEQ(mirror_nr_stale(m), 2);
	ASSERT(freed[0] != 'W' && freed[PAGE_SIZE - 1] != 'W');
	memset(buf, 0, sizeof(buf));
	ASSERT_EQ(mm_read(mm, TBASE + PG(1), buf, PG(2)), 0); /* written up to the stale page */
	ASSERT(mem_is_byte((uint8_t *)buf, PG(2), 'W'));
	mirror_destroy(m);
	mmput(mm);
}

TEST(mirror_after_exit_fails_and_holds_only_mm_count)
{
	struct mm_struct *mm;
	struct mirror *m;
	unsigned long id;
	int users, count;
	char buf[4];

	MM_TEST_SETUP();
	mm = mm_new_mapped(4, PROT_RW, false);
	id = mm_id(mm);
	m = mirror_create(mm, 0);
	ASSERT(!IS_ERR(m));
	ASSERT_EQ(mirror_write(m, TBASE, "abc", 3), 0);
	ASSERT_EQ(mm_count_read(mm), 3); /* two notifiers (invalidation, aging): two mmgrabs */
	ASSERT_EQ(mm_users_read(mm), 1); /* and no mm_users */
	mmput(mm);			 /* exit */
	ASSERT_UEQ(phys_used_frames(), 0);
	ASSERT_UEQ(mirror_nr_entries(m), 0); /* the RELEASE invalidation */
	ASSERT_EQ(mirror_read(m, TBASE, buf, 3), -ESRCH);
	ASSERT_EQ(mm_query_refs(id, &users, &count), 0);
	ASSERT_EQ(users, 0);
	ASSERT_EQ(count, 2);
	mirror_destroy(m);
	ASSERT_EQ(mm_query_refs(id, &users, &count), -ESRCH);
}

TEST(mirror_shared_memory_across_fork)
{
	struct mm_struct *mm, *child;
	struct mirror *mp, *mc;
	char buf[4];

	MM_TEST_SETUP();
	mm = mm_new_mapped(2, PROT_RW, true);
	child = dup_mm(mm);
	ASSERT(!IS_ERR(child));
	mp = mirror_create(mm, 0);
	mc = mirror_create(child, 0);
	ASSERT(!IS_ERR(mp) && !IS_ERR(mc));
	ASSERT_EQ(mirror_write(mp, TBASE + PG(1), "shr", 3), 0);
	ASSERT_EQ(mirror_read(mc, TBASE + PG(1), buf, 3), 0);
	ASSERT_MEM_EQ(buf, "shr", 3);
	mirror_destroy(mc);
	mirror_destroy(mp);
	mmput(child);
	mmput(mm);
}

/*
 * Intervals per mapped range: an invalidation of one 2 MiB range does not
 * make a device fault elsewhere retry. The fault on A (a file page) runs the
 * file's ->fault, which -- inside the fault's collision-retry window, after
 * mmu_interval_read_begin() -- has another thread migrate page B (an
 * MMU_NOTIFY_CLEAR invalidation of B). With B in another 2 MiB, A's fault is
 * not retried; with B in the same 2 MiB (the same interval), it is, once.
 * Both ways the invalidation reaches the device and drops B's translation.
 */
static struct page *win_page;
static struct mm_struct *win_mm;
static unsigned long win_addr;
static bool win_armed;
static int win_migrate_ret;

static void *win_migrate(void *arg)
{
	(void)arg;
	win_migrate_ret = migrate_range(win_mm, win_addr, PG(1));
	return NULL;
}

static int win_fault(struct vm_fault *vmf)
{
	if (win_armed) {
		struct sm_thread t;

		win_armed = false;
		/* Another thread: this one holds mmap_lock for read (so may the migration). */
		ASSERT_EQ(sm_thread_create(&t, win_migrate, NULL, "test migrate"), 0);
		sm_thread_join(&t);
	}
	(void)vmf;
	get_page(win_page);
	vmf->page = win_page;
	return 0;
}

static const struct vm_operations_struct win_vm_ops = {
	.fault = win_fault,
	.name = "window",
};

static int win_mmap(struct file *file, struct vm_area_struct *vma)
{
	(void)file;
	vma->vm_ops = &win_vm_ops;
	return 0;
}

static const struct file_operations win_fops = {
	.name = "window",
	.mmap = win_mmap,
};

/* Fault A with a migration of B inside the window. Return: the fault's retries. */
static unsigned long fault_a_while_b_invalidated(unsigned long b)
{
	struct mm_struct *mm;
	struct mirror *m;
	struct file *f;
	unsigned long inval, retries;
	char buf[3];

	mm = mm_alloc();
	ASSERT_NOT_NULL(mm);
	win_page = alloc_page();
	ASSERT_NOT_NULL(win_page);
	memcpy(page_address(win_page), "AAA", 3);
	f = file_alloc(&win_fops, NULL);
	ASSERT_NOT_NULL(f);
	ASSERT_EQ(mm_mmap(mm, TBASE, PG(1), PROT_READ, MAP_SHARED, f, 0), (long)TBASE);
	fput(f);
	map_anon(mm, b, 1, PROT_RW, false);
	ASSERT_EQ(mm_write(mm, b, "BBB", 3), 0);
	m = mirror_create(mm, 0);
	ASSERT(!IS_ERR(m));
	ASSERT_EQ(mirror_read(m, b, buf, 3), 0); /* B's translation (and interval) */
	ASSERT_UEQ(mirror_nr_entries(m), 1);
	inval = mirror_nr_invalidations(m);

	win_mm = mm;
	win_addr = b;
	win_armed = true;
	ASSERT_EQ(mirror_read(m, TBASE, buf, 3), 0);
	ASSERT(!win_armed);
	ASSERT_EQ(win_migrate_ret, 0);
	ASSERT_MEM_EQ(buf, "AAA", 3);
	/* The migration's invalidation reached the device: only A is left. */
	ASSERT_UEQ(mirror_nr_invalidations(m), inval + 1);
	ASSERT_UEQ(mirror_nr_entries(m), 1);
	retries = mirror_nr_fault_retries(m);
	ASSERT_EQ(mirror_read(m, b, buf, 3), 0); /* the moved page, faulted anew */
	ASSERT_MEM_EQ(buf, "BBB", 3);
	ASSERT_UEQ(mirror_nr_stale(m), 0);
	mirror_destroy(m);
	mmput(mm);
	put_page(win_page);
	return retries;
}

TEST(mirror_invalidation_elsewhere_does_not_retry_a_fault)
{
	MM_TEST_SETUP();
	/* B 4 MiB away: another interval. */
	ASSERT_UEQ(fault_a_while_b_invalidated(TBASE + (4UL << 20)), 0);
	ASSERT_UEQ(phys_used_frames(), 0);
}

TEST(mirror_invalidation_in_the_same_2m_retries_a_fault)
{
	MM_TEST_SETUP();
	/* B 64 KiB away: the same 2 MiB, the same interval -- the control. */
	ASSERT_UEQ(fault_a_while_b_invalidated(TBASE + PG(16)), 1);
	ASSERT_UEQ(phys_used_frames(), 0);
}

/* One interval per 2 MiB the device maps, created by the first fault there. */
TEST(mirror_intervals_per_2m_mapped)
{
	struct mm_struct *mm;
	struct mirror *m;
	char buf[1];

	MM_TEST_SETUP();
	mm = mm_alloc();
	ASSERT_NOT_NULL(mm);
	map_anon(mm, TBASE, 1024, PROT_RW, false); /* 4 MiB: two leaves */
	m = mirror_create(mm, 0);
	ASSERT(!IS_ERR(m));
	ASSERT_UEQ(mirror_nr_intervals(m), 0);
	ASSERT_EQ(mm_count_read(mm), 2); /* users, and the aging notifier */
	ASSERT_EQ(mirror_read(m, TBASE + PG(3), buf, 1), 0);
	ASSERT_EQ(mirror_read(m, TBASE + PG(500), buf, 1), 0);
	ASSERT_UEQ(mirror_nr_intervals(m), 1);
	ASSERT_EQ(mirror_read(m, TBASE + PG(511), buf, 1), 0);
	ASSERT_EQ(mirror_read(m, TBASE + PG(512), buf, 1), 0); /* the next 2 MiB */
	ASSERT_UEQ(mirror_nr_intervals(m), 2);
	ASSERT_EQ(mm_count_read(mm), 4); /* each interval holds one */
	ASSERT_UEQ(mirror_nr_entries(m), 4);
	/* An invalidation of the second 2 MiB only reaches its interval. */
	ASSERT_EQ(mm_munmap(mm, TBASE + PG(512), PG(512)), 0);
	ASSERT_UEQ(mirror_nr_invalidations(m), 1);
	ASSERT_UEQ(mirror_nr_entries(m), 3);
	/* A DMA across the 2 MiB boundary: both leaves' translations. */
	ASSERT_EQ(mm_mmap(mm, TBASE + PG(512), PG(512), PROT_RW, MAP_PRIVATE, NULL, 0),
		  (long)(TBASE + PG(512)));
	ASSERT_EQ(mm_write(mm, TBASE + PG(511) + 4094, "xyzw", 4), 0);
	{
		char b4[4];

		ASSERT_EQ(mirror_read(m, TBASE + PG(511) + 4094, b4, 4), 0);
		ASSERT_MEM_EQ(b4, "xyzw", 4);
		ASSERT_EQ(mirror_write(m, TBASE + PG(511) + 4094, "1234", 4), 0);
		ASSERT_EQ(mm_read(mm, TBASE + PG(511) + 4094, b4, 4), 0);
		ASSERT_MEM_EQ(b4, "1234", 4);
	}
	ASSERT_UEQ(mirror_nr_intervals(m), 2);
	mirror_destroy(m);
	ASSERT_EQ(mm_count_read(mm), 1); /* every interval removed */
	mmput(mm);
}
