// SPDX-License-Identifier: MIT
/*
 * The mirroring device. See include/secmmu/mirror.h.
 *
 * Locking and references:
 *   m->lock (LOCK_RANK_DRIVER_MMU)   the device page table (m->table,
 *                                    m->nr_entries); taken by the invalidate
 *                                    callback around mmu_interval_set_seq()
 *                                    and by the fault path around
 *                                    mmu_interval_read_retry(): the
 *                                    collision-retry pair
 *   m->notifier.mm                   mm_count, held by the inserted notifier
 *   DMA                              mmget_not_zero() for faults only; a
 *                                    transfer through an installed entry
 *                                    holds m->lock across the memcpy, so the
 *                                    invalidation (and the frame's free,
 *                                    which comes after it) waits for it
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "base/lock.h"
#include "base/alloc.h"
#include "base/thread.h"
#include "base/wait.h"
#include "secmmu/err.h"
#include "secmmu/hmm.h"
#include "secmmu/mirror.h"
#include "secmmu/mmu_notifier.h"
#include "secmmu/trace.h"

#define MIRROR_BUCKETS	     4096
#define MIRROR_FAULT_RETRIES 10000

struct mirror_entry {
	struct mirror_entry *next;
	unsigned long vpn;
	unsigned long pfn;
	uint32_t gen;
	bool write;
	bool accessed; /* the device used it since the last aging pass */
};

enum dma_op {
	DMA_READ,
	DMA_WRITE,
	DMA_STOP
};

struct dma_request {
	enum dma_op op;
	unsigned long addr;
	void *buf;
	size_t len;
	int ret;
	_Atomic bool done;
	struct dma_request *next;
};

struct mirror {
	struct mmu_interval_notifier notifier;
	struct mmu_notifier aging; /* classic subscription for the young callbacks only */
	unsigned int flags;
	struct sm_mutex lock;
	struct mirror_entry *table[MIRROR_BUCKETS];
	unsigned long nr_entries;
	_Atomic unsigned long nr_invalidations;
	_Atomic unsigned long nr_stale;

	struct sm_thread engine;
	struct sm_mutex qlock; /* LOCK_RANK_WORKQ: @queue, @qtail */
	struct sm_waitq qcond; /* a request queued or done */
	struct dma_request *queue, **qtail;
	_Atomic unsigned int pending; /* queued requests: a hint for spinning */
	struct mirror *live_next;     /* mirror_live; under mirror_live_lock */
};

/*
 * Every created, not yet destroyed device, under mirror_live_lock (a leaf):
 * mirror_destroy() recognises a device destroyed already without touching it.
 */
static struct mirror *mirror_live;
static struct sm_mutex mirror_live_lock;
static pthread_once_t mirror_live_once = PTHREAD_ONCE_INIT;

static void mirror_live_init(void)
{
	sm_mutex_init(&mirror_live_lock, "mirror_live_lock", LOCK_RANK_LEAF);
}

static void mirror_live_add(struct mirror *m)
{
	pthread_once(&mirror_live_once, mirror_live_init);
	sm_mutex_lock(&mirror_live_lock);
	m->live_next = mirror_live;
	mirror_live = m;
	sm_mutex_unlock(&mirror_live_lock);
}

/* Return: true if @m was live (and is now off the list). */
static bool mirror_live_del(struct mirror *m)
{
	struct mirror **pp;
	bool found;

	pthread_once(&mirror_live_once, mirror_live_init);
	sm_mutex_lock(&mirror_live_lock);
	for (pp = &mirror_live; *pp && *pp != m; pp = &(*pp)->live_next)
		;
	found = *pp != NULL;
	if (found)
		*pp = m->live_next;
	sm_mutex_unlock(&mirror_live_lock);
	return found;
}

/*
 * Hand-offs between a submitter and the engine spin a little before they
 * sleep: a condition-variable wake-up costs tens of microseconds, more than
 * a megabyte of DMA, and back-to-back requests are the common case.
 */
#define MIRROR_SPIN 4000

static void cpu_relax(void)
{
	__builtin_ia32_pause();
}

static unsigned long bucket_of(unsigned long vpn)
{
	return (vpn * 0x9e3779b97f4a7c15ULL) >> 52;
}

static struct mirror_entry *table_find(struct mirror *m, unsigned long vpn)
{
	struct mirror_entry *e;

	lockdep_assert_held(&m->lock);
	for (e = m->table[bucket_of(vpn)]; e; e = e->next)
		if (e->vpn == vpn)
			return e;
	return NULL;
}

