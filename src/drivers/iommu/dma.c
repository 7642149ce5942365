// SPDX-License-Identifier: MIT
/*
 * The device: its DMA engine thread, its fault worker thread, and the
 * translation of each DMA through the IOTLB and the shared CPU page table.
 *
 * A DMA tagged with a PASID, page by page:
 *   1. IOTLB hit (with the right access): check the frame generation
 *      recorded at fill time (a stale entry is reported and the DMA fails
 *      with -EIO), then memcpy under the IOTLB lock.
 *   2. Miss: walk. The PASID table entry must be present (else -ESRCH:
 *      "PASID not present", aborted silently) and the mm must still have
 *      users (mmget_not_zero, else -ESRCH); read the PTE with
 *      follow_pfn_pte() under mmap_read_lock, and fill the IOTLB only if no
 *      invalidation of the PASID began since the walk started (inv_seq,
 *      checked under the IOTLB lock: pairs with the bump in sva.c).
 *   3. No usable PTE: a page request to the fault worker (iopf.c), then
 *      retry.
 * No retry count: a retry follows an invalidation of the PASID that began
 * during the walk (step 2's -EAGAIN), or a page request the fault worker
 * resolved (and the DMA waited for) -- events, so no amount of load or
 * reclaim turns a DMA to a valid address into an error; what cannot be
 * resolved ends with the page request's error (-EFAULT, -ENOMEM, -ESRCH).
 * The IOTLB caches permissions, as the SMMU's and the CPU's on arm64: a
 * write through a read-only entry is not a miss but a permission fault (a
 * page request, then a retry through the same entry), so a PTE made
 * writable in place must be flushed from it (fault.c).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "drivers/iommu/iommu-priv.h"
#include "secmmu/kit/alloc.h"
#include "secmmu/err.h"
#include "secmmu/trace.h"

/*
 * A write through a read-only IOTLB entry is a permission fault: the IOTLB
 * caches permissions, so the device sends a page request and retries
 * through the same entry until an invalidation drops it. After this many
 * such faults in a row the DMA gives up with -EAGAIN (the device would fault
 * for ever; see the museum's iommu-perm-upgrade-no-flush).
 */
#define DMA_PERM_FAULTS 8

/* --- work queues ---------------------------------------------------------- */

static void *iommu_wq_thread(void *arg)
{
	struct iommu_wq *wq = arg;

	sm_mutex_lock(&wq->lock);
	for (;;) {
		struct iommu_work *work;

		sm_wait_event(&wq->cond, &wq->lock, wq->head || wq->stopping);
		work = wq->head;
		if (!work)
			break; /* stopping, and nothing left to do */
		wq->head = work->next;
		if (!wq->head)
			wq->tail = &wq->head;
		sm_mutex_unlock(&wq->lock);
		work->fn(work);
		sm_mutex_lock(&wq->lock);
		/* @work lives on the submitter's stack: not to be touched once done. */
		work->done = true;
		sm_wake_up_all(&wq->cond); /* Pairs with the wait in iommu_wq_run(). */
	}
	sm_mutex_unlock(&wq->lock);
	return NULL;
}

/**
 * iommu_wq_start() - start a work queue thread named "iommu @dev_name @what"
 * Return: 0 or the negative errno of sm_thread_create().
 */
int iommu_wq_start(struct iommu_wq *wq, const char *dev_name, const char *what)
{
	int ret;

	wq->name = what; /* "prq", "dma" */
	sm_mutex_init(&wq->lock, "iommu_wq->lock", LOCK_RANK_WORKQ);
	sm_waitq_init(&wq->cond, "iommu_wq->cond");
	wq->head = NULL;
	wq->tail = &wq->head;
	wq->stopping = false;
	ret = sm_thread_create(&wq->thread, iommu_wq_thread, wq, "iommu %s %s", dev_name, what);
	if (ret) {
		sm_waitq_destroy(&wq->cond);
		sm_mutex_destroy(&wq->lock);
		return ret;
	}
	wq->started = true;
	return 0;
}

