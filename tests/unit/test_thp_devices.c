// SPDX-License-Identifier: MIT
/*
 * Transparent huge pages seen by the secondary MMUs: hmm_range_fault()
 * reports the order, the mirror records one entry per 2 MiB the CPU maps
 * with a PMD, KVM installs a huge spte when the host PMD is huge and splits
 * it on a partial invalidation, the IOMMU's IOTLB caches 2 MiB entries and
 * drops one whole on a partial invalidation -- and the stale-translation
 * detector (frame generations) covers every huge translation.
 */
#include <limits.h>

#include "mm/internal.h"
#include "secmmu/iommu.h"
#include "secmmu/kvm.h"
#include "secmmu/mirror.h"
#include "secmmu/mmu_notifier.h"
#include "testutil.h"

#define HBASE	 0x40000000UL /* 2 MiB-aligned */
#define HSZ	 HPAGE_PMD_SIZE
#define BIG_PHYS (32UL << 20)

static unsigned long mm_thp_count(struct mm_struct *mm)
{
	struct mm_stats st;

	mm_get_stats(mm, &st);
	return st.thp;
}

/* A 2 MiB-aligned private rw mapping of @nhuge huge ranges, MADV_HUGEPAGE'd, written. */
static struct mm_struct *huge_mm(unsigned long nhuge)
{
	struct mm_struct *mm = mm_alloc();

	ASSERT(mm != NULL);
	ASSERT_EQ(mm_mmap(mm, HBASE, nhuge * HSZ, PROT_READ | PROT_WRITE, MAP_PRIVATE, NULL, 0),
		  (long)HBASE);
	ASSERT_EQ(mm_madvise(mm, HBASE, nhuge * HSZ, MADV_HUGEPAGE), 0);
	for (unsigned long i = 0; i < nhuge; i++)
		write_pages(mm, HBASE + i * HSZ, 1, 10 * i + 1);
	ASSERT_UEQ(mm_thp_count(mm), nhuge);
	return mm;
}

/* A partial invalidation of [start, end) of @mm, as a primary MMU change would send it. */
static void invalidate(struct mm_struct *mm, unsigned long start, unsigned long end)
{
	struct mmu_notifier_range range;

	mmu_notifier_range_init(&range, MMU_NOTIFY_CLEAR, 0, mm, start, end);
	mmu_notifier_invalidate_range_start(&range);
	sm_mutex_lock(&mm->page_table_lock);
	mmu_notifier_arch_invalidate_secondary_tlbs(mm, start, end);
	sm_mutex_unlock(&mm->page_table_lock);
	mmu_notifier_invalidate_range_end(&range);
}

/* --- hmm and the mirror ----------------------------------------------------- */

TEST(thp_hmm_reports_the_pmd_order_and_4k_after_a_split)
{
	struct mm_struct *mm;
	struct mirror_snap snap[4];
	struct mirror *m;

	MM_TEST_SETUP_BYTES(BIG_PHYS);
	mm = huge_mm(1);
	m = mirror_create(mm, 0);
	ASSERT(!IS_ERR(m));
	ASSERT_EQ(mirror_snapshot(m, HBASE + PG(10), PG(1), snap), 0);
	ASSERT_EQ(snap[0].order, HPAGE_PMD_ORDER);
	ASSERT_EQ(mm_mprotect(mm, HBASE + PG(100), PG(1), PROT_READ), 0);
	ASSERT_EQ(mirror_snapshot(m, HBASE + PG(10), PG(1), snap), 0);
	ASSERT_EQ(snap[0].order, 0);
	mirror_destroy(m);
	mmput(mm);
}

