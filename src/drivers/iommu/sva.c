// SPDX-License-Identifier: MIT
/*
 * SVA bind/unbind and the per-mm SVA notifier (after iommu-sva.c,
 * intel/svm.c since the 2016 mm_count fix, and arm-smmu-v3-sva.c since
 * iommu_sva_ops::mm_exit was removed in 2020).
 *
 * Seed 002: a bond holds mm_count, never mm_users. ->release clears the
 * PASID table entries of the mm and flushes the IOTLB, because exit_mmap()
 * calls it before the page tables are torn down and unhooks the notifier,
 * so no later invalidation reaches us.
 * Seed 003: no mm_exit callback: after release the bonds and the PASID stay
 * until unbind; the PASID lives in the notifier (mmu_notifier_get/put), so
 * both have identical lifetimes.
 *
 * Locking: iommu_sva_lock (LOCK_RANK_DRIVER) serialises bind and unbind and
 * is held across mmu_notifier_get(); it is never taken by a notifier
 * callback, so ->release (which may run in any thread's last mmput()) never
 * waits for a binder. dev->lock and smm->lock (LOCK_RANK_DRIVER_MMU) are
 * never nested. The IOTLB lock (LOCK_RANK_DEVICE_TLB) is innermost.
 */
#include <errno.h>
#include <stdlib.h>

#include "drivers/iommu/iommu-priv.h"
#include "secmmu/kit/alloc.h"
#include "secmmu/err.h"
#include "secmmu/file.h"

static struct sm_mutex iommu_sva_lock;
/*
 * Every bond with users > 0, under iommu_sva_lock: lets an unbind recognise
 * a handle that is not (or no longer) bound without dereferencing it.
 */
static struct iommu_sva *sva_bound;

void iommu_sva_init(void)
{
	sm_mutex_init(&iommu_sva_lock, "iommu_sva_lock", LOCK_RANK_DRIVER);
}

static struct iommu_sva_mm *to_smm(struct mmu_notifier *mn)
{
	return container_of(mn, struct iommu_sva_mm, mn);
}

/* --- the notifier ------------------------------------------------------- */

/*
 * mmu_notifier_get(): the first bond of @mm. Called with mmap_lock held for
 * write. The PASID is born with the notifier.
 */
static struct mmu_notifier *sva_alloc_notifier(struct mm_struct *mm)
{
	struct iommu_sva_mm *smm;
	long pasid;

	smm = kzalloc(sizeof(*smm));
	if (!smm)
		return ERR_PTR(-ENOMEM);
	/* Its mm_count is the mm's SVA notifier's: see IOMMU_SVA_BOND_HOLDER_KIND. */
	mmu_notifier_set_owner(&smm->mn, mm);
	pasid = iommu_pasid_alloc();
	if (pasid < 0) {
		kfree(smm);
		return ERR_PTR(pasid);
	}
	smm->pasid = (uint32_t)pasid;
	sm_mutex_init(&smm->lock, "iommu_sva_mm->lock", LOCK_RANK_DRIVER_MMU);
	return &smm->mn;
}

/*
 * The last mmu_notifier_put(), after a grace period: no callback of ours
 * runs any more, and the PASID dies with the notifier. Pairs with
 * sva_alloc_notifier().
 */
static void sva_free_notifier(struct mmu_notifier *mn)
{
	struct iommu_sva_mm *smm = to_smm(mn);

	WARN_ON(smm->bonds);
	if (!smm->pasid_freed)
		iommu_pasid_free(smm->pasid);
	sm_mutex_destroy(&smm->lock);
	kfree(smm);
}

/*
 * The mm exits (mm_users is 0): exit_mmap() calls us before it tears down
 * a single mapping, then unhooks us. Clear the PASID entry of every bond
 * of the mm and flush the IOTLB, so that the device can fetch no page from
 * now on; later DMA and page requests are aborted with -ESRCH. There is no
 * mm_exit callback to the device driver: the bonds and the PASID stay until
 * the driver unbinds. May sleep; called with no lock held.
 */