/**
 * iommu_wq_run() - execute @work on the queue's thread and wait for it
 *
 * May sleep. Must not be called from the queue's own thread.
 * Return: 0 once @work->fn has run, or -ENODEV if the queue is stopping.
 */
int iommu_wq_run(struct iommu_wq *wq, struct iommu_work *work)
{
	work->done = false;
	work->next = NULL;
	sm_mutex_lock(&wq->lock);
	if (wq->stopping) {
		sm_mutex_unlock(&wq->lock);
		return -ENODEV;
	}
	*wq->tail = work;
	wq->tail = &work->next;
	sm_wake_up_all(&wq->cond); /* Pairs with the wait in iommu_wq_thread(). */
	sm_wait_event(&wq->cond, &wq->lock, work->done);
	sm_mutex_unlock(&wq->lock);
	return 0;
}

/**
 * iommu_wq_stop() - refuse new work, finish what is queued, join the thread
 * May sleep. Must not be called from the queue's own thread.
 */
void iommu_wq_stop(struct iommu_wq *wq)
{
	if (!wq->started)
		return;
	sm_mutex_lock(&wq->lock);
	wq->stopping = true;
	sm_wake_up_all(&wq->cond);
	sm_mutex_unlock(&wq->lock);
	sm_thread_join(&wq->thread);
	sm_waitq_destroy(&wq->cond);
	sm_mutex_destroy(&wq->lock);
	wq->started = false;
}

/* --- one-time setup --------------------------------------------------------- */

static pthread_once_t iommu_once = PTHREAD_ONCE_INIT;

static void iommu_init(void)
{
	iommu_pasid_init();
	iommu_iotlb_init();
	iommu_sva_init();
}

/* Set up the global locks; every entry point that can come first calls it. */
void iommu_core_init(void)
{
	pthread_once(&iommu_once, iommu_init);
}

/* --- the device ---------------------------------------------------------- */

void iommu_device_get(struct iommu_device *dev)
{
	atomic_fetch_add(&dev->refs, 1);
}

/*
 * The last reference frees the structure; the threads were joined by
 * iommu_device_destroy(), which holds a reference until it is done.
 */
void iommu_device_put(struct iommu_device *dev)
{
	if (atomic_fetch_sub(&dev->refs, 1) != 1)
		return;
	WARN_ON(dev->bonds);
	WARN_ON(dev->iotlb_entries);
	sm_mutex_destroy(&dev->lock);
	kfree(dev);
}

struct iommu_device *iommu_device_create(const char *name, unsigned int flags)
{
	struct iommu_device *dev;
	int ret;

	if (flags & ~(IOMMU_DEV_WRONG_MM_USERS | IOMMU_DEV_BROKEN_INVAL))
		return ERR_PTR(-EINVAL);
	iommu_core_init();
	dev = kzalloc(sizeof(*dev));
	if (!dev)
		return ERR_PTR(-ENOMEM);
	snprintf(dev->name, sizeof(dev->name), "%s", name ? name : "iommu");
	dev->flags = flags;
	atomic_init(&dev->refs, 1);
	sm_mutex_init(&dev->lock, "iommu_device->lock", LOCK_RANK_DRIVER_MMU);
	ret = iommu_wq_start(&dev->prq_wq, dev->name, "prq");
	if (ret)
		goto err_free;
	ret = iommu_wq_start(&dev->dma_wq, dev->name, "dma");
	if (ret)
		goto err_stop_prq;
	return dev;

err_stop_prq:
	iommu_wq_stop(&dev->prq_wq);
err_free:
	sm_mutex_destroy(&dev->lock);
	kfree(dev);
	return ERR_PTR(ret == -ENOMEM ? -ENOMEM : -EAGAIN);
}

