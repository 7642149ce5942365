// SPDX-License-Identifier: MIT
/*
 * XPMEM-style cross-address-space attach. See include/secmmu/xpmem.h.
 *
 * THE DESIGN, AND WHY
 *
 * Importer faults. An attachment is a MAP_SHARED VMA of the segment's struct
 * file; its vm_ops->fault resolves the importer page against the exporter:
 * mmget_not_zero(exporter) (-EFAULT once it has exited), then
 * get_user_pages_remote() under the exporter's mmap_lock for read, returning
 * the referenced exporter page as vmf->page; the core installs it in the
 * importer's page table. The fault runs with the IMPORTER's mmap_lock held,
 * and the exporter's has the same rank: taking it normally would be an ABBA
 * between two processes attaching each other (and a lock-order BUG), so it is
 * only ever trylocked -- as XPMEM's fault handler trylocks the segment
 * owner's mmap_sem -- and a failed trylock sleeps until a release of that
 * lock (mmap_lock_wait_released()), then tries again: a wait, not a spin.
 * For the same reason the fault never drops the last exporter mm_users
 * reference itself (that would run the exporter's exit under the importer's
 * mmap_lock): its mmput() is handed to the segment's node thread, which
 * holds no lock (Linux: mmput_async()), and waited for, so that an exit is
 * visible to the very next access.
 *
 * Collision retry. The segment watches the exported range with an interval
 * notifier (it holds the exporter's mm_count, never mm_users). Its sequence
 * is the "seq + in-progress count" of the seed: odd while any invalidation
 * of the range is between start and end. The fault takes
 * mmu_interval_read_begin() (waits out an invalidation in progress), does the
 * GUP, and checks mmu_interval_read_retry() under seg->lock before returning
 * the page; the invalidate callback sets the sequence under seg->lock. An
 * interval notifier is used rather than a classic start/end pair because a
 * non-blockable invalidation must be refusable (-EAGAIN), and a classic
 * subscriber that can fail _start may not implement _end.
 *
 * Zapping the importer. The invalidate callback must have the importer PTEs
 * gone before it returns (the exporter frees the frames right after). It
 * cannot call zap_vma_ptes() itself: that takes the importer mm's rmap_lock,
 * and the callback may run under the exporter's rmap_lock (reclaim and
 * migration rmap walks) -- same rank -- and under seg->lock it would invert
 * DRIVER_MMU > RMAP. So the callback collects nothing but the range under
 * seg->lock, drops it, and hands the zap to the segment's node thread (which
 * holds no lock) and waits for its acknowledgement. The node thread pins each
 * attachment's VMA with att->zap_refs under seg->lock and zaps without it;
 * vm_ops->close marks the attachment closing and waits for zap_refs to drain
 * (it runs without the importer's mmap_lock, or with it, neither of which the
 * node thread ever takes), so a VMA is never zapped after it was freed.
 * When the callback runs on the node thread itself (the node's deferred
 * mmput() was the exporter's last), it zaps inline.
 *
 * Remote mode is the same machinery described honestly: the node thread is
 * the remote node, every invalidation that overlaps an attached segment is a
 * message, the start sleeps until the acknowledgement (seed 004's "needing of
 * schedule in XPMEM code to send the invalidate to the remote node"), and a
 * non-blockable start therefore fails with -EAGAIN. Locally a non-blockable
 * start fails only when an importer PTE may exist (a fault succeeded since
 * the last zap).
 *
 * Locking and references:
 *   seg->lock (LOCK_RANK_DRIVER_MMU) the attachment list, att->populated,
 *       att->zap_refs/closing, seg->removed, seg->faulting; taken in the
 *       invalidate callback around mmu_interval_set_seq() and in the fault
 *       around mmu_interval_read_retry()
 *   seg->qlock (plain mutex, leaf)  the node thread's queue
 *   seg->refs                       one for the maker (until xpmem_remove),
 *                                   one for the struct file (until its last
 *                                   fput: every attachment VMA holds the file)
 *   seg->notifier.mm                mm_count on the exporter
 *
 * The install itself: the core maps vmf->page after ->fault returned,
 * outside seg->lock. A fault whose retry check passed just before an
 * invalidation began could otherwise install its PTE after the zap. So the
 * fault hands its sequence to the core (vmf->interval_sub/seq), which checks
 * it again under the importer's page-table lock: the invalidation bumps the
 * sequence before it zaps, and the zap takes that same lock, so either the
 * install sees the new sequence and is retried, or the zap removes it.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "secmmu/kit/bugs.h"
#include "secmmu/kit/lock.h"
#include "secmmu/kit/alloc.h"
#include "secmmu/kit/thread.h"
#include "secmmu/kit/wait.h"
#include "secmmu/err.h"
#include "secmmu/file.h"
#include "secmmu/gup.h"
#include "secmmu/mmu_notifier.h"
#include "secmmu/trace.h"
#include "secmmu/xpmem.h"

struct xpmem_att {
	struct xpmem_att *next; /* seg->atts, under seg->lock */
	struct xpmem_segment *seg;
	struct vm_area_struct *vma;
	unsigned int zap_refs; /* the node thread is zapping through @vma */
	bool closing;	       /* vm_ops->close began: no new zaps */
	bool populated;	       /* a fault returned a page since the last full zap */
};

