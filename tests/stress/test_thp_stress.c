// SPDX-License-Identifier: MIT
/*
 * Transparent huge pages under concurrency: device threads (a mirror, a KVM
 * vCPU, an SVA device) read a MADV_HUGEPAGE window through their huge and
 * 4 KiB translations while a mutator splits PMDs (mprotect, partial
 * dontneed, munmap + mmap), collapses them again (MADV_COLLAPSE,
 * khugepaged), forks (COW of a huge PMD), migrates, pages out, merges with
 * KSM and runs reclaim with the deferred-split shrinker.
 *
 * Oracle: every page of the window holds a fill byte equal to its version,
 * published (with release) after the mutator wrote it; versions only grow,
 * also across a discard or a replacement. A device read that starts after
 * version v was published must see v or later (or 0 / a fault while the
 * page is being replaced); an older byte, a torn page or a stale
 * generation (a huge translation kept past its invalidation, or past the
 * folio's split or free) fails. Bounded by rounds, not time.
 */
#include <limits.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "secmmu/iommu.h"
#include "secmmu/kit/thread.h"
#include "secmmu/kvm.h"
#include "secmmu/migrate.h"
#include "secmmu/mirror.h"
#include "secmmu/swap.h"
#include "testutil.h"

#define HBASE  0x40000000UL
#define NHUGE  2
#define NPAGES (NHUGE * HPAGE_PMD_NR)
#define ROUNDS 600

static struct mm_struct *mm;
static _Atomic unsigned int version[NPAGES];
static _Atomic bool stop;
static _Atomic unsigned long stale_reads, good_reads;

enum dev_kind {
	DEV_MIRROR,
	DEV_KVM,
	DEV_SVA
};

struct dev {
	enum dev_kind kind;
	struct mirror *mirror;
	struct kvm_vcpu *vcpu;
	struct iommu_device *iodev;
	uint32_t pasid;
	unsigned int seed;
};

static int dev_read(struct dev *d, unsigned long addr, void *buf, size_t len)
{
	switch (d->kind) {
	case DEV_MIRROR:
		return mirror_read(d->mirror, addr, buf, len);
	case DEV_KVM:
		return kvm_vcpu_read(d->vcpu, addr, buf, len);
	default:
		return iommu_dma_read(d->iodev, d->pasid, addr, buf, len);
	}
}

static void *device_thread(void *arg)
{
	struct dev *d = arg;

	while (!atomic_load(&stop)) {
		unsigned int p = rand_r(&d->seed) % NPAGES;
		unsigned char buf[64];
		unsigned int before = atomic_load_explicit(&version[p], memory_order_acquire);
		int ret = dev_read(d, HBASE + PG(p) + 256, buf, sizeof(buf));

		if (ret == -EFAULT)
			continue; /* the mutator has it unmapped right now */
		ASSERT_EQ(ret, 0);
		for (size_t i = 1; i < sizeof(buf); i++)
			ASSERT_EQ(buf[i], buf[0]); /* torn: a read raced a free */
		if (buf[0] == 0)
			continue; /* freshly mapped, not yet written */
		if ((unsigned int)buf[0] < before)
			atomic_fetch_add(&stale_reads, 1);
		else
			atomic_fetch_add(&good_reads, 1);
	}
	return NULL;
}

static void publish(unsigned int p)
{
	unsigned char fill[PAGE_SIZE];
	unsigned int v = atomic_load(&version[p]);

	v = v < 250 ? v + 1 : 250; /* monotonic per page */
	memset(fill, (int)v, sizeof(fill));
	ASSERT_EQ(mm_write(mm, HBASE + PG(p), fill, sizeof(fill)), 0);
	atomic_store_explicit(&version[p], v, memory_order_release);
}

/* Fill the 2 MiB of @h again (a freshly mapped huge page starts at version 0). */
static void refill(unsigned int h)
{
	for (unsigned int p = h * HPAGE_PMD_NR; p < (h + 1) * HPAGE_PMD_NR; p += 37)
		publish(p);
}