int iommu_device_destroy(struct iommu_device *dev)
{
	bool busy;

	atomic_store(&dev->dead, true);
	/* The engine first: its current DMA may wait on the fault worker. */
	iommu_wq_stop(&dev->dma_wq);
	iommu_wq_stop(&dev->prq_wq);
	sm_mutex_lock(&dev->lock);
	busy = dev->bonds != NULL;
	sm_mutex_unlock(&dev->lock);
	iommu_device_put(dev); /* Pairs with refs = 1 at create. */
	return busy ? -EBUSY : 0;
}

void iommu_dev_stats(struct iommu_device *dev, struct iommu_stats *st)
{
	iommu_iotlb_lock();
	st->iotlb_entries = dev->iotlb_entries;
	st->iotlb_huge = dev->iotlb_huge;
	iommu_iotlb_unlock();
	st->iotlb_fills = atomic_load(&dev->iotlb_fills);
	st->iotlb_flushes = atomic_load(&dev->iotlb_flushes);
	st->page_requests = atomic_load(&dev->page_requests);
	st->prq_exited = atomic_load(&dev->prq_exited);
	st->pasid_faults = atomic_load(&dev->pasid_faults);
	st->stale = atomic_load(&dev->stale);
	st->perm_fault_loops = atomic_load(&dev->perm_fault_loops);
}

/* --- translation ------------------------------------------------------------ */

/*
 * Walk the shared page table for @addr in @pasid and fill the IOTLB.
 * Return: 0 (filled), -EAGAIN (an invalidation raced: walk again), -ENOENT
 * (no usable PTE: send a page request), -ESRCH (PASID not present or its
 * mm exited), -ENOMEM.
 */
static int dma_walk(struct iommu_device *dev, uint32_t pasid, unsigned long addr, bool write)
{
	struct iommu_sva *bond;
	struct mm_struct *mm;
	unsigned long pfn, seq;
	unsigned int order;
	bool writable;
	uint32_t gen;
	int ret;

	bond = iommu_sva_get_by_pasid(dev, pasid);
	if (!bond || !atomic_load(&bond->present)) {
		atomic_fetch_add(&dev->pasid_faults, 1);
		ret = -ESRCH;
		goto out;
	}
	mm = bond->mm;
	/* mm_users 0: release is running or ran; its page tables are going. */
	if (!mmget_not_zero_tracked(mm, dev, "iommu dma")) {
		atomic_fetch_add(&dev->pasid_faults, 1);
		ret = -ESRCH;
		goto out;
	}
	/* Pairs with the bump under the IOTLB lock in sva.c. */
	seq = atomic_load_explicit(&bond->smm->inv_seq, memory_order_acquire);
	mmap_read_lock(mm);
	/* A huge PMD: the IOTLB caches the whole 2 MiB in one entry. */
	ret = follow_pfn_order(mm, addr, &pfn, &writable, &gen, &order);
	mmap_read_unlock(mm);
	if (ret == -EFAULT || (!ret && write && !writable))
		ret = -ENOENT; /* let the fault handler decide */
	if (!ret) {
		iommu_iotlb_lock();
		if (bond->detached || !atomic_load(&bond->present) ||
		    atomic_load_explicit(&bond->smm->inv_seq, memory_order_relaxed) != seq)
			ret = -EAGAIN;
		else
			ret = iommu_iotlb_insert(
				dev, pasid,
				order ? IOTLB_HUGE_KEY((addr & HPAGE_PMD_MASK) >> PAGE_SHIFT)
				      : addr >> PAGE_SHIFT,
				pfn, gen, writable);
		iommu_iotlb_unlock();
	}
	mmput_tracked(mm, dev, "iommu dma"); /* Pairs with mmget_not_zero(); may be the last. */
out:
	if (bond)
		iommu_sva_bond_put(bond);
	return ret;
}