struct xpmem_msg {
	struct xpmem_msg *next;
	unsigned long start, end; /* exporter addresses; [0, ~0) for all */
	bool stop;
	bool done;
	bool importer_lock; /* the museum's xpmem-release-mmap-lock: see xpmem_zap() */
};

struct xpmem_segment {
	struct mmu_interval_notifier notifier;
	struct mm_struct *mm;
	unsigned long addr, len;
	unsigned int flags;
	struct file *file;
	_Atomic long refs;

	struct sm_mutex lock;
	struct sm_waitq changed; /* zap_refs or faulting dropped */
	struct xpmem_att *atts;
	unsigned int faulting;
	bool removed;

	struct sm_thread node;
	struct sm_mutex qlock; /* LOCK_RANK_WORKQ: @queue, @qtail, @pending_mmputs */
	struct sm_waitq qcond; /* a message or mmput queued, one acknowledged */
	struct xpmem_msg *queue, **qtail;
	unsigned int pending_mmputs; /* under qlock */
	_Atomic unsigned int ack_delay_us;

	_Atomic unsigned long faults, invalidations, messages, acks, eagain;
};

static const struct vm_operations_struct xpmem_vm_ops;

static void seg_put(struct xpmem_segment *seg)
{
	if (atomic_fetch_sub(&seg->refs, 1) != 1)
		return;
	BUG_ON(seg->atts);
	sm_waitq_destroy(&seg->qcond);
	sm_mutex_destroy(&seg->qlock);
	sm_waitq_destroy(&seg->changed);
	sm_mutex_destroy(&seg->lock);
	kfree(seg);
}

/*
 * Zap the importer PTEs of every attachment that maps exporter addresses in
 * [start, end). Called on the node thread: holding no lock, or (inline, see
 * xpmem_invalidate()) inside the exporter's exit, holding at most the
 * exporter's mmap_lock, which ranks below the importer's rmap_lock.
 * @importer_lock: the museum's xpmem-release-mmap-lock, which takes each
 * importer's mmap_lock around its zap (trylock, then wait for a release:
 * the same rank as a lock the caller may hold).
 */
static void xpmem_zap(struct xpmem_segment *seg, unsigned long start, unsigned long end,
		      bool importer_lock)
{
	struct xpmem_att **list;
	unsigned int n = 0, cap = 0;

	lockdep_assert_not_held(&seg->lock);
	sm_mutex_lock(&seg->lock);
	for (struct xpmem_att *att = seg->atts; att; att = att->next)
		cap++;
	list = kcalloc(cap ? cap : 1, sizeof(*list));
	BUG_ON(!list);
	for (struct xpmem_att *att = seg->atts; att; att = att->next) {
		if (att->closing)
			continue;
		att->zap_refs++; /* Pairs with the wait in xpmem_vm_close(). */
		if (start <= seg->addr && end >= seg->addr + seg->len)
			att->populated = false; /* every PTE of it goes */
		list[n++] = att;
	}
	sm_mutex_unlock(&seg->lock);

	for (unsigned int i = 0; i < n; i++) {
		struct vm_area_struct *vma = list[i]->vma;
		unsigned long base = seg->addr + (vma->vm_pgoff << PAGE_SHIFT);
		unsigned long s = start > base ? start : base;
		unsigned long e = base + (vma->vm_end - vma->vm_start);

		if (end < e)
			e = end;
		if (s >= e || (seg->flags & XPMEM_BROKEN))
			continue;
		if (importer_lock)
			while (!mmap_read_trylock(vma->vm_mm))
				mmap_lock_wait_released(vma->vm_mm);
		zap_vma_ptes(vma, vma->vm_start + (s - base), e - s);
		if (importer_lock)
			mmap_read_unlock(vma->vm_mm);
	}

	sm_mutex_lock(&seg->lock);
	for (unsigned int i = 0; i < n; i++)
		if (--list[i]->zap_refs == 0)
			sm_wake_up_all(&seg->changed);
	sm_mutex_unlock(&seg->lock);
	kfree(list);
}