static void mutate(unsigned int round, unsigned int p)
{
	unsigned int h = p / HPAGE_PMD_NR;
	unsigned long haddr = HBASE + h * HPAGE_PMD_SIZE;
	struct mm_struct *child;
	long r;

	switch (round % 11) {
	case 0: /* split the PMD, and restore the protection */
		ASSERT_EQ(mm_mprotect(mm, HBASE + PG(p), PG(1), PROT_READ), 0);
		ASSERT_EQ(mm_mprotect(mm, HBASE + PG(p), PG(1), PROT_READ | PROT_WRITE), 0);
		break;
	case 1: /* split and discard one page: the folio is queued for a deferred split */
		ASSERT_EQ(mm_madvise(mm, HBASE + PG(p), PG(1), MADV_DONTNEED), 0);
		break;
	case 2: /* collapse it again */
		r = mm_madvise(mm, haddr, HPAGE_PMD_SIZE, MADV_COLLAPSE);
		ASSERT(r == 0 || r == -EAGAIN || r == -ENOMEM || r == -EINVAL);
		break;
	case 3:
		khugepaged_scan(1);
		break;
	case 4: /* fork: the PMD is shared, the next write splits and copies */
		child = dup_mm(mm);
		ASSERT(!IS_ERR(child));
		mmput(child);
		break;
	case 5:
		r = migrate_range(mm, haddr, HPAGE_PMD_SIZE);
		ASSERT(r == 0 || r == -EAGAIN || r == -ENOMEM);
		break;
	case 6:
		ASSERT_EQ(mm_madvise(mm, HBASE + PG(p), PG(1), MADV_PAGEOUT), 0);
		break;
	case 7:
		ksm_scan_all();
		break;
	case 8: /* reclaim: the deferred-split shrinker first */
		try_to_free_pages(16);
		break;
	case 9: /* replace the whole huge page: its folio is freed */
		ASSERT_EQ(mm_munmap(mm, haddr, HPAGE_PMD_SIZE), 0);
		ASSERT_EQ(mm_mmap(mm, haddr, HPAGE_PMD_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE,
				  NULL, 0),
			  (long)haddr);
		ASSERT_EQ(mm_madvise(mm, haddr, HPAGE_PMD_SIZE, MADV_HUGEPAGE), 0);
		ASSERT_EQ(mm_madvise(mm, haddr, HPAGE_PMD_SIZE, MADV_MERGEABLE), 0);
		refill(h);
		break;
	default:
		break;
	}
	publish(p);
}

TEST(thp_devices_vs_splits_collapses_and_reclaim_no_stale_data)
{
	struct sm_thread threads[3];
	struct dev devs[3];
	struct iommu_sva *bond;
	struct kvm *kvm;
	unsigned int seed = 4242;

	MM_TEST_SETUP_BYTES(32UL << 20);
	ASSERT_EQ(swap_on(8UL << 20, NULL), 0);
	mm = mm_alloc();
	ASSERT_NOT_NULL(mm);
	ASSERT_EQ(mm_mmap(mm, HBASE, NHUGE * HPAGE_PMD_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE,
			  NULL, 0),
		  (long)HBASE);
	ASSERT_EQ(mm_madvise(mm, HBASE, NHUGE * HPAGE_PMD_SIZE, MADV_HUGEPAGE), 0);
	ASSERT_EQ(mm_madvise(mm, HBASE, NHUGE * HPAGE_PMD_SIZE, MADV_MERGEABLE), 0);
	for (unsigned int h = 0; h < NHUGE; h++)
		refill(h);

	devs[0] = (struct dev){.kind = DEV_MIRROR, .seed = 1};
	devs[0].mirror = mirror_create(mm, 0);
	ASSERT(!IS_ERR(devs[0].mirror));
	devs[1] = (struct dev){.kind = DEV_KVM, .seed = 2};
	kvm = kvm_create_vm(mm, 0);
	ASSERT(!IS_ERR(kvm));
	devs[1].vcpu = kvm_create_vcpu(kvm);
	ASSERT(!IS_ERR(devs[1].vcpu));
	devs[2] = (struct dev){.kind = DEV_SVA, .seed = 3};
	devs[2].iodev = iommu_device_create("thpstress", 0);
	ASSERT(!IS_ERR(devs[2].iodev));
	bond = iommu_sva_bind_device(devs[2].iodev, mm);
	ASSERT(!IS_ERR(bond));
	devs[2].pasid = iommu_sva_get_pasid(bond);
	for (int i = 0; i < 3; i++)
		ASSERT_EQ(sm_thread_create(&threads[i], device_thread, &devs[i], "thpdev%d", i), 0);

	for (unsigned int r = 0; r < ROUNDS; r++)
		mutate(r, (unsigned int)rand_r(&seed) % NPAGES);
	atomic_store(&stop, true);
	for (int i = 0; i < 3; i++)
		sm_thread_join(&threads[i]);

	ASSERT_UEQ(atomic_load(&stale_reads), 0);
	ASSERT_UGT(atomic_load(&good_reads), 0);
	ASSERT_UEQ(mirror_nr_stale(devs[0].mirror), 0);
	ASSERT_UEQ(phys_stale_count(), 0);
	mirror_destroy(devs[0].mirror);
	kvm_destroy_vm(kvm);
	iommu_sva_unbind_device(bond);
	mmput(mm);
	ASSERT_EQ(iommu_device_destroy(devs[2].iodev), 0);
	ASSERT_UEQ(swap_slots_used(), 0);
	ASSERT_EQ(swap_off(), 0);
}