static void table_remove_vpn(struct mirror *m, unsigned long vpn)
{
	struct mirror_entry **pp = &m->table[bucket_of(vpn)], *e;

	for (; (e = *pp); pp = &e->next) {
		if (e->vpn == vpn) {
			*pp = e->next;
			kfree(e);
			m->nr_entries--;
			return;
		}
	}
}

/* Drop every translation of [start, end). Caller holds m->lock. */
static void table_zap(struct mirror *m, unsigned long start, unsigned long end)
{
	unsigned long svpn = start >> PAGE_SHIFT, evpn = (end - 1) >> PAGE_SHIFT;

	lockdep_assert_held(&m->lock);
	if (!m->nr_entries)
		return;
	if (evpn - svpn < MIRROR_BUCKETS) {
		for (unsigned long v = svpn; v <= evpn; v++)
			table_remove_vpn(m, v);
		return;
	}
	for (int b = 0; b < MIRROR_BUCKETS; b++) {
		struct mirror_entry **pp = &m->table[b], *e;

		while ((e = *pp)) {
			if (e->vpn >= svpn && e->vpn <= evpn) {
				*pp = e->next;
				kfree(e);
				m->nr_entries--;
			} else {
				pp = &e->next;
			}
		}
	}
}

static int table_install(struct mirror *m, unsigned long vpn, unsigned long hmm_pfn, uint32_t gen)
{
	struct mirror_entry *e = table_find(m, vpn);

	if (!e) {
		e = kzalloc(sizeof(*e));
		if (!e)
			return -ENOMEM;
		e->vpn = vpn;
		e->next = m->table[bucket_of(vpn)];
		m->table[bucket_of(vpn)] = e;
		m->nr_entries++;
	}
	e->pfn = hmm_pfn_to_pfn(hmm_pfn);
	e->write = hmm_pfn & HMM_PFN_WRITE;
	e->gen = gen;
	return 0;
}

/*
 * The invalidate callback. May sleep when the range is blockable; otherwise
 * it only trylocks and reports failure rather than wait.
 */
static bool mirror_invalidate(struct mmu_interval_notifier *sub,
			      const struct mmu_notifier_range *range, unsigned long cur_seq)
{
	struct mirror *m = container_of(sub, struct mirror, notifier);

	if (mmu_notifier_range_blockable(range))
		sm_mutex_lock(&m->lock);
	else if (!sm_mutex_trylock(&m->lock))
		return false;
	/* Pairs with mmu_interval_read_retry() in mirror_fault(), under the same lock. */
	mmu_interval_set_seq(sub, cur_seq);
	atomic_fetch_add(&m->nr_invalidations, 1);
	if (!(m->flags & MIRROR_BROKEN))
		table_zap(m, range->start, range->end);
	sm_mutex_unlock(&m->lock);
	return true;
}

static const struct mmu_interval_notifier_ops mirror_notifier_ops = {
	.invalidate = mirror_invalidate,
};

/* Accessed bits of [start, end), cleared if @clear. Return: how many were set. */
static int mirror_age(struct mirror *m, unsigned long start, unsigned long end, bool clear)
{
	int young = 0;

	sm_mutex_lock(&m->lock);
	for (unsigned long v = start >> PAGE_SHIFT; v <= (end - 1) >> PAGE_SHIFT; v++) {
		struct mirror_entry *e = table_find(m, v);

		if (e && e->accessed) {
			young++;
			if (clear)
				e->accessed = false;
		}
	}
	sm_mutex_unlock(&m->lock);
	return young;
}

/*
 * Aging callbacks: reclaim asks whether the device used a page lately, so a
 * page the device keeps using is not evicted under it. They take m->lock
 * briefly and never wait for anything else.
 */
static int mirror_clear_flush_young(struct mmu_notifier *mn, struct mm_struct *mm,
				    unsigned long start, unsigned long end)
{
	(void)mm;
	return mirror_age(container_of(mn, struct mirror, aging), start, end, true);
}

static int mirror_test_young(struct mmu_notifier *mn, struct mm_struct *mm, unsigned long addr)
{
	(void)mm;
	return mirror_age(container_of(mn, struct mirror, aging), addr, addr + PAGE_SIZE, false);
}

static const struct mmu_notifier_ops mirror_aging_ops = {
	.clear_flush_young = mirror_clear_flush_young,
	.clear_young = mirror_clear_flush_young,
	.test_young = mirror_test_young,
};