/* Transfer within one page. Runs on the DMA engine, holding no lock; may sleep. */
static int dma_page(struct iommu_device *dev, uint32_t pasid, unsigned long addr, void *buf,
		    size_t len, bool write)
{
	unsigned long vpn = addr >> PAGE_SHIFT, off = addr & (PAGE_SIZE - 1);
	int perm_faults = 0;

	for (;;) {
		struct iommu_iotlb_entry *e;
		bool perm_fault;
		int ret;

		iommu_iotlb_lock();
		e = iommu_iotlb_lookup(dev, pasid, vpn);
		perm_fault = e && write && !e->write;
		if (e && !perm_fault) {
			unsigned long pfn = e->pfn;
			bool valid;
			char *frame;

			if (IOTLB_KEY_IS_HUGE(e->vpn)) {
				valid = folio_gen_valid(pfn, e->gen, vpn & (IOTLB_HUGE_NR - 1));
				pfn += vpn & (IOTLB_HUGE_NR - 1);
			} else {
				valid = page_gen_valid(pfn, e->gen);
			}
			if (!valid) {
				iommu_iotlb_unlock();
				atomic_fetch_add(&dev->stale, 1);
				phys_report_stale(pfn, "iommu");
				return -EIO;
			}
			frame = (char *)page_address(pfn_to_page(pfn)) + off;
			if (write)
				copy_frame_data(frame, buf, len);
			else
				copy_frame_data(buf, frame, len);
			iommu_iotlb_unlock();
			return 0;
		}
		iommu_iotlb_unlock();

		if (perm_fault) {
			/* No walk: the cached entry answers until it is invalidated. */
			if (++perm_faults > DMA_PERM_FAULTS) {
				atomic_fetch_add(&dev->perm_fault_loops, 1);
				return -EAGAIN;
			}
			ret = -ENOENT;
		} else {
			perm_faults = 0;
			ret = dma_walk(dev, pasid, addr, write);
		}
		if (!ret || ret == -EAGAIN)
			continue;
		if (ret != -ENOENT)
			return ret;
		ret = iommu_iopf_submit(dev, pasid, addr, write);
		if (ret)
			return ret;
	}
}

struct dma_work {
	struct iommu_work work;
	struct iommu_device *dev;
	uint32_t pasid;
	unsigned long addr;
	void *buf;
	size_t len;
	bool write;
	int ret;
};

/* Runs on the DMA engine thread, holding no lock. */
static int dma_chunk(void *ctx, unsigned long addr, void *buf, size_t n)
{
	struct dma_work *req = ctx;

	return dma_page(req->dev, req->pasid, addr, buf, n, req->write);
}

static void dma_execute(struct iommu_work *work)
{
	struct dma_work *req = container_of(work, struct dma_work, work);
	TRACE_SCOPE("iommu", req->write ? "dma_write" : "dma_read",
		    "dev=%s pasid=%u addr=0x%lx len=%zu", req->dev->name, req->pasid, req->addr,
		    req->len);

	req->ret = for_each_page_chunk(req->addr, req->buf, req->len, dma_chunk, req);
}

static int dma_submit(struct iommu_device *dev, uint32_t pasid, unsigned long addr, void *buf,
		      size_t len, bool write)
{
	struct dma_work req = {
		.work.fn = dma_execute,
		.dev = dev,
		.pasid = pasid,
		.addr = addr,
		.buf = buf,
		.len = len,
		.write = write,
	};
	int ret;

	if (atomic_load(&dev->dead))
		return -ENODEV;
	ret = iommu_wq_run(&dev->dma_wq, &req.work);
	return ret ? ret : req.ret;
}

int iommu_dma_read(struct iommu_device *dev, uint32_t pasid, unsigned long addr, void *buf,
		   size_t len)
{
	return dma_submit(dev, pasid, addr, buf, len, false);
}

int iommu_dma_write(struct iommu_device *dev, uint32_t pasid, unsigned long addr, const void *buf,
		    size_t len)
{
	return dma_submit(dev, pasid, addr, (void *)buf, len, true);
}