TEST(thp_mirror_records_one_entry_per_pmd_and_drops_it_whole)
{
	struct mm_struct *mm;
	struct mirror *m;
	uint8_t buf[PAGE_SIZE];
	unsigned long faults;

	MM_TEST_SETUP_BYTES(BIG_PHYS);
	mm = huge_mm(2);
	m = mirror_create(mm, 0);
	ASSERT(!IS_ERR(m));
	ASSERT_EQ(mirror_read(m, HBASE, buf, PAGE_SIZE), 0);
	ASSERT_PATTERN(buf, PAGE_SIZE, 1);
	ASSERT_UEQ(mirror_nr_entries(m), 1);
	ASSERT_UEQ(mirror_nr_huge_entries(m), 1);
	/* Anywhere else in the 2 MiB: the same entry, no new fault. */
	faults = mirror_nr_faults(m);
	ASSERT_EQ(mirror_read(m, HBASE + HSZ - PAGE_SIZE, buf, 8), 0);
	ASSERT_UEQ(mirror_nr_faults(m), faults);
	ASSERT_EQ(mirror_write(m, HBASE + PG(7), "dev", 3), 0);
	ASSERT_EQ(mm_read(mm, HBASE + PG(7), buf, 3), 0);
	ASSERT_MEM_EQ(buf, "dev", 3);
	/* A second PMD: a second entry. */
	ASSERT_EQ(mirror_read(m, HBASE + HSZ, buf, PAGE_SIZE), 0);
	ASSERT_PATTERN(buf, PAGE_SIZE, 11);
	ASSERT_UEQ(mirror_nr_huge_entries(m), 2);
	/* An invalidation of one 4 KiB page drops the whole 2 MiB entry, not the other. */
	invalidate(mm, HBASE + PG(300), HBASE + PG(301));
	ASSERT_UEQ(mirror_nr_huge_entries(m), 1);
	ASSERT_UEQ(mirror_nr_entries(m), 1);
	/* The host splits its PMD (mprotect of one page): 4 KiB entries from then on. */
	ASSERT_EQ(mm_mprotect(mm, HBASE + HSZ + PG(5), PG(1), PROT_READ), 0);
	ASSERT_UEQ(mirror_nr_entries(m), 0);
	ASSERT_EQ(mirror_read(m, HBASE + HSZ, buf, PAGE_SIZE), 0);
	ASSERT_PATTERN(buf, PAGE_SIZE, 11);
	ASSERT_UEQ(mirror_nr_huge_entries(m), 0);
	ASSERT_UGE(mirror_nr_entries(m), 1);
	ASSERT_UEQ(mirror_nr_stale(m), 0);
	mirror_destroy(m);
	mmput(mm);
}

TEST(thp_mirror_stale_detector_catches_a_freed_or_split_folio)
{
	unsigned long stale = 0;
	struct mm_struct *mm;
	struct mirror *m;
	uint8_t buf[8];

	MM_TEST_SETUP_BYTES(BIG_PHYS);
	mm = huge_mm(2);
	m = mirror_create(mm, MIRROR_BROKEN);
	ASSERT(!IS_ERR(m));
	ASSERT_EQ(mirror_read(m, HBASE, buf, 8), 0);
	ASSERT_EQ(mirror_read(m, HBASE + HSZ, buf, 8), 0);
	ASSERT_UEQ(mirror_nr_huge_entries(m), 2);
	stale = phys_stale_count();
	/* The first folio freed: its huge entry is stale anywhere in the 2 MiB. */
	ASSERT_EQ(mm_munmap(mm, HBASE, HSZ), 0);
	ASSERT_EQ(mirror_read(m, HBASE + PG(9), buf, 8), -EIO);
	/* The second split by the shrinker: stale even where the page is still mapped. */
	ASSERT_EQ(mm_munmap(mm, HBASE + HSZ + PG(1), PG(1)), 0);
	ASSERT_UEQ(deferred_split_scan(ULONG_MAX), 1);
	ASSERT_EQ(mirror_read(m, HBASE + HSZ + PG(2), buf, 8), -EIO);
	ASSERT_UEQ(mirror_nr_stale(m), 2);
	ASSERT_UGE(phys_stale_count(), stale + 2);
	mirror_destroy(m);
	mmput(mm);
}