/* Send a message to the node thread and sleep until it is acknowledged. */
static void node_send(struct xpmem_segment *seg, struct xpmem_msg *msg)
{
	atomic_fetch_add(&seg->messages, 1);
	sm_mutex_lock(&seg->qlock);
	*seg->qtail = msg;
	seg->qtail = &msg->next;
	sm_wake_up_all(&seg->qcond); /* Pairs with the wait in xpmem_node(). */
	sm_wait_event(&seg->qcond, &seg->qlock, msg->done);
	sm_mutex_unlock(&seg->qlock);
}

/* The node thread: deferred mmput()s, then zap messages, in order. */
static void *xpmem_node(void *arg)
{
	struct xpmem_segment *seg = arg;

	for (;;) {
		struct xpmem_msg *msg;
		unsigned int delay;
		bool stop;

		sm_mutex_lock(&seg->qlock);
		sm_wait_event(&seg->qcond, &seg->qlock, seg->queue || seg->pending_mmputs);
		if (seg->pending_mmputs) {
			sm_mutex_unlock(&seg->qlock);
			/* Pairs with mmget_not_zero() in xpmem_fault(). */
			mmput_tracked(seg->mm, seg, "xpmem fault");
			sm_mutex_lock(&seg->qlock);
			/*
			 * Counted down only now that the mmput() ran: a flush that saw
			 * the count reach 0 before (the fault that queued it, then an
			 * exit) found the exporter still alive (xpmem-attach.scn).
			 */
			seg->pending_mmputs--;
			sm_wake_up_all(&seg->qcond); /* Pairs with xpmem_mmput_flush(). */
			sm_mutex_unlock(&seg->qlock);
			continue;
		}
		msg = seg->queue;
		seg->queue = msg->next;
		if (!seg->queue)
			seg->qtail = &seg->queue;
		sm_mutex_unlock(&seg->qlock);

		stop = msg->stop;
		if (!stop)
			xpmem_zap(seg, msg->start, msg->end, msg->importer_lock);
		delay = atomic_load(&seg->ack_delay_us);
		if (delay && !stop)
			sm_delay_us(delay);
		if (!stop)
			atomic_fetch_add(&seg->acks, 1);
		/* @msg lives on the sender's stack: not to be touched once done. */
		sm_mutex_lock(&seg->qlock);
		msg->done = true;
		sm_wake_up_all(&seg->qcond); /* Pairs with the wait in node_send(). */
		sm_mutex_unlock(&seg->qlock);
		if (stop)
			return NULL;
	}
}

/*
 * The exporter's range is about to change. Sets the sequence (faults in
 * flight retry), then has the importer PTEs zapped before returning. Sleeps
 * when the range is blockable; otherwise refuses if it would have to.
 */
static bool xpmem_invalidate(struct mmu_interval_notifier *sub,
			     const struct mmu_notifier_range *range, unsigned long cur_seq)
{
	struct xpmem_segment *seg = container_of(sub, struct xpmem_segment, notifier);
	struct xpmem_msg msg = {.start = range->start, .end = range->end};
	bool need = false;

	/* A sleeping lock: a non-blockable invalidation may only try it. */
	if (mmu_notifier_range_blockable(range)) {
		sm_mutex_lock(&seg->lock);
	} else if (!sm_mutex_trylock(&seg->lock)) {
		atomic_fetch_add(&seg->eagain, 1);
		return false;
	}
	for (struct xpmem_att *att = seg->atts; att; att = att->next)
		if ((seg->flags & XPMEM_REMOTE) || att->populated)
			need = true;
	if (need && !mmu_notifier_range_blockable(range)) {
		sm_mutex_unlock(&seg->lock);
		atomic_fetch_add(&seg->eagain, 1);
		return false; /* the invalidation fails with -EAGAIN: nothing changed */
	}
	/* Pairs with mmu_interval_read_retry() in xpmem_fault(), under the same lock. */
	mmu_interval_set_seq(sub, cur_seq);
	atomic_fetch_add(&seg->invalidations, 1);
	sm_mutex_unlock(&seg->lock);
	if (historic_bug(BUG_XPMEM_RELEASE_MMAP_LOCK) && !mm_users_read(range->mm)) {
		/*
		 * The exporter's teardown (its exit: the release, then the
		 * final unmap under its own mmap_lock) clears the importers'
		 * PTEs itself, under each importer's mmap_lock
		 * (xpmem_mmu_release -> ... -> xpmem_clear_PTEs_range): two
		 * processes attached to each other that exit together wait
		 * for each other's mmap_lock for ever, unkillable.
		 */
		msg.importer_lock = true;
		need = true;
	}
	if (!need)
		return true;
	if (sm_thread_is_current(&seg->node)) {
		/* Our own deferred mmput() is tearing the exporter down. */
		atomic_fetch_add(&seg->messages, 1);
		xpmem_zap(seg, msg.start, msg.end, msg.importer_lock);
		atomic_fetch_add(&seg->acks, 1);
		return true;
	}
	node_send(seg, &msg);
	return true;
}

