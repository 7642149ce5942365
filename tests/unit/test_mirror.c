// SPDX-License-Identifier: MIT
/*
 * The mirroring device (the reference secondary MMU): coherence with the
 * primary MMU through interval notifiers, and the stale-translation checker
 * proven by a deliberately broken device.
 */
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