/* --- KVM -------------------------------------------------------------------- */

static struct kvm_stats kstats(struct kvm *kvm)
{
	struct kvm_stats st;

	kvm_get_stats(kvm, &st);
	return st;
}

TEST(thp_kvm_maps_a_huge_spte_and_splits_it_on_a_partial_invalidation)
{
	struct mm_struct *mm;
	struct kvm_vcpu *vcpu;
	struct kvm *kvm;
	uint8_t buf[PAGE_SIZE];

	MM_TEST_SETUP_BYTES(BIG_PHYS);
	mm = huge_mm(1);
	kvm = kvm_create_vm(mm, 0);
	ASSERT(!IS_ERR(kvm));
	vcpu = kvm_create_vcpu(kvm);
	ASSERT(!IS_ERR(vcpu));
	ASSERT_EQ(kvm_vcpu_read(vcpu, HBASE, buf, PAGE_SIZE), 0);
	ASSERT_PATTERN(buf, PAGE_SIZE, 1);
	ASSERT_UEQ(kstats(kvm).huge_sptes, 1);
	ASSERT_UEQ(kstats(kvm).sptes, 1);
	ASSERT_UEQ(kstats(kvm).huge_faults, 1);
	/* The whole 2 MiB through it: no more faults; a write needs a writable one. */
	ASSERT_EQ(kvm_vcpu_read(vcpu, HBASE + HSZ - 8, buf, 8), 0);
	ASSERT_UEQ(kstats(kvm).faults, 1);
	ASSERT_EQ(kvm_vcpu_write(vcpu, HBASE + PG(20), "guest", 5), 0);
	ASSERT_UEQ(kstats(kvm).huge_sptes, 1);
	ASSERT_EQ(mm_read(mm, HBASE + PG(20), buf, 5), 0);
	ASSERT_MEM_EQ(buf, "guest", 5);
	/* A partial invalidation: the rest of the 2 MiB keeps 4 KiB sptes. */
	invalidate(mm, HBASE + PG(8), HBASE + PG(10));
	ASSERT_UEQ(kstats(kvm).huge_sptes, 0);
	ASSERT_UEQ(kstats(kvm).huge_splits, 1);
	ASSERT_UEQ(kstats(kvm).sptes, HPAGE_PMD_NR - 2);
	ASSERT_EQ(kvm_vcpu_read(vcpu, HBASE + PG(20), buf, 5), 0);
	ASSERT_MEM_EQ(buf, "guest", 5);
	ASSERT_UEQ(kstats(kvm).sptes, HPAGE_PMD_NR - 2); /* no fault */
	/* The host PMD is still huge: a fault in the hole maps 2 MiB again. */
	ASSERT_EQ(kvm_vcpu_read(vcpu, HBASE + PG(8), buf, 8), 0);
	ASSERT_UEQ(kstats(kvm).huge_sptes, 1);
	ASSERT_UEQ(kstats(kvm).sptes, 1);
	/* The host splits (mprotect of one page): the 2 MiB invalidation zaps it all. */
	ASSERT_EQ(mm_mprotect(mm, HBASE + PG(30), PG(1), PROT_READ), 0);
	ASSERT_UEQ(kstats(kvm).sptes, 0);
	ASSERT_EQ(kvm_vcpu_read(vcpu, HBASE, buf, PAGE_SIZE), 0);
	ASSERT_PATTERN(buf, PAGE_SIZE, 1);
	ASSERT_UEQ(kstats(kvm).huge_sptes, 0); /* the host maps 4 KiB now */
	ASSERT_UEQ(kstats(kvm).sptes, 1);
	ASSERT_UEQ(kstats(kvm).stale, 0);
	kvm_destroy_vm(kvm);
	mmput(mm);
}