static const struct mmu_interval_notifier_ops xpmem_notifier_ops = {
	.invalidate = xpmem_invalidate,
};

/* Hand an exporter mm_users reference to the node thread (mmput_async). */
static void xpmem_mmput_async(struct xpmem_segment *seg)
{
	sm_mutex_lock(&seg->qlock);
	seg->pending_mmputs++;
	sm_wake_up_all(&seg->qcond); /* Pairs with the wait in xpmem_node(). */
	sm_mutex_unlock(&seg->qlock);
}

/* Wait until every deferred mmput() has run, so exits are seen in order. */
static void xpmem_mmput_flush(struct xpmem_segment *seg)
{
	sm_mutex_lock(&seg->qlock);
	sm_wait_event(&seg->qcond, &seg->qlock, !seg->pending_mmputs);
	sm_mutex_unlock(&seg->qlock);
}

/*
 * vm_ops->fault of an attachment: the importer's mmap_lock is held for read.
 * Returns the exporter's page (with a reference) for the core to map, or
 * -EFAULT if the exporter has exited, the segment was removed, or the
 * exporter's memory there is itself an XPMEM attachment (no chains).
 */
static int xpmem_fault(struct vm_fault *vmf)
{
	struct xpmem_att *att = vmf->vma->vm_private_data;
	struct xpmem_segment *seg = att->seg;
	bool write = vmf->vma->vm_flags & VM_WRITE;
	unsigned long eaddr;
	int ret = -EAGAIN;

	if (vmf->pgoff >= seg->len >> PAGE_SHIFT)
		return -EFAULT;
	eaddr = seg->addr + (vmf->pgoff << PAGE_SHIFT);
	sm_mutex_lock(&seg->lock);
	if (seg->removed) {
		sm_mutex_unlock(&seg->lock);
		return -EFAULT;
	}
	seg->faulting++; /* Pairs with the wait in xpmem_remove(). */
	sm_mutex_unlock(&seg->lock);

	xpmem_mmput_flush(seg);
	if (!mmget_not_zero_tracked(seg->mm, seg, "xpmem fault")) {
		ret = -EFAULT; /* the exporter has exited */
		goto out;
	}
	/* A retry follows an invalidation, which read_begin waits for: no count. */
	for (;;) {
		unsigned long seq = mmu_interval_read_begin(&seg->notifier);
		struct vm_area_struct *evma;
		struct page *page;
		long n;

		/* Not mmap_read_lock(): the importer's is held, same rank. */
		while (!mmap_read_trylock(seg->mm))
			mmap_lock_wait_released(seg->mm);
		evma = vma_lookup(seg->mm, eaddr);
		/*
		 * The exporter's memory there is itself an attachment (a segment
		 * made over one): refused, as a chain could lead back to the
		 * importer, whose mmap_lock this thread holds (a recursion).
		 */
		if (evma && evma->vm_ops == &xpmem_vm_ops)
			n = -EFAULT;
		else
			n = get_user_pages_remote(seg->mm, eaddr, 1, write ? FOLL_WRITE : 0, &page);
		mmap_read_unlock(seg->mm);
		if (n <= 0) {
			ret = n ? (int)n : -EFAULT;
			break;
		}
		sm_mutex_lock(&seg->lock);
		if (mmu_interval_read_retry(&seg->notifier, seq)) {
			sm_mutex_unlock(&seg->lock);
			put_page(page); /* Pairs with get_user_pages_remote(). */
			ret = -EAGAIN;
			continue;
		}
		att->populated = true;
		sm_mutex_unlock(&seg->lock);
		atomic_fetch_add(&seg->faults, 1);
		vmf->page = page; /* its reference goes to the importer PTE */
		/* The core re-checks under the importer's PTL, after which the zap can see it. */
		vmf->interval_sub = &seg->notifier;
		vmf->interval_seq = seq;
		ret = 0;
		break;
	}
	/*
	 * Wait for it too: a later access must find the exporter exited if this
	 * was its last user. The node thread never takes the importer's
	 * mmap_lock, so waiting for it here (holding that lock) is safe.
	 */
	xpmem_mmput_async(seg);
	xpmem_mmput_flush(seg);
out:
	sm_mutex_lock(&seg->lock);
	if (--seg->faulting == 0)
		sm_wake_up_all(&seg->changed);
	sm_mutex_unlock(&seg->lock);
	return ret == -EAGAIN ? -EFAULT : ret;
}