static void sva_release(struct mmu_notifier *mn, struct mm_struct *mm)
{
	struct iommu_sva_mm *smm = to_smm(mn);

	(void)mm;
	sm_mutex_lock(&smm->lock);
	smm->released = true;
	for (struct iommu_sva *bond = smm->bonds; bond; bond = bond->mm_next)
		atomic_store(&bond->present, false);
	sm_mutex_unlock(&smm->lock);

	iommu_iotlb_lock();
	/* Pairs with the inv_seq check before an IOTLB fill (dma.c). */
	atomic_fetch_add_explicit(&smm->inv_seq, 1, memory_order_release);
	iommu_iotlb_flush(NULL, smm->pasid, 0, ~0UL, false);
	iommu_iotlb_unlock();
	/*
	 * The museum's pasid-freed-at-mmput (base/bugs.h): the PASID dies with
	 * the address space (__mmput), as before 2667ed10d9f0 tied it to the
	 * mm's lifetime -- while the bonds, and the device file whose release
	 * unbinds them at exit_files(), still use it.
	 */
	if (historic_bug(BUG_PASID_FREED_AT_MMPUT)) {
		smm->pasid_freed = true;
		iommu_pasid_free(smm->pasid);
	}
}

/*
 * A PTE of the shared page table changed: called under the page-table lock
 * after the change and before the old frame can be freed. May not sleep.
 */
static void sva_arch_invalidate_secondary_tlbs(struct mmu_notifier *mn, struct mm_struct *mm,
					       unsigned long start, unsigned long end)
{
	struct iommu_sva_mm *smm = to_smm(mn);

	(void)mm;
	/* As arm-smmu-v3: a size of 0 means the whole address space. */
	if (start >= end) {
		start = 0;
		end = ~0UL & ~(PAGE_SIZE - 1);
	}
	iommu_iotlb_lock();
	atomic_fetch_add_explicit(&smm->inv_seq, 1, memory_order_release);
	iommu_iotlb_flush(NULL, smm->pasid, start, end, true);
	iommu_iotlb_unlock();
}

static const struct mmu_notifier_ops iommu_sva_mn_ops = {
	.release = sva_release,
	.arch_invalidate_secondary_tlbs = sva_arch_invalidate_secondary_tlbs,
	.alloc_notifier = sva_alloc_notifier,
	.free_notifier = sva_free_notifier,
};

/* --- the device's PASID table ------------------------------------------ */

static struct iommu_sva *dev_find_mm(struct iommu_device *dev, unsigned long mm_id)
{
	struct iommu_sva *bond;

	lockdep_assert_held(&dev->lock);
	for (bond = dev->bonds; bond; bond = bond->dev_next)
		if (bond->mm_id == mm_id)
			return bond;
	return NULL;
}

/**
 * iommu_sva_get_by_pasid() - the bond of @pasid in @dev's PASID table, with
 * a reference (drop it with iommu_sva_bond_put())
 *
 * Takes dev->lock. Return: the bond (its entry may be not present: check
 * bond->present), or NULL.
 */
struct iommu_sva *iommu_sva_get_by_pasid(struct iommu_device *dev, uint32_t pasid)
{
	struct iommu_sva *bond;

	sm_mutex_lock(&dev->lock);
	for (bond = dev->bonds; bond; bond = bond->dev_next)
		if (bond->pasid == pasid)
			break;
	if (bond)
		atomic_fetch_add(&bond->refs, 1);
	sm_mutex_unlock(&dev->lock);
	return bond;
}

/**
 * iommu_sva_bond_put() - drop a bond reference
 *
 * The last one drops what the bond holds: the wrong driver's mm_users (an
 * mmput() that may run the whole exit of the mm, device-file release and
 * nested unbinds included), the notifier reference (the last put frees it
 * and the PASID after a grace period), the mm_count, the device. May sleep;
 * no lock may be held.
 */
void iommu_sva_bond_put(struct iommu_sva *bond)
{
	if (atomic_fetch_sub(&bond->refs, 1) != 1)
		return;
	if (bond->mm_users_held)
		/* Pairs with mmget() in iommu_sva_bind_device(). */
		mmput_tracked(bond->mm, bond->dev, IOMMU_SVA_BOND_HOLDER_KIND);
	/* Pairs with mmu_notifier_get() in iommu_sva_bind_device(). */
	mmu_notifier_put(&bond->smm->mn);
	/* Pairs with mmgrab() in iommu_sva_bind_device(). */
	mmdrop_tracked(bond->mm, bond->dev, IOMMU_SVA_BOND_HOLDER_KIND);
	iommu_device_put(bond->dev);
	kfree(bond);
}

/* --- bind / unbind --------------------------------------------------- */

struct iommu_sva *iommu_sva_bind_device(struct iommu_device *dev, struct mm_struct *mm)
{
	struct iommu_sva *bond, **pp;
	struct iommu_sva_mm *smm;
	struct mmu_notifier *mn;

	if (atomic_load(&dev->dead))
		return ERR_PTR(-ENODEV);
	if (mm_users_read(mm) <= 0)
		return ERR_PTR(-EINVAL);