TEST(thp_kvm_broken_vm_huge_spte_is_caught_stale)
{
	struct mm_struct *mm;
	struct kvm_vcpu *vcpu;
	struct kvm *kvm;
	uint8_t buf[8];

	MM_TEST_SETUP_BYTES(BIG_PHYS);
	mm = huge_mm(1);
	kvm = kvm_create_vm(mm, KVM_VM_BROKEN);
	ASSERT(!IS_ERR(kvm));
	vcpu = kvm_create_vcpu(kvm);
	ASSERT(!IS_ERR(vcpu));
	ASSERT_EQ(kvm_vcpu_read(vcpu, HBASE, buf, 8), 0);
	ASSERT_UEQ(kstats(kvm).huge_sptes, 1);
	ASSERT_EQ(mm_munmap(mm, HBASE, HSZ), 0);
	ASSERT_EQ(kvm_vcpu_read(vcpu, HBASE + PG(77), buf, 8), -EIO);
	ASSERT_UEQ(kstats(kvm).stale, 1);
	kvm_destroy_vm(kvm);
	mmput(mm);
}

/* --- the IOMMU --------------------------------------------------------------- */

static struct iommu_stats istats(struct iommu_device *dev)
{
	struct iommu_stats st;

	iommu_dev_stats(dev, &st);
	return st;
}

TEST(thp_iotlb_caches_2m_entries_and_drops_one_whole_on_a_partial_invalidation)
{
	struct iommu_device *dev;
	struct iommu_sva *bond;
	struct mm_struct *mm;
	uint8_t buf[PAGE_SIZE];
	uint32_t pasid;
	unsigned long fills;

	MM_TEST_SETUP_BYTES(BIG_PHYS);
	mm = huge_mm(2);
	dev = iommu_device_create("thp0", 0);
	ASSERT(!IS_ERR(dev));
	bond = iommu_sva_bind_device(dev, mm);
	ASSERT(!IS_ERR(bond));
	pasid = iommu_sva_get_pasid(bond);
	ASSERT_EQ(iommu_dma_read(dev, pasid, HBASE, buf, PAGE_SIZE), 0);
	ASSERT_PATTERN(buf, PAGE_SIZE, 1);
	ASSERT_UEQ(istats(dev).iotlb_entries, 1);
	ASSERT_UEQ(istats(dev).iotlb_huge, 1);
	fills = istats(dev).iotlb_fills;
	ASSERT_EQ(iommu_dma_write(dev, pasid, HBASE + PG(400), "dma", 3), 0);
	ASSERT_UEQ(istats(dev).iotlb_fills, fills); /* the same 2 MiB entry */
	ASSERT_EQ(mm_read(mm, HBASE + PG(400), buf, 3), 0);
	ASSERT_MEM_EQ(buf, "dma", 3);
	ASSERT_EQ(iommu_dma_read(dev, pasid, HBASE + HSZ, buf, PAGE_SIZE), 0);
	ASSERT_PATTERN(buf, PAGE_SIZE, 11);
	ASSERT_UEQ(istats(dev).iotlb_huge, 2);
	/* One 4 KiB page invalidated: its whole 2 MiB entry goes, the other stays. */
	invalidate(mm, HBASE + PG(511), HBASE + PG(512));
	ASSERT_UEQ(istats(dev).iotlb_entries, 1);
	ASSERT_UEQ(istats(dev).iotlb_huge, 1);
	/* A host split: 4 KiB entries after it. */
	ASSERT_EQ(mm_mprotect(mm, HBASE + HSZ + PG(3), PG(1), PROT_READ), 0);
	ASSERT_UEQ(istats(dev).iotlb_entries, 0);
	ASSERT_EQ(iommu_dma_read(dev, pasid, HBASE + HSZ, buf, PAGE_SIZE), 0);
	ASSERT_PATTERN(buf, PAGE_SIZE, 11);
	ASSERT_UEQ(istats(dev).iotlb_huge, 0);
	ASSERT_UEQ(istats(dev).iotlb_entries, 1);
	ASSERT_UEQ(istats(dev).stale, 0);
	iommu_sva_unbind_device(bond);
	mmput(mm);
	ASSERT_EQ(iommu_device_destroy(dev), 0);
}

