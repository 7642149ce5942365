// SPDX-License-Identifier: MIT
/*
 * IO page faults: the page-request queue and its fault worker thread
 * (after io-pgfault.c and iommu_sva_handle_iopf()).
 *
 * A device that finds no usable translation sends a page request (PASID,
 * address, access) and waits for the response. The worker resolves it on
 * behalf of the device holding nothing but the bond's mm_count, so it must
 * take mm_users with mmget_not_zero() first: once the mm has exited
 * (mm_users 0, exit_mmap running or done, which does not take mmap_lock for
 * the whole teardown) the request is answered with failure at once, and
 * the mm is never resurrected (seed 002). A request for a PASID that is not
 * in the device's table fails the same way and disturbs no other PASID.
 */
#include <errno.h>

#include "drivers/iommu/iommu-priv.h"
#include "secmmu/trace.h"

struct iopf_work {
	struct iommu_work work;
	struct iommu_device *dev;
	uint32_t pasid;
	unsigned long addr;
	bool write;
	int ret;
};

/* Runs on the fault worker thread, holding no lock. */
static void iopf_handle(struct iommu_work *work)
{
	struct iopf_work *req = container_of(work, struct iopf_work, work);
	struct iommu_device *dev = req->dev;
	struct vm_area_struct *vma;
	struct iommu_sva *bond;
	struct mm_struct *mm;
	unsigned long need;
	TRACE_SCOPE("iommu", "iopf", "dev=%s pasid=%u addr=0x%lx write=%d", dev->name, req->pasid,
		    req->addr, req->write);

	atomic_fetch_add(&dev->page_requests, 1);
	bond = iommu_sva_get_by_pasid(dev, req->pasid);
	if (!bond) {
		atomic_fetch_add(&dev->pasid_faults, 1);
		req->ret = -ESRCH; /* PASID not present: response INVALID */
		return;
	}
	mm = bond->mm; /* mm_count held by the bond */
	if (!mmget_not_zero_tracked(mm, dev, "iommu page request")) {
		/* The mm has exited: answer failure, never touch its tables. */
		atomic_fetch_add(&dev->prq_exited, 1);
		req->ret = -ESRCH;
		goto out_put_bond;
	}
	need = req->write ? VM_WRITE : VM_READ;
	mmap_read_lock(mm);
	vma = vma_lookup(mm, req->addr);
	if (!vma || !(vma->vm_flags & need) || (vma->vm_flags & (VM_IO | VM_PFNMAP)))
		req->ret = -EFAULT;
	else
		req->ret = handle_mm_fault(vma, req->addr & PAGE_MASK,
					   FAULT_FLAG_REMOTE | (req->write ? FAULT_FLAG_WRITE : 0));
	mmap_read_unlock(mm);
	/* Pairs with mmget_not_zero(); may be the last (exit runs here). */
	mmput_tracked(mm, dev, "iommu page request");
out_put_bond:
	iommu_sva_bond_put(bond); /* Pairs with iommu_sva_get_by_pasid(). */
}

/**
 * iommu_iopf_submit() - queue a page request to @dev's fault worker and wait
 * for its response
 *
 * May sleep; the caller holds no lock (the worker may take mmap_lock and run
 * an mm's exit). Return: 0, -EFAULT, -ESRCH, -ENOMEM, or -ENODEV if the
 * worker has stopped.
 */
int iommu_iopf_submit(struct iommu_device *dev, uint32_t pasid, unsigned long addr, bool write)
{
	struct iopf_work req = {
		.work.fn = iopf_handle,
		.dev = dev,
		.pasid = pasid,
		.addr = addr,
		.write = write,
	};
	int ret;

	ret = iommu_wq_run(&dev->prq_wq, &req.work);
	return ret ? ret : req.ret;
}

int iommu_page_request(struct iommu_device *dev, uint32_t pasid, unsigned long addr, bool write)
{
	if (atomic_load(&dev->dead))
		return -ENODEV;
	return iommu_iopf_submit(dev, pasid, addr, write);
}