	sm_mutex_lock(&iommu_sva_lock);
	sm_mutex_lock(&dev->lock);
	bond = dev_find_mm(dev, mm_id(mm));
	if (bond) {
		/* The same device and mm again: share the bond and its PASID. */
		bond->users++;
		sm_mutex_unlock(&dev->lock);
		goto out_unlock;
	}
	sm_mutex_unlock(&dev->lock);

	bond = kzalloc(sizeof(*bond));
	if (!bond) {
		bond = ERR_PTR(-ENOMEM);
		goto out_unlock;
	}
	/* Takes mmap_lock for write; the first bond of the mm allocates the PASID. */
	mn = mmu_notifier_get(&iommu_sva_mn_ops, mm);
	if (IS_ERR(mn)) {
		kfree(bond);
		bond = (struct iommu_sva *)mn;
		goto out_unlock;
	}
	smm = to_smm(mn);
	bond->dev = dev;
	bond->smm = smm;
	bond->mm = mm;
	bond->mm_id = mm_id(mm);
	bond->pasid = smm->pasid;
	/* A PASID belongs to one mm until its last bond is gone. */
	for (struct iommu_sva *other = sva_bound; other; other = other->all_next)
		if (other->pasid == bond->pasid && other->mm_id != bond->mm_id)
			sm_rule_broken("PASID %u given to a second mm while a bond of the first "
				       "still uses it (freed too early)",
				       bond->pasid);
	bond->users = 1;
	atomic_init(&bond->refs, 1); /* the PASID table's, until the last unbind */
	atomic_init(&bond->present, true);
	/* mm_count only: the struct, never the address space (seed 002). */
	mmgrab_tracked(mm, dev, IOMMU_SVA_BOND_HOLDER_KIND);
	if ((dev->flags & IOMMU_DEV_WRONG_MM_USERS) || historic_bug(BUG_SVA_BOND_MM_USERS)) {
		/* The pre-2016 intel-svm bug, on purpose: mm -> vma -> file -> mm. */
		mmget_tracked(mm, dev, IOMMU_SVA_BOND_HOLDER_KIND);
		bond->mm_users_held = true;
	}
	iommu_device_get(dev);

	sm_mutex_lock(&smm->lock);
	bond->mm_next = smm->bonds;
	smm->bonds = bond;
	sm_mutex_unlock(&smm->lock);

	sm_mutex_lock(&dev->lock);
	for (pp = &dev->bonds; *pp && (*pp)->pasid < bond->pasid; pp = &(*pp)->dev_next)
		;
	bond->dev_next = *pp;
	*pp = bond;
	sm_mutex_unlock(&dev->lock);
	bond->all_next = sva_bound;
	sva_bound = bond;
out_unlock:
	sm_mutex_unlock(&iommu_sva_lock);
	return bond;
}

/*
 * Drop one bind. On the last, take the bond out of the PASID table and of
 * its mm's list, and flush the device's IOTLB entries for it; the caller
 * then drops the table's reference (outside iommu_sva_lock: the last one may
 * run the mm's exit). Return: true if this was the last bind.
 */
static bool sva_unbind_locked(struct iommu_sva *bond)
{
	struct iommu_device *dev = bond->dev;
	struct iommu_sva_mm *smm = bond->smm;
	struct iommu_sva **pp;

	lockdep_assert_held(&iommu_sva_lock);
	BUG_ON(!bond->users);
	if (--bond->users)
		return false;

	for (pp = &sva_bound; *pp != bond; pp = &(*pp)->all_next)
		;
	*pp = bond->all_next;

	sm_mutex_lock(&dev->lock);
	for (pp = &dev->bonds; *pp != bond; pp = &(*pp)->dev_next)
		;
	*pp = bond->dev_next;
	sm_mutex_unlock(&dev->lock);

	sm_mutex_lock(&smm->lock);
	for (pp = &smm->bonds; *pp != bond; pp = &(*pp)->mm_next)
		;
	*pp = bond->mm_next;
	sm_mutex_unlock(&smm->lock);

	iommu_iotlb_lock();
	/* Pairs with the bond->detached check before an IOTLB fill (dma.c). */
	bond->detached = true;
	atomic_store(&bond->present, false);
	iommu_iotlb_flush(dev, bond->pasid, 0, ~0UL, false);
	iommu_iotlb_unlock();
	return true;
}

