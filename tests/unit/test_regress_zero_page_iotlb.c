// SPDX-License-Identifier: MIT
/*
 * Regression (found by the torture): unmapping a range whose only present
 * PTEs mapped the zero page did not flush the device TLBs, because the flush
 * was tied to freeing frames. An IOMMU that had read the never-written page
 * kept translating it to the zero page, and its DMA read zeroes after the
 * CPU had written real data there.
 */
#include "secmmu/iommu.h"
#include "testutil.h"

static void zero_then_write(int advice_or_munmap)
{
	struct iommu_device *dev;
	struct mm_struct *mm;
	struct iommu_sva *bond;
	unsigned char b = 0xee;
	uint32_t pasid;

	MM_TEST_SETUP();
	mm = mm_alloc();
	ASSERT_NOT_NULL(mm);
	ASSERT_EQ(mm_mmap(mm, TBASE, PG(1), PROT_READ | PROT_WRITE, MAP_PRIVATE, NULL, 0),
		  (long)TBASE);
	dev = iommu_device_create("dev", 0);
	ASSERT(!IS_ERR_OR_NULL(dev));
	bond = iommu_sva_bind_device(dev, mm);
	ASSERT(!IS_ERR_OR_NULL(bond));
	pasid = iommu_sva_get_pasid(bond);
	ASSERT_EQ(mm_read(mm, TBASE, &b, 1), 0); /* the CPU maps the zero page */
	ASSERT_EQ(b, 0);
	ASSERT_EQ(iommu_dma_read(dev, pasid, TBASE, &b, 1), 0); /* so does the IOTLB */
	ASSERT_EQ(b, 0);
	if (advice_or_munmap)
		ASSERT_EQ(mm_madvise(mm, TBASE, PG(1), MADV_DONTNEED), 0);
	else
		ASSERT_EQ(mm_mmap(mm, TBASE, PG(1), PROT_READ | PROT_WRITE, MAP_PRIVATE, NULL, 0),
			  (long)TBASE);
	b = 0x5a;
	ASSERT_EQ(mm_write(mm, TBASE, &b, 1), 0);
	b = 0;
	ASSERT_EQ(iommu_dma_read(dev, pasid, TBASE, &b, 1), 0);
	ASSERT_EQ(b, 0x5a);
	iommu_sva_unbind_device(bond);
	iommu_device_destroy(dev);
	mmput(mm);
}

TEST(zero_page_iotlb_flushed_by_dontneed)
{
	zero_then_write(1);
}

TEST(zero_page_iotlb_flushed_by_mmap_over_it)
{
	zero_then_write(0);
}
