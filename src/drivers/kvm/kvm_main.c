// SPDX-License-Identifier: MIT
/*
 * VMs and vCPUs (see include/secmmu/kvm.h): creation and teardown, the vCPU
 * threads and their request queues, guest reads and writes, and the
 * checked random workload with its shadow copy of guest memory. The shadow
 * MMU itself is in mmu.c; locking in kvm_internal.h.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drivers/kvm/kvm_internal.h"
#include "secmmu/kit/alloc.h"
#include "secmmu/err.h"
#include "secmmu/trace.h"

#define KVM_RUN_MAX_REGIONS 64
#define KVM_RUN_MAX_ACCESS  64

enum vcpu_op {
	VCPU_READ,
	VCPU_WRITE,
	VCPU_RUN,
	VCPU_STOP
};

struct vcpu_request {
	enum vcpu_op op;
	unsigned long gpa;
	void *buf;
	size_t len;
	unsigned long n, seed; /* VCPU_RUN */
	int ret;
	bool done;
	struct vcpu_request *next;
};

struct kvm_vcpu {
	struct kvm *kvm;
	struct sm_thread thread;
	struct sm_mutex qlock; /* LOCK_RANK_WORKQ: @queue, @qtail, requests' done */
	struct sm_waitq qcond; /* a request queued or done */
	struct vcpu_request *queue, **qtail;
};

/* --- the shadow copy (the workload's oracle) ---------------------------- */

static unsigned long shadow_bucket(unsigned long gfn)
{
	return (gfn * 0x9e3779b97f4a7c15ULL) >> 54;
}

/* Caller holds shadow_lock. */
static struct kvm_shadow_page *shadow_find(struct kvm *kvm, unsigned long gfn)
{
	struct kvm_shadow_page *sp;

	lockdep_assert_held(&kvm->shadow_lock);
	for (sp = kvm->shadow[shadow_bucket(gfn)]; sp; sp = sp->next)
		if (sp->gfn == gfn)
			return sp;
	return NULL;
}

/* Caller holds shadow_lock. */
static void shadow_forget_locked(struct kvm *kvm, unsigned long sgfn, unsigned long egfn)
{
	lockdep_assert_held(&kvm->shadow_lock);
	for (int b = 0; b < KVM_SHADOW_BUCKETS; b++) {
		struct kvm_shadow_page **pp = &kvm->shadow[b], *sp;

		while ((sp = *pp)) {
			if (sp->gfn >= sgfn && sp->gfn < egfn) {
				*pp = sp->next;
				kfree(sp);
			} else {
				pp = &sp->next;
			}
		}
	}
}

/*
 * kvm_shadow_forget() - guest memory [start, end) went away (an UNMAP or
 * RELEASE invalidation): what the guest wrote there is no longer expected.
 * Called from the invalidate callback; takes only shadow_lock (a leaf).
 */
void kvm_shadow_forget(struct kvm *kvm, unsigned long start, unsigned long end)
{
	sm_mutex_lock(&kvm->shadow_lock);
	shadow_forget_locked(kvm, start >> PAGE_SHIFT, (end + PAGE_SIZE - 1) >> PAGE_SHIFT);
	sm_mutex_unlock(&kvm->shadow_lock);
}

/**
 * kvm_shadow_unlink() - the frames behind guest memory [start, end) may
 * change (an invalidation that keeps the memory): what the guest wrote there
 * stays expected, but no longer through aliases. Called from the invalidate
 * callback; takes only shadow_lock (a leaf).
 */
void kvm_shadow_unlink(struct kvm *kvm, unsigned long start, unsigned long end)
{
	unsigned long sgfn = start >> PAGE_SHIFT, egfn = (end + PAGE_SIZE - 1) >> PAGE_SHIFT;

	sm_mutex_lock(&kvm->shadow_lock);
	for (int b = 0; b < KVM_SHADOW_BUCKETS; b++)
		for (struct kvm_shadow_page *sp = kvm->shadow[b]; sp; sp = sp->next)
			if (sp->gfn >= sgfn && sp->gfn < egfn)
				sp->pfn = 0;
	sm_mutex_unlock(&kvm->shadow_lock);
}