void iommu_sva_unbind_device(struct iommu_sva *handle)
{
	struct iommu_sva *bond;
	bool last;

	sm_mutex_lock(&iommu_sva_lock);
	for (bond = sva_bound; bond && bond != handle; bond = bond->all_next)
		;
	/* API misuse: not a bound handle (unbound already: it may be freed). */
	if (WARN_ON_ONCE(!bond)) {
		sm_mutex_unlock(&iommu_sva_lock);
		return;
	}
	last = sva_unbind_locked(handle);
	sm_mutex_unlock(&iommu_sva_lock);
	if (last)
		iommu_sva_bond_put(handle); /* Pairs with the refs = 1 at bind. */
}

int iommu_sva_unbind_mm(struct iommu_device *dev, unsigned long mm_id)
{
	struct iommu_sva *bond;
	bool last;

	sm_mutex_lock(&iommu_sva_lock);
	sm_mutex_lock(&dev->lock);
	bond = dev_find_mm(dev, mm_id);
	sm_mutex_unlock(&dev->lock);
	if (!bond) {
		sm_mutex_unlock(&iommu_sva_lock);
		return -ENOENT;
	}
	last = sva_unbind_locked(bond);
	sm_mutex_unlock(&iommu_sva_lock);
	if (last)
		iommu_sva_bond_put(bond);
	return 0;
}

uint32_t iommu_sva_get_pasid(struct iommu_sva *handle)
{
	return handle->pasid;
}

long iommu_sva_find_pasid(struct iommu_device *dev, unsigned long mm_id)
{
	struct iommu_sva *bond;
	long ret;

	sm_mutex_lock(&dev->lock);
	bond = dev_find_mm(dev, mm_id);
	ret = bond ? (long)bond->pasid : -ENOENT;
	sm_mutex_unlock(&dev->lock);
	return ret;
}

int iommu_dev_pasids(struct iommu_device *dev, struct iommu_pasid_info *out, int max)
{
	int n = 0;

	sm_mutex_lock(&dev->lock);
	for (struct iommu_sva *bond = dev->bonds; bond; bond = bond->dev_next, n++) {
		if (n >= max)
			continue;
		out[n].pasid = bond->pasid;
		out[n].present = atomic_load(&bond->present);
		out[n].mm_id = bond->mm_id;
	}
	sm_mutex_unlock(&dev->lock);
	return n;
}

/* --- the device file ---------------------------------------------------- */

struct sva_devfile {
	struct iommu_device *dev; /* a device reference */
	unsigned long mm_id;
};

/*
 * The last reference to the file: from close() or exit_files(), or -- when
 * the file is mmap()ed -- from the teardown of the last VMA, inside exit_mmap.
 * Unbinds: the driver's only way to give up the PASID (no mm_exit).
 */
static int devfile_release(struct file *file)
{
	struct sva_devfile *df = file->private_data;
	int ret;

	ret = iommu_sva_unbind_mm(df->dev, df->mm_id); /* -ENOENT: unbound already */
	iommu_device_put(df->dev);		       /* Pairs with iommu_device_get() at open. */
	kfree(df);
	return ret;
}

/* The doorbell region is device memory the CPU model does not emulate. */
static int devfile_fault(struct vm_fault *vmf)
{
	(void)vmf;
	return -EFAULT;
}

static const struct vm_operations_struct devfile_vm_ops = {
	.fault = devfile_fault,
	.name = "iommu-sva-portal",
};

static int devfile_mmap(struct file *file, struct vm_area_struct *vma)
{
	vma->vm_flags |= VM_IO | VM_DONTCOPY;
	vma->vm_ops = &devfile_vm_ops;
	vma->vm_private_data = file->private_data;
	return 0;
}

static const struct file_operations devfile_fops = {
	.name = "iommu-sva",
	.release = devfile_release,
	.mmap = devfile_mmap,
};

struct file *iommu_sva_devfile_open(struct iommu_device *dev, struct mm_struct *mm, uint32_t *pasid)
{
	struct iommu_sva *handle;
	struct sva_devfile *df;
	struct file *file;

	df = kzalloc(sizeof(*df));
	if (!df)
		return ERR_PTR(-ENOMEM);
	handle = iommu_sva_bind_device(dev, mm);
	if (IS_ERR(handle)) {
		kfree(df);
		return (struct file *)handle;
	}
	df->dev = dev;
	df->mm_id = mm_id(mm);
	iommu_device_get(dev);
	file = file_alloc(&devfile_fops, df);
	if (!file)
		goto err_unbind;
	if (pasid)
		*pasid = iommu_sva_get_pasid(handle);
	return file;

err_unbind:
	iommu_device_put(dev);
	kfree(df);
	iommu_sva_unbind_device(handle);
	return ERR_PTR(-ENOMEM);
}
