// SPDX-License-Identifier: MIT
/*
 * The SVA IOMMU: seed 002 (a bond holds mm_count, never mm_users; release
 * clears the PASID entry; IO faults use mmget_not_zero; a "PASID not
 * present" fault disturbs no other PASID) and seed 003 (no mm_exit; the
 * PASID stays until unbind and lives exactly as long as the notifier).
 */
#include "secmmu/iommu.h"
#include "secmmu/mmu_notifier.h"
#include "secmmu/sched.h"
#include "testutil.h"

static struct mm_struct *new_mm(unsigned long npages, const char *text)
{
	struct mm_struct *mm = mm_alloc();

	ASSERT_NOT_NULL(mm);
	map_anon(mm, TBASE, npages, PROT_RW, false);
	if (text)
		ASSERT_EQ(mm_write(mm, TBASE, text, strlen(text)), 0);
	return mm;
}

static struct iommu_device *new_dev(unsigned int flags)
{
	struct iommu_device *dev = iommu_device_create("t", flags);

	ASSERT(!IS_ERR(dev));
	return dev;
}

static int query(unsigned long id, int *users, int *count)
{
	return mm_query_refs(id, users, count);
}

/* Seed 002: the device-file cycle completes at exit when the bond holds only mm_count. */
TEST(iommu_devfile_cycle_exit_completes)
{
	struct iommu_device *dev;
	struct task_struct *task;
	struct mm_struct *mm;
	struct file *file;
	unsigned long id;
	uint32_t pasid;
	int users, count;
	char buf[5];

	MM_TEST_SETUP();
	dev = new_dev(0);
	mm = new_mm(4, "hello");
	id = mm_id(mm);
	task = task_create("p", mm);
	ASSERT_NOT_NULL(task);
	file = iommu_sva_devfile_open(dev, mm, &pasid);
	ASSERT(!IS_ERR(file));
	ASSERT_EQ(task_install_file(task, file), 0);
	ASSERT_EQ(mm_mmap(mm, 0x20000000, PG(1), PROT_RW, MAP_SHARED, file, 0), 0x20000000L);
	ASSERT_EQ(mm_users_read(mm), 1); /* never mm_users */
	ASSERT_EQ(mm_count_read(mm), 3); /* users' + bond's mmgrab + notifier's */
	ASSERT_EQ(iommu_dma_read(dev, pasid, TBASE, buf, 5), 0);
	ASSERT_MEM_EQ(buf, "hello", 5);
	ASSERT_EQ(task_exit(task), 0);
	ASSERT_EQ(query(id, &users, &count), -ESRCH); /* freed: no cycle */
	ASSERT_EQ(file_live_count(), 0);
	ASSERT_UEQ(phys_used_frames(), 0);
	mmu_notifier_synchronize();
	ASSERT_UEQ(iommu_pasid_nr_allocated(), 0);
	task_free(task);
	ASSERT_EQ(iommu_device_destroy(dev), 0);
}

/* The deliberately wrong driver holds mm_users: the cycle keeps the mm alive. */
TEST(iommu_wrong_mm_users_shows_the_cycle)
{
	struct iommu_device *dev;
	struct task_struct *task;
	struct mm_struct *mm;
	struct file *file;
	unsigned long id;
	uint32_t pasid;
	int users, count;
	char buf[5];

	MM_TEST_SETUP();
	dev = new_dev(IOMMU_DEV_WRONG_MM_USERS);
	mm = new_mm(4, "stuck");
	id = mm_id(mm);
	task = task_create("p", mm);
	file = iommu_sva_devfile_open(dev, mm, &pasid);
	ASSERT(!IS_ERR(file));
	ASSERT_EQ(task_install_file(task, file), 0);
	ASSERT_EQ(mm_mmap(mm, 0x20000000, PG(1), PROT_RW, MAP_SHARED, file, 0), 0x20000000L);
	ASSERT_EQ(task_exit(task), 0);
	ASSERT_EQ(query(id, &users, &count), 0);
	ASSERT_EQ(users, 1); /* never torn down */
	ASSERT_UEQ(phys_used_frames(), 1);
	ASSERT_EQ(file_live_count(), 1);
	ASSERT_EQ(iommu_dma_read(dev, pasid, TBASE, buf, 5), 0);
	ASSERT_MEM_EQ(buf, "stuck", 5);
	/* Explicit cleanup: the unbind's mmput runs exit, whose file release finds no bond. */
	ASSERT_EQ(iommu_sva_unbind_mm(dev, id), 0);
	ASSERT_EQ(query(id, &users, &count), -ESRCH);
	task_free(task);
	ASSERT_EQ(iommu_device_destroy(dev), 0);
}