/* A device page fault: fill the translation of @addr through hmm_range_fault(). */
static int mirror_fault(struct mirror *m, unsigned long addr, bool write)
{
	struct mm_struct *mm = m->notifier.mm;
	unsigned long hmm_pfn;
	uint32_t gen;
	struct hmm_range range = {
		.notifier = &m->notifier,
		.start = addr,
		.end = addr + PAGE_SIZE,
		.hmm_pfns = &hmm_pfn,
		.hmm_gens = &gen,
		.default_flags = HMM_PFN_REQ_FAULT | (write ? HMM_PFN_REQ_WRITE : 0),
	};
	int ret;
	TRACE_SCOPE("mirror", "device_fault", "addr=0x%lx write=%d", addr, write);

	if (!mmget_not_zero(mm))
		return -ESRCH; /* the address space has exited */
	for (int tries = 0; tries < MIRROR_FAULT_RETRIES; tries++) {
		range.notifier_seq = mmu_interval_read_begin(&m->notifier);
		hmm_pfn = 0;
		mmap_read_lock(mm);
		ret = hmm_range_fault(&range);
		mmap_read_unlock(mm);
		if (ret == -EBUSY)
			continue;
		if (ret)
			break;
		sm_mutex_lock(&m->lock);
		if (mmu_interval_read_retry(&m->notifier, range.notifier_seq)) {
			sm_mutex_unlock(&m->lock);
			continue;
		}
		ret = table_install(m, addr >> PAGE_SHIFT, hmm_pfn, gen);
		sm_mutex_unlock(&m->lock);
		break;
	}
	mmput(mm); /* Pairs with mmget_not_zero() above. */
	return ret == -EBUSY ? -EAGAIN : ret;
}

/*
 * Copy through the installed translation of @addr, if there is a usable one.
 * Caller holds m->lock (so an invalidation of the page waits for the copy).
 * Return: 0 copied, -ENOENT no usable translation, -EIO stale translation.
 */
static int mirror_copy_locked(struct mirror *m, unsigned long addr, void *buf, size_t len,
			      bool write)
{
	struct mirror_entry *e = table_find(m, addr >> PAGE_SHIFT);
	char *frame;

	if (!e || (write && !e->write))
		return -ENOENT;
	if (!page_gen_valid(e->pfn, e->gen)) {
		atomic_fetch_add(&m->nr_stale, 1);
		phys_report_stale(e->pfn, "mirror");
		return -EIO;
	}
	frame = (char *)page_address(pfn_to_page(e->pfn)) + (addr & (PAGE_SIZE - 1));
	if (write)
		copy_frame_data(frame, buf, len);
	else
		copy_frame_data(buf, frame, len);
	e->accessed = true;
	return 0;
}

/*
 * The transfer, page by page under one hold of m->lock for as long as the
 * translations are there; a missing one is faulted in with the lock dropped.
 */
static int mirror_dma(struct mirror *m, unsigned long addr, void *buf, size_t len, bool write)
{
	int ret = 0, faults = 0;
	TRACE_SCOPE("mirror", write ? "dma_write" : "dma_read", "addr=0x%lx len=%zu", addr, len);

	if (addr + len < addr || addr + len > TASK_SIZE)
		return -EFAULT;
	sm_mutex_lock(&m->lock);
	while (len) {
		size_t chunk = PAGE_SIZE - (addr & (PAGE_SIZE - 1));

		if (chunk > len)
			chunk = len;
		ret = mirror_copy_locked(m, addr, buf, chunk, write);
		if (ret == -ENOENT) {
			sm_mutex_unlock(&m->lock);
			ret = faults++ < MIRROR_FAULT_RETRIES
				      ? mirror_fault(m, addr & PAGE_MASK, write)
				      : -EAGAIN;
			sm_mutex_lock(&m->lock);
			if (ret && ret != -EAGAIN)
				break;
			if (faults > MIRROR_FAULT_RETRIES)
				break;
			continue; /* retry the copy of this page */
		}
		if (ret)
			break;
		faults = 0;
		addr += chunk;
		buf = (char *)buf + chunk;
		len -= chunk;
	}
	sm_mutex_unlock(&m->lock);
	return ret;
}

/* The DMA engine: a real thread executing queued transfers in order. */
static void *mirror_engine(void *arg)
{
	struct mirror *m = arg;

	for (;;) {
		struct dma_request *req;
		enum dma_op op;

		for (int spin = 0; sm_may_spin() && spin < MIRROR_SPIN && !atomic_load(&m->pending);
		     spin++)
			cpu_relax();
		sm_mutex_lock(&m->qlock);
		sm_wait_event(&m->qcond, &m->qlock, m->queue);
		req = m->queue;
		m->queue = req->next;
		if (!m->queue)
			m->qtail = &m->queue;
		atomic_fetch_sub(&m->pending, 1);
		sm_mutex_unlock(&m->qlock);

		op = req->op;
		if (op == DMA_STOP)
			req->ret = 0;
		else
			req->ret = mirror_dma(m, req->addr, req->buf, req->len, op == DMA_WRITE);
		/* @req lives on the submitter's stack: not to be touched once done. */
		sm_mutex_lock(&m->qlock);
		atomic_store_explicit(&req->done, true, memory_order_release);
		sm_wake_up_all(&m->qcond); /* Pairs with the wait in mirror_submit(). */
		sm_mutex_unlock(&m->qlock);
		if (op == DMA_STOP)
			return NULL;
	}
}