static struct xpmem_att *att_new(struct xpmem_segment *seg, struct vm_area_struct *vma)
{
	struct xpmem_att *att = kzalloc(sizeof(*att));

	if (!att)
		return NULL;
	att->seg = seg;
	att->vma = vma;
	sm_mutex_lock(&seg->lock);
	att->next = seg->atts;
	seg->atts = att;
	sm_mutex_unlock(&seg->lock);
	vma->vm_private_data = att;
	return att;
}

/* A VMA of an attachment was duplicated (split, mremap): it gets its own attachment. */
static void xpmem_vm_open(struct vm_area_struct *vma)
{
	struct xpmem_att *old = vma->vm_private_data;

	/* ->open may not fail; a 48-byte allocation failing here is fatal. */
	BUG_ON(!att_new(old->seg, vma));
}

/* The VMA goes away: wait for the node thread to be done with it, then forget it. */
static void xpmem_vm_close(struct vm_area_struct *vma)
{
	struct xpmem_att *att = vma->vm_private_data, **pp;
	struct xpmem_segment *seg = att->seg;

	sm_mutex_lock(&seg->lock);
	att->closing = true;
	while (att->zap_refs)
		sm_wait(&seg->changed, &seg->lock); /* Pairs with xpmem_zap(). */
	for (pp = &seg->atts; *pp != att; pp = &(*pp)->next)
		;
	*pp = att->next;
	sm_mutex_unlock(&seg->lock);
	kfree(att);
}

static const struct vm_operations_struct xpmem_vm_ops = {
	.open = xpmem_vm_open,
	.close = xpmem_vm_close,
	.fault = xpmem_fault,
	.name = "xpmem",
};

/* f_op->mmap: importer mmap_lock held for write. */
static int xpmem_file_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct xpmem_segment *seg = file->private_data;
	bool removed;

	sm_mutex_lock(&seg->lock);
	removed = seg->removed;
	sm_mutex_unlock(&seg->lock);
	if (removed)
		return -ENODEV;
	if (vma->vm_pgoff + ((vma->vm_end - vma->vm_start) >> PAGE_SHIFT) > seg->len >> PAGE_SHIFT)
		return -EINVAL;
	vma->vm_flags |= VM_DONTCOPY;
	vma->vm_ops = &xpmem_vm_ops;
	return att_new(seg, vma) ? 0 : -ENOMEM;
}

static int xpmem_file_release(struct file *file)
{
	seg_put(file->private_data); /* Pairs with the file's reference in xpmem_make(). */
	return 0;
}

static const struct file_operations xpmem_fops = {
	.name = "xpmem",
	.release = xpmem_file_release,
	.mmap = xpmem_file_mmap,
};

struct xpmem_segment *xpmem_make(struct mm_struct *mm, unsigned long addr, unsigned long len,
				 unsigned int flags)
{
	return xpmem_make_named(mm, addr, len, flags, NULL);
}