/*
 * Seed 002/003: release clears the PASID entry and flushes the IOTLB (an
 * entry left behind would reach a freed frame: -EIO, not -ESRCH); other
 * PASIDs keep working; the bond and PASID stay until unbind.
 */
TEST(iommu_release_clears_pasid_entry_other_pasids_fine)
{
	struct iommu_pasid_info info[4];
	struct iommu_sva *a, *b;
	struct iommu_device *dev;
	struct mm_struct *mm1, *mm2;
	struct iommu_stats st;
	char buf[3];

	MM_TEST_SETUP();
	dev = new_dev(0);
	mm1 = new_mm(2, "one");
	mm2 = new_mm(2, "two");
	a = iommu_sva_bind_device(dev, mm1);
	b = iommu_sva_bind_device(dev, mm2);
	ASSERT(!IS_ERR(a) && !IS_ERR(b));
	ASSERT(iommu_sva_get_pasid(a) != iommu_sva_get_pasid(b));
	ASSERT_EQ(iommu_dma_read(dev, iommu_sva_get_pasid(a), TBASE, buf, 3), 0);
	iommu_dev_stats(dev, &st);
	ASSERT_UEQ(st.iotlb_entries, 1);
	mmput(mm1); /* exit: release, then every page freed */
	ASSERT_EQ(mm_users_read(mm1), 0);
	iommu_dev_stats(dev, &st);
	ASSERT_UEQ(st.iotlb_entries, 0);
	ASSERT_EQ(iommu_dma_read(dev, iommu_sva_get_pasid(a), TBASE, buf, 3), -ESRCH);
	ASSERT_EQ(iommu_dma_write(dev, iommu_sva_get_pasid(a), TBASE, "x", 1), -ESRCH);
	ASSERT_EQ(iommu_dma_read(dev, iommu_sva_get_pasid(b), TBASE, buf, 3), 0);
	ASSERT_MEM_EQ(buf, "two", 3);
	ASSERT_EQ(iommu_dev_pasids(dev, info, 4), 2);
	ASSERT(!info[0].present);
	ASSERT(info[1].present);
	iommu_dev_stats(dev, &st);
	ASSERT_UEQ(st.stale, 0);
	mmu_notifier_synchronize();
	ASSERT_UEQ(iommu_pasid_nr_allocated(), 2); /* until unbind */
	iommu_sva_unbind_device(a);
	iommu_sva_unbind_device(b);
	mmput(mm2);
	ASSERT_EQ(iommu_device_destroy(dev), 0);
}

/* Seed 002: an IO page fault after exit fails through mmget_not_zero. */
TEST(iommu_iopf_after_exit_uses_mmget_not_zero)
{
	struct iommu_device *dev;
	struct iommu_sva *a;
	struct mm_struct *mm;
	struct iommu_stats st;

	MM_TEST_SETUP();
	dev = new_dev(0);
	mm = new_mm(2, NULL);
	a = iommu_sva_bind_device(dev, mm);
	ASSERT(!IS_ERR(a));
	ASSERT_EQ(iommu_page_request(dev, iommu_sva_get_pasid(a), TBASE + PG(1), true), 0);
	ASSERT_EQ(iommu_page_request(dev, iommu_sva_get_pasid(a), 0x70000000, false), -EFAULT);
	mmput(mm);
	ASSERT_EQ(iommu_page_request(dev, iommu_sva_get_pasid(a), TBASE, false), -ESRCH);
	ASSERT_EQ(mm_users_read(mm), 0); /* not resurrected */
	iommu_dev_stats(dev, &st);
	ASSERT_UEQ(st.prq_exited, 1);
	ASSERT_UEQ(st.page_requests, 3);
	iommu_sva_unbind_device(a);
	ASSERT_EQ(iommu_device_destroy(dev), 0);
}