/*
 * Record the guest's view of [gpa, gpa+len) of a known page (or learn the
 * whole page), reached through host frame @pfn (0: unknown). A write is seen
 * through every alias: the known pages last reached through the same frame.
 */
static int shadow_record(struct kvm *kvm, unsigned long gpa, const void *buf, size_t len,
			 bool learn, unsigned long pfn)
{
	unsigned long gfn = gpa >> PAGE_SHIFT, off = gpa & (PAGE_SIZE - 1);
	struct kvm_shadow_page *sp;
	int ret = 0;

	sm_mutex_lock(&kvm->shadow_lock);
	sp = shadow_find(kvm, gfn);
	if (!sp && learn) {
		sp = kzalloc(sizeof(*sp));
		if (!sp) {
			ret = -ENOMEM;
			goto out;
		}
		sp->gfn = gfn;
		sp->next = kvm->shadow[shadow_bucket(gfn)];
		kvm->shadow[shadow_bucket(gfn)] = sp;
	}
	if (sp) {
		memcpy(sp->data + off, buf, len);
		sp->pfn = pfn;
	}
	if (!learn && pfn)
		for (int b = 0; b < KVM_SHADOW_BUCKETS; b++)
			for (struct kvm_shadow_page *a = kvm->shadow[b]; a; a = a->next)
				if (a != sp && a->pfn == pfn)
					memcpy(a->data + off, buf, len);
out:
	sm_mutex_unlock(&kvm->shadow_lock);
	return ret;
}

/*
 * Return: 1 if the page is known and [gpa, gpa+len) matches @buf, 0 if it
 * differs, -ENOENT. A known page is linked to @pfn (0: unknown), the frame
 * the read went through.
 */
static int shadow_compare(struct kvm *kvm, unsigned long gpa, const void *buf, size_t len,
			  unsigned long pfn)
{
	struct kvm_shadow_page *sp;
	int ret;

	sm_mutex_lock(&kvm->shadow_lock);
	sp = shadow_find(kvm, gpa >> PAGE_SHIFT);
	if (!sp) {
		ret = -ENOENT;
	} else {
		ret = !memcmp(sp->data + (gpa & (PAGE_SIZE - 1)), buf, len);
		if (pfn)
			sp->pfn = pfn;
	}
	sm_mutex_unlock(&kvm->shadow_lock);
	return ret;
}

/* --- guest accesses ----------------------------------------------------- */

static int guest_access(struct kvm *kvm, unsigned long gpa, void *buf, size_t len, bool write)
{
	if (gpa + len < gpa || gpa + len > TASK_SIZE)
		return -EFAULT;
	while (len) {
		size_t chunk = PAGE_SIZE - (gpa & (PAGE_SIZE - 1));
		int ret;

		if (chunk > len)
			chunk = len;
		unsigned long pfn = 0;

		ret = kvm_guest_access_page(kvm, gpa, buf, chunk, write, &pfn);
		if (ret)
			return ret;
		if (write)
			shadow_record(kvm, gpa, buf, chunk, false, pfn);
		gpa += chunk;
		buf = (char *)buf + chunk;
		len -= chunk;
	}
	return 0;
}

struct run_region {
	unsigned long start, end;
	bool writable;
};