TEST(thp_iotlb_broken_device_2m_entry_is_caught_stale)
{
	struct iommu_device *dev;
	struct iommu_sva *bond;
	struct mm_struct *mm;
	uint8_t buf[8];
	uint32_t pasid;

	MM_TEST_SETUP_BYTES(BIG_PHYS);
	mm = huge_mm(1);
	dev = iommu_device_create("thp1", IOMMU_DEV_BROKEN_INVAL);
	ASSERT(!IS_ERR(dev));
	bond = iommu_sva_bind_device(dev, mm);
	ASSERT(!IS_ERR(bond));
	pasid = iommu_sva_get_pasid(bond);
	ASSERT_EQ(iommu_dma_read(dev, pasid, HBASE, buf, 8), 0);
	ASSERT_UEQ(istats(dev).iotlb_huge, 1);
	ASSERT_EQ(mm_munmap(mm, HBASE, HSZ), 0);
	ASSERT_EQ(iommu_dma_read(dev, pasid, HBASE + PG(33), buf, 8), -EIO);
	ASSERT_UEQ(istats(dev).stale, 1);
	iommu_sva_unbind_device(bond);
	mmput(mm);
	ASSERT_EQ(iommu_device_destroy(dev), 0);
}

/* The huge zero page through devices: a huge read-only translation, dropped whole by the write's
 * split. */
TEST(thp_devices_read_the_huge_zero_page_and_see_the_write_after_its_split)
{
	struct iommu_device *dev;
	struct iommu_sva *bond;
	struct mm_struct *mm;
	struct mirror *m;
	uint8_t buf[8];
	uint32_t pasid;

	MM_TEST_SETUP_BYTES(BIG_PHYS);
	mm = mm_alloc();
	ASSERT(mm != NULL);
	ASSERT_EQ(mm_mmap(mm, HBASE, HSZ, PROT_READ | PROT_WRITE, MAP_PRIVATE, NULL, 0),
		  (long)HBASE);
	ASSERT_EQ(mm_madvise(mm, HBASE, HSZ, MADV_HUGEPAGE), 0);
	m = mirror_create(mm, 0);
	ASSERT(!IS_ERR(m));
	dev = iommu_device_create("thpz", 0);
	ASSERT(!IS_ERR(dev));
	bond = iommu_sva_bind_device(dev, mm);
	ASSERT(!IS_ERR(bond));
	pasid = iommu_sva_get_pasid(bond);
	ASSERT_EQ(mirror_read(m, HBASE + PG(9), buf, 8), 0);
	ASSERT(mem_is_byte(buf, 8, 0));
	ASSERT_UEQ(mirror_nr_huge_entries(m), 1);
	ASSERT_UEQ(mm_thp_count(mm), 0); /* the huge zero page */
	ASSERT_EQ(iommu_dma_read(dev, pasid, HBASE + PG(9), buf, 8), 0);
	ASSERT_UEQ(istats(dev).iotlb_huge, 1);
	ASSERT_EQ(mm_write(mm, HBASE + PG(9), "cpu", 3), 0);
	ASSERT_UEQ(mirror_nr_entries(m), 0);
	ASSERT_UEQ(istats(dev).iotlb_entries, 0);
	ASSERT_EQ(mirror_read(m, HBASE + PG(9), buf, 3), 0);
	ASSERT_MEM_EQ(buf, "cpu", 3);
	ASSERT_EQ(iommu_dma_read(dev, pasid, HBASE + PG(9), buf, 3), 0);
	ASSERT_MEM_EQ(buf, "cpu", 3);
	ASSERT_UEQ(mirror_nr_stale(m), 0);
	ASSERT_UEQ(istats(dev).stale, 0);
	iommu_sva_unbind_device(bond);
	mirror_destroy(m);
	mmput(mm);
	ASSERT_EQ(iommu_device_destroy(dev), 0);
}