struct xpmem_segment *xpmem_make_named(struct mm_struct *mm, unsigned long addr, unsigned long len,
				       unsigned int flags, const char *name)
{
	struct xpmem_segment *seg;
	int ret;

	if ((flags & ~(XPMEM_REMOTE | XPMEM_BROKEN)) || !len || !PAGE_ALIGNED(addr) ||
	    !PAGE_ALIGNED(len) || addr + len < addr || addr + len > TASK_SIZE)
		return ERR_PTR(-EINVAL);
	seg = kzalloc(sizeof(*seg));
	if (!seg)
		return ERR_PTR(-ENOMEM);
	seg->mm = mm;
	seg->addr = addr;
	seg->len = len;
	seg->flags = flags;
	atomic_init(&seg->refs, 2); /* the maker and the file */
	sm_mutex_init(&seg->lock, "xpmem seg->lock", LOCK_RANK_DRIVER_MMU);
	sm_waitq_init(&seg->changed, "xpmem seg->changed");
	sm_mutex_init(&seg->qlock, "xpmem seg->qlock", LOCK_RANK_WORKQ);
	sm_waitq_init(&seg->qcond, "xpmem seg->qcond");
	seg->qtail = &seg->queue;
	ret = -ENOMEM;
	seg->file = file_alloc(&xpmem_fops, seg);
	if (!seg->file)
		goto err_free;
	ret = sm_thread_create(&seg->node, xpmem_node, seg, "xpmem%s%s node", name ? " " : "",
			       name ? name : "");
	if (ret)
		goto err_file;
	mmu_interval_notifier_set_owner(&seg->notifier, seg);
	ret = mmu_interval_notifier_insert(&seg->notifier, mm, addr, len, &xpmem_notifier_ops);
	if (ret)
		goto err_stop;
	return seg;

err_stop : {
	struct xpmem_msg stop = {.stop = true};

	node_send(seg, &stop);
	sm_thread_join(&seg->node);
}
err_file:
	fput(seg->file); /* drops the file's segment reference */
err_free:
	atomic_store(&seg->refs, 1);
	seg_put(seg);
	return ERR_PTR(ret);
}

int xpmem_attach(struct xpmem_segment *seg, struct mm_struct *mm, unsigned long addr)
{
	long ret;

	if (mm == seg->mm || !PAGE_ALIGNED(addr))
		return -EINVAL;
	ret = mm_mmap(mm, addr, seg->len, PROT_READ | PROT_WRITE, MAP_SHARED, seg->file, 0);
	return ret < 0 ? (int)ret : 0;
}

int xpmem_detach(struct mm_struct *mm, unsigned long addr)
{
	struct vm_area_struct *vma;
	unsigned long len;

	mmap_read_lock(mm);
	vma = vma_lookup(mm, addr);
	if (!vma || vma->vm_ops != &xpmem_vm_ops || vma->vm_start != addr) {
		mmap_read_unlock(mm);
		return -EINVAL;
	}
	len = vma->vm_end - vma->vm_start;
	mmap_read_unlock(mm);
	return mm_munmap(mm, addr, len);
}

void xpmem_remove(struct xpmem_segment *seg)
{
	struct xpmem_msg all = {.start = 0, .end = ~0UL}, stop = {.stop = true};

	sm_mutex_lock(&seg->lock);
	seg->removed = true; /* faults from now on: -EFAULT */
	while (seg->faulting)
		sm_wait(&seg->changed, &seg->lock);
	sm_mutex_unlock(&seg->lock);
	/* Waits for a running invalidate callback; none comes after it. Drops mm_count. */
	mmu_interval_notifier_remove(&seg->notifier);
	/* Tear the attachments down: no importer PTE survives the segment. */
	node_send(seg, &all);
	node_send(seg, &stop); /* the node drains deferred mmput()s first */
	sm_thread_join(&seg->node);
	fput(seg->file); /* attachment VMAs keep their own references */
	seg_put(seg);	 /* Pairs with the maker's reference. */
}

void xpmem_get_stats(struct xpmem_segment *seg, struct xpmem_stats *st)
{
	memset(st, 0, sizeof(*st));
	sm_mutex_lock(&seg->lock);
	for (struct xpmem_att *att = seg->atts; att; att = att->next)
		st->attached++;
	sm_mutex_unlock(&seg->lock);
	st->faults = atomic_load(&seg->faults);
	st->invalidations = atomic_load(&seg->invalidations);
	st->messages = atomic_load(&seg->messages);
	st->acks = atomic_load(&seg->acks);
	st->eagain = atomic_load(&seg->eagain);
}

void xpmem_set_ack_delay(struct xpmem_segment *seg, unsigned int usec)
{
	atomic_store(&seg->ack_delay_us, usec);
}