static int mirror_submit(struct mirror *m, enum dma_op op, unsigned long addr, void *buf,
			 size_t len)
{
	struct dma_request req = {.op = op, .addr = addr, .buf = buf, .len = len};

	sm_mutex_lock(&m->qlock);
	*m->qtail = &req;
	m->qtail = &req.next;
	atomic_fetch_add(&m->pending, 1);
	sm_wake_up_all(&m->qcond); /* Pairs with the wait in mirror_engine(). */
	sm_mutex_unlock(&m->qlock);
	/* Pairs with the release store of done by the engine: req.ret is visible. */
	for (int spin = 0; sm_may_spin() && spin < MIRROR_SPIN; spin++) {
		if (atomic_load_explicit(&req.done, memory_order_acquire))
			return req.ret;
		cpu_relax();
	}
	sm_mutex_lock(&m->qlock);
	sm_wait_event(&m->qcond, &m->qlock, atomic_load(&req.done));
	sm_mutex_unlock(&m->qlock);
	return req.ret;
}

int mirror_read(struct mirror *m, unsigned long addr, void *buf, size_t len)
{
	return mirror_submit(m, DMA_READ, addr, buf, len);
}

int mirror_write(struct mirror *m, unsigned long addr, const void *buf, size_t len)
{
	return mirror_submit(m, DMA_WRITE, addr, (void *)buf, len);
}

struct mirror *mirror_create(struct mm_struct *mm, unsigned int flags)
{
	struct mirror *m;
	int ret;

	if (flags & ~MIRROR_BROKEN)
		return ERR_PTR(-EINVAL);
	m = kzalloc(sizeof(*m));
	if (!m)
		return ERR_PTR(-ENOMEM);
	m->flags = flags;
	sm_mutex_init(&m->lock, "mirror->lock", LOCK_RANK_DRIVER_MMU);
	sm_mutex_init(&m->qlock, "mirror->qlock", LOCK_RANK_WORKQ);
	sm_waitq_init(&m->qcond, "mirror->qcond");
	m->qtail = &m->queue;
	ret = mmu_interval_notifier_insert(&m->notifier, mm, MMAP_MIN_ADDR,
					   TASK_SIZE - MMAP_MIN_ADDR, &mirror_notifier_ops);
	if (ret)
		goto err_free;
	m->aging.ops = &mirror_aging_ops;
	ret = mmu_notifier_register(&m->aging, mm);
	if (ret)
		goto err_remove;
	ret = sm_thread_create(&m->engine, mirror_engine, m, "mirror dma (mm %lu)", mm_id(mm));
	if (ret)
		goto err_unregister;
	mirror_live_add(m);
	return m;

err_unregister:
	mmu_notifier_unregister(&m->aging, mm);
err_remove:
	mmu_interval_notifier_remove(&m->notifier);
err_free:
	sm_waitq_destroy(&m->qcond);
	sm_mutex_destroy(&m->qlock);
	sm_mutex_destroy(&m->lock);
	kfree(m);
	return ERR_PTR(ret);
}

void mirror_destroy(struct mirror *m)
{
	/* API misuse: destroyed already (or never created): @m may be freed. */
	if (WARN_ON_ONCE(!m || !mirror_live_del(m)))
		return;
	mirror_submit(m, DMA_STOP, 0, NULL, 0);
	sm_thread_join(&m->engine);
	mmu_notifier_unregister(&m->aging, m->notifier.mm);
	/* Waits for a running invalidate callback; none comes after it. */
	mmu_interval_notifier_remove(&m->notifier);
	sm_mutex_lock(&m->lock);
	table_zap(m, 0, ~0UL);
	sm_mutex_unlock(&m->lock);
	sm_waitq_destroy(&m->qcond);
	sm_mutex_destroy(&m->qlock);
	sm_mutex_destroy(&m->lock);
	kfree(m);
}

unsigned long mirror_nr_entries(struct mirror *m)
{
	unsigned long n;

	sm_mutex_lock(&m->lock);
	n = m->nr_entries;
	sm_mutex_unlock(&m->lock);
	return n;
}

unsigned long mirror_nr_invalidations(struct mirror *m)
{
	return atomic_load(&m->nr_invalidations);
}

unsigned long mirror_nr_stale(struct mirror *m)
{
	return atomic_load(&m->nr_stale);
}