static uint64_t xorshift(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

/* The readable VMAs of the guest's memory now. Return: how many, or -ESRCH. */
static int run_collect(struct kvm *kvm, struct run_region *r)
{
	struct mm_struct *mm = kvm->mm;
	unsigned long addr = 0;
	int n = 0;

	if (!mmget_not_zero_tracked(mm, kvm, KVM_RUN_HOLDER))
		return -ESRCH;
	mmap_read_lock(mm);
	for (struct vm_area_struct *vma; n < KVM_RUN_MAX_REGIONS && (vma = find_vma(mm, addr));
	     addr = vma->vm_end) {
		if (!(vma->vm_flags & VM_READ) || (vma->vm_flags & (VM_IO | VM_PFNMAP)))
			continue;
		r[n].start = vma->vm_start;
		r[n].end = vma->vm_end;
		r[n].writable = vma->vm_flags & VM_WRITE;
		n++;
	}
	mmap_read_unlock(mm);
	/* Pairs with mmget_not_zero(); called with no lock but workload_lock. */
	mmput_tracked(mm, kvm, KVM_RUN_HOLDER);
	return n;
}

/* One checked access of the workload. Caller holds workload_lock. */
static int run_one(struct kvm *kvm, const struct run_region *rg, uint64_t *rng)
{
	unsigned long npages = (rg->end - rg->start) >> PAGE_SHIFT;
	unsigned long page = rg->start + (xorshift(rng) % npages) * PAGE_SIZE;
	size_t len = 1 + xorshift(rng) % KVM_RUN_MAX_ACCESS;
	unsigned long gpa = page + xorshift(rng) % (PAGE_SIZE - len + 1);
	bool write = rg->writable && (xorshift(rng) & 1);
	unsigned char buf[KVM_RUN_MAX_ACCESS];
	unsigned long pfn = 0;
	int ret, same;

	lockdep_assert_held(&kvm->workload_lock);
	if (shadow_compare(kvm, page, buf, 0, 0) == -ENOENT) {
		unsigned char *whole = kzalloc(PAGE_SIZE);

		if (!whole)
			return -ENOMEM;
		ret = kvm_guest_access_page(kvm, page, whole, PAGE_SIZE, false, &pfn);
		if (!ret)
			ret = shadow_record(kvm, page, whole, PAGE_SIZE, true, pfn);
		kfree(whole);
		if (ret)
			return ret;
	}
	if (write) {
		for (size_t i = 0; i < len; i++)
			buf[i] = (unsigned char)xorshift(rng);
		ret = kvm_guest_access_page(kvm, gpa, buf, len, true, &pfn);
		if (!ret)
			shadow_record(kvm, gpa, buf, len, false, pfn);
		return ret;
	}
	ret = kvm_guest_access_page(kvm, gpa, buf, len, false, &pfn);
	if (ret)
		return ret;
	same = shadow_compare(kvm, gpa, buf, len, pfn);
	if (same == 0) {
		atomic_fetch_add(&kvm->stat_mismatches, 1);
		return -EIO;
	}
	return 0; /* forgotten meanwhile (-ENOENT): nothing to compare */
}

static int vcpu_run_workload(struct kvm *kvm, unsigned long n, unsigned long seed)
{
	struct run_region regions[KVM_RUN_MAX_REGIONS];
	uint64_t rng = seed * 0x9e3779b97f4a7c15ULL + 0x2545f4914f6cdd1dULL;
	int nr, ret = 0;

	sm_mutex_lock(&kvm->workload_lock);
	/*
	 * The oracle covers the guest's own writes within this run. Between
	 * runs other writers (the host process, devices, a COW by fork) may
	 * change guest memory without an UNMAP, as they may in a real VM:
	 * what an earlier run recorded is no longer an expectation.
	 */
	sm_mutex_lock(&kvm->shadow_lock);
	shadow_forget_locked(kvm, 0, ULONG_MAX);
	sm_mutex_unlock(&kvm->shadow_lock);
	nr = run_collect(kvm, regions);
	if (nr <= 0) {
		ret = nr ? nr : -EINVAL;
		goto out;
	}
	for (unsigned long i = 0; i < n && !ret; i++)
		ret = run_one(kvm, &regions[xorshift(&rng) % (unsigned long)nr], &rng);
out:
	sm_mutex_unlock(&kvm->workload_lock);
	return ret;
}

/* --- vCPU threads ------------------------------------------------------- */

static int vcpu_execute(struct kvm *kvm, struct vcpu_request *req)
{
	int ret;
	TRACE_SCOPE("kvm",
		    req->op == VCPU_RUN	    ? "vcpu_run"
		    : req->op == VCPU_WRITE ? "guest_write"
					    : "guest_read",
		    "gpa=0x%lx len=%zu", req->gpa, req->len);

	switch (req->op) {
	case VCPU_READ:
		return guest_access(kvm, req->gpa, req->buf, req->len, false);
	case VCPU_WRITE:
		sm_mutex_lock(&kvm->workload_lock);
		ret = guest_access(kvm, req->gpa, req->buf, req->len, true);
		sm_mutex_unlock(&kvm->workload_lock);
		return ret;
	case VCPU_RUN:
		return vcpu_run_workload(kvm, req->n, req->seed);
	default:
		return 0;
	}
}

/* The vCPU: a real thread running queued guest accesses in order. */
static void *vcpu_thread(void *arg)
{
	struct kvm_vcpu *vcpu = arg;

	for (;;) {
		struct vcpu_request *req;
		enum vcpu_op op;

		sm_mutex_lock(&vcpu->qlock);
		sm_wait_event(&vcpu->qcond, &vcpu->qlock, vcpu->queue);
		req = vcpu->queue;
		vcpu->queue = req->next;
		if (!vcpu->queue)
			vcpu->qtail = &vcpu->queue;
		sm_mutex_unlock(&vcpu->qlock);

		op = req->op;
		req->ret = vcpu_execute(vcpu->kvm, req);
		/* @req lives on the submitter's stack: not to be touched once done. */
		sm_mutex_lock(&vcpu->qlock);
		req->done = true;
		sm_wake_up_all(&vcpu->qcond); /* Pairs with the wait in vcpu_submit(). */
		sm_mutex_unlock(&vcpu->qlock);
		if (op == VCPU_STOP)
			return NULL;
	}
}

static int vcpu_submit(struct kvm_vcpu *vcpu, struct vcpu_request *req)
{
	sm_mutex_lock(&vcpu->qlock);
	*vcpu->qtail = req;
	vcpu->qtail = &req->next;
	sm_wake_up_all(&vcpu->qcond); /* Pairs with the wait in vcpu_thread(). */
	sm_wait_event(&vcpu->qcond, &vcpu->qlock, req->done);
	sm_mutex_unlock(&vcpu->qlock);
	return req->ret;
}

int kvm_vcpu_read(struct kvm_vcpu *vcpu, unsigned long gpa, void *buf, size_t len)
{
	struct vcpu_request req = {.op = VCPU_READ, .gpa = gpa, .buf = buf, .len = len};

	return vcpu_submit(vcpu, &req);
}

int kvm_vcpu_write(struct kvm_vcpu *vcpu, unsigned long gpa, const void *buf, size_t len)
{
	struct vcpu_request req = {.op = VCPU_WRITE, .gpa = gpa, .buf = (void *)buf, .len = len};

	return vcpu_submit(vcpu, &req);
}

int kvm_vcpu_run(struct kvm_vcpu *vcpu, unsigned long n, unsigned long seed)
{
	struct vcpu_request req = {.op = VCPU_RUN, .n = n, .seed = seed};

	return vcpu_submit(vcpu, &req);
}

struct kvm_vcpu *kvm_create_vcpu(struct kvm *kvm)
{
	struct kvm_vcpu *vcpu;
	int ret;

	vcpu = kzalloc(sizeof(*vcpu));
	if (!vcpu)
		return ERR_PTR(-ENOMEM);
	vcpu->kvm = kvm;
	vcpu->qtail = &vcpu->queue;
	sm_mutex_init(&vcpu->qlock, "vcpu->qlock", LOCK_RANK_WORKQ);
	sm_waitq_init(&vcpu->qcond, "vcpu->qcond");
	sm_mutex_lock(&kvm->vcpus_lock);
	if (kvm->nr_vcpus == KVM_MAX_VCPUS) {
		ret = -ENOSPC;
		goto err_unlock;
	}
	if (!kvm->name[0])
		ret = sm_thread_create(&vcpu->thread, vcpu_thread, vcpu, "vcpu %d", kvm->nr_vcpus);
	else if (!kvm->nr_vcpus)
		ret = sm_thread_create(&vcpu->thread, vcpu_thread, vcpu, "vcpu %s", kvm->name);
	else
		ret = sm_thread_create(&vcpu->thread, vcpu_thread, vcpu, "vcpu %s.%d", kvm->name,
				       kvm->nr_vcpus);
	if (ret)
		goto err_unlock;
	kvm->vcpus[kvm->nr_vcpus++] = vcpu;
	sm_mutex_unlock(&kvm->vcpus_lock);
	return vcpu;

err_unlock:
	sm_mutex_unlock(&kvm->vcpus_lock);
	sm_waitq_destroy(&vcpu->qcond);
	sm_mutex_destroy(&vcpu->qlock);
	kfree(vcpu);
	return ERR_PTR(ret);
}

static void kvm_destroy_vcpu(struct kvm_vcpu *vcpu)
{
	struct vcpu_request req = {.op = VCPU_STOP};

	vcpu_submit(vcpu, &req);
	sm_thread_join(&vcpu->thread);
	sm_waitq_destroy(&vcpu->qcond);
	sm_mutex_destroy(&vcpu->qlock);
	kfree(vcpu);
}

/* --- VMs ---------------------------------------------------------------- */

struct kvm *kvm_create_vm(struct mm_struct *mm, unsigned int flags)
{
	return kvm_create_vm_named(mm, flags, NULL);
}

struct kvm *kvm_create_vm_named(struct mm_struct *mm, unsigned int flags, const char *name)
{
	struct kvm *kvm;
	int ret;

	if (flags & ~(KVM_VM_PIN | KVM_VM_BROKEN) ||
	    (flags & KVM_VM_PIN && flags & KVM_VM_BROKEN) || mm_users_read(mm) <= 0)
		return ERR_PTR(-EINVAL);
	kvm = kzalloc(sizeof(*kvm));
	if (!kvm)
		return ERR_PTR(-ENOMEM);
	kvm->flags = flags;
	kvm->mm = mm;
	if (name)
		snprintf(kvm->name, sizeof(kvm->name), "%s", name);
	mmgrab_tracked(mm, kvm, KVM_HOLDER_KIND); /* kvm->mm = current->mm; mmgrab(kvm->mm) */
	sm_mutex_init(&kvm->workload_lock, "kvm->workload_lock", LOCK_RANK_DRIVER);
	sm_mutex_init(&kvm->shadow_lock, "kvm->shadow_lock", LOCK_RANK_LEAF);
	sm_mutex_init(&kvm->vcpus_lock, "kvm->vcpus_lock", LOCK_RANK_LEAF);
	ret = kvm_mmu_init(kvm); /* registers the notifier: the seed 004 hunk */
	if (ret)
		goto err_free;
	return kvm;

err_free:
	sm_mutex_destroy(&kvm->vcpus_lock);
	sm_mutex_destroy(&kvm->shadow_lock);
	sm_mutex_destroy(&kvm->workload_lock);
	mmdrop_tracked(mm, kvm, KVM_HOLDER_KIND); /* Pairs with mmgrab() above. */
	kfree(kvm);
	return ERR_PTR(ret);
}

void kvm_destroy_vm(struct kvm *kvm)
{
	struct mm_struct *mm = kvm->mm;

	for (int i = 0; i < kvm->nr_vcpus; i++)
		kvm_destroy_vcpu(kvm->vcpus[i]);
	kvm->nr_vcpus = 0;
	kvm_mmu_destroy(kvm);
	sm_mutex_lock(&kvm->shadow_lock);
	shadow_forget_locked(kvm, 0, ~0UL);
	sm_mutex_unlock(&kvm->shadow_lock);
	sm_mutex_destroy(&kvm->vcpus_lock);
	sm_mutex_destroy(&kvm->shadow_lock);
	sm_mutex_destroy(&kvm->workload_lock);
	kfree(kvm);
	/* Pairs with mmgrab() in kvm_create_vm(); @kvm is only a key now. */
	mmdrop_tracked(mm, kvm, KVM_HOLDER_KIND);
}