/* Seed 003: one PASID per mm, shared by devices; freed with the notifier at the last unbind. */
TEST(iommu_pasid_lives_as_long_as_the_notifier)
{
	struct iommu_device *d1, *d2;
	struct iommu_sva *a, *b, *c;
	struct mm_struct *mm;
	int count;

	MM_TEST_SETUP();
	d1 = new_dev(0);
	d2 = new_dev(0);
	mm = new_mm(1, NULL);
	count = mm_count_read(mm);
	a = iommu_sva_bind_device(d1, mm);
	b = iommu_sva_bind_device(d2, mm);
	c = iommu_sva_bind_device(d1, mm);
	ASSERT(a == c); /* the same device and mm share the bond */
	ASSERT_EQ(iommu_sva_get_pasid(a), iommu_sva_get_pasid(b));
	ASSERT_EQ(mm_users_read(mm), 1);
	ASSERT_EQ(mm_count_read(mm), count + 3); /* two bonds + one notifier */
	mmu_notifier_synchronize();
	ASSERT_UEQ(iommu_pasid_nr_allocated(), 1);
	iommu_sva_unbind_device(a);
	iommu_sva_unbind_device(b);
	mmu_notifier_synchronize();
	ASSERT_UEQ(iommu_pasid_nr_allocated(), 1); /* c still binds d1 */
	iommu_sva_unbind_device(c);
	mmu_notifier_synchronize();
	ASSERT_UEQ(iommu_pasid_nr_allocated(), 0);
	ASSERT_EQ(mm_count_read(mm), count);
	ASSERT_EQ(iommu_sva_unbind_mm(d1, mm_id(mm)), -ENOENT); /* double unbind */
	mmput(mm);
	ASSERT_EQ(iommu_device_destroy(d1), 0);
	ASSERT_EQ(iommu_device_destroy(d2), 0);
}

/* The generation check catches an IOTLB that ignores invalidations. */
TEST(iommu_broken_invalidation_is_caught)
{
	unsigned long stale = phys_stale_count();
	struct iommu_device *dev;
	struct iommu_sva *a;
	struct mm_struct *mm;
	char buf[4];

	MM_TEST_SETUP();
	dev = new_dev(IOMMU_DEV_BROKEN_INVAL);
	mm = new_mm(1, "old");
	a = iommu_sva_bind_device(dev, mm);
	ASSERT_EQ(iommu_dma_read(dev, iommu_sva_get_pasid(a), TBASE, buf, 3), 0);
	ASSERT_EQ(mm_munmap(mm, TBASE, PG(1)), 0);
	map_anon(mm, TBASE, 1, PROT_RW, false);
	ASSERT_EQ(mm_write(mm, TBASE, "new", 3), 0);
	ASSERT_EQ(iommu_dma_read(dev, iommu_sva_get_pasid(a), TBASE, buf, 3), -EIO);
	ASSERT(phys_stale_count() > stale);
	iommu_sva_unbind_device(a);
	mmput(mm);
	ASSERT_EQ(iommu_device_destroy(dev), 0);
}

/* And the correct IOTLB follows the same sequence. */
TEST(iommu_invalidation_keeps_dma_coherent)
{
	struct iommu_device *dev;
	struct iommu_sva *a;
	struct mm_struct *mm;
	char buf[4];

	MM_TEST_SETUP();
	dev = new_dev(0);
	mm = new_mm(1, "old");
	a = iommu_sva_bind_device(dev, mm);
	ASSERT_EQ(iommu_dma_read(dev, iommu_sva_get_pasid(a), TBASE, buf, 3), 0);
	ASSERT_EQ(mm_munmap(mm, TBASE, PG(1)), 0);
	ASSERT_EQ(iommu_dma_read(dev, iommu_sva_get_pasid(a), TBASE, buf, 3), -EFAULT);
	map_anon(mm, TBASE, 1, PROT_RW, false);
	ASSERT_EQ(mm_write(mm, TBASE, "new", 3), 0);
	ASSERT_EQ(iommu_dma_read(dev, iommu_sva_get_pasid(a), TBASE, buf, 3), 0);
	ASSERT_MEM_EQ(buf, "new", 3);
	iommu_sva_unbind_device(a);
	mmput(mm);
	ASSERT_EQ(iommu_device_destroy(dev), 0);
}
