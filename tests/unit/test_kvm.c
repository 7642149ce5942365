// SPDX-License-Identifier: MIT
/*
 * The KVM-style VM: shadow paging kept coherent by an MMU notifier (seed
 * 004), and the legacy page-pinning mode it replaced. Each test names the
 * rule it proves; the "broken" tests prove the checks catch a VM that
 * ignores invalidations.
 */
#include <stdatomic.h>

#include "secmmu/bugs.h"
#include "secmmu/kvm.h"
#include "secmmu/migrate.h"
#include "secmmu/mmu_notifier.h"
#include "secmmu/swap.h"
#include "sync_util.h"
#include "testutil.h"

struct vm {
	struct kvm *kvm;
	struct kvm_vcpu *vcpu;
};

static struct vm vm_new(struct mm_struct *mm, unsigned int flags)
{
	struct vm v;

	v.kvm = kvm_create_vm(mm, flags);
	ASSERT(!IS_ERR(v.kvm));
	v.vcpu = kvm_create_vcpu(v.kvm);
	ASSERT(!IS_ERR(v.vcpu));
	return v;
}

static struct kvm_stats stats(struct kvm *kvm)
{
	struct kvm_stats st;

	kvm_get_stats(kvm, &st);
	return st;
}

TEST(kvm_guest_and_host_see_each_other_without_page_references)
{
	struct mm_struct *mm;
	unsigned long pfn;
	uint32_t gen;
	bool w;
	char buf[8];
	struct vm v;

	MM_TEST_SETUP();
	mm = mm_new_mapped(4, PROT_RW, false);
	v = vm_new(mm, 0);
	ASSERT_EQ(mm_count_read(mm), 3); /* the VM's mmgrab + its notifier's */
	ASSERT_EQ(mm_write(mm, TBASE, "host", 4), 0);
	ASSERT_EQ(kvm_vcpu_read(v.vcpu, TBASE, buf, 4), 0);
	ASSERT_MEM_EQ(buf, "host", 4);
	ASSERT_EQ(kvm_vcpu_write(v.vcpu, TBASE + PG(1) - 2, "gst!", 4), 0); /* spans 2 pages */
	ASSERT_EQ(mm_read(mm, TBASE + PG(1) - 2, buf, 4), 0);
	ASSERT_MEM_EQ(buf, "gst!", 4);
	ASSERT_UEQ(kvm_nr_sptes(v.kvm), 2);
	/* No page reference: only the primary PTE holds the frame. */
	mmap_read_lock(mm);
	ASSERT_EQ(follow_pfn_pte(mm, TBASE, &pfn, &w, &gen), 0);
	mmap_read_unlock(mm);
	ASSERT_EQ(page_ref_count(pfn_to_page(pfn)), 1);
	ASSERT_UEQ(stats(v.kvm).page_refs, 0);
	ASSERT_EQ(kvm_vcpu_run(v.vcpu, 2000, 5), 0);
	ASSERT_UEQ(stats(v.kvm).mismatches, 0);
	kvm_destroy_vm(v.kvm);
	ASSERT_EQ(mm_count_read(mm), 1);
	mmput(mm);
}

/* Rule: no spte maps a frame after the primary unmapped it. */
TEST(kvm_spte_zapped_before_frame_freed)
{
	struct mm_struct *mm;
	char buf[4];
	struct vm v;

	MM_TEST_SETUP();
	mm = mm_new_mapped(2, PROT_RW, false);
	v = vm_new(mm, 0);
	ASSERT_EQ(kvm_vcpu_write(v.vcpu, TBASE, "old", 3), 0);
	ASSERT_UEQ(kvm_nr_sptes(v.kvm), 1);
	ASSERT_EQ(mm_munmap(mm, TBASE, PG(2)), 0);
	ASSERT_UEQ(kvm_nr_sptes(v.kvm), 0);
	ASSERT_EQ(kvm_vcpu_read(v.vcpu, TBASE, buf, 3), -EFAULT);
	map_anon(mm, TBASE, 2, PROT_RW, false);
	ASSERT_EQ(mm_write(mm, TBASE, "new", 3), 0);
	ASSERT_EQ(kvm_vcpu_read(v.vcpu, TBASE, buf, 3), 0);
	ASSERT_MEM_EQ(buf, "new", 3);
	/* mprotect: a writable spte must go, the guest write then faults. */
	ASSERT_EQ(mm_mprotect(mm, TBASE, PG(1), PROT_READ), 0);
	ASSERT_EQ(kvm_vcpu_write(v.vcpu, TBASE, "x", 1), -EFAULT);
	ASSERT_UEQ(stats(v.kvm).stale, 0);
	ASSERT_UEQ(phys_stale_count(), 0);
	kvm_destroy_vm(v.kvm);
	mmput(mm);
}

/* The same sequence with a VM that ignores invalidations: the generation check catches it. */
TEST(kvm_broken_vm_is_caught)
{
	struct mm_struct *mm;
	char buf[4];
	struct vm v;

	MM_TEST_SETUP();
	mm = mm_new_mapped(2, PROT_RW, false);
	v = vm_new(mm, KVM_VM_BROKEN);
	ASSERT_EQ(kvm_vcpu_write(v.vcpu, TBASE, "old", 3), 0);
	ASSERT_EQ(mm_munmap(mm, TBASE, PG(2)), 0); /* frame freed; the VM kept its spte */
	ASSERT_UEQ(kvm_nr_sptes(v.kvm), 1);
	ASSERT_EQ(kvm_vcpu_read(v.vcpu, TBASE, buf, 3), -EIO);
	ASSERT_UEQ(stats(v.kvm).stale, 1);
	ASSERT_UGE(phys_stale_count(), 1);
	kvm_destroy_vm(v.kvm);
	mmput(mm);
}

/*
 * A classic notifier registered BEFORE the VM (so called after it: new
 * subscriptions go to the head of the list) that blocks in
 * invalidate_range_start: the VM's start has run (in_progress == 1), the
 * primary PTE is still there, and get_user_pages would happily return the
 * page that is about to be moved away.
 */
/* Taken in the callback: ranked as a driver's notifier lock. Guards the flags. */
static struct sm_mutex gate_lock;
static struct sm_waitq gate_cond; /* woken when gate_blocked or gate_open is set */
static bool gate_armed, gate_blocked, gate_open;

static int gate_start(struct mmu_notifier *mn, const struct mmu_notifier_range *range)
{
	(void)mn;
	if (range->event != MMU_NOTIFY_CLEAR) /* CPU migration's event */
		return 0;
	sm_mutex_lock(&gate_lock);
	if (gate_armed) {
		gate_armed = false;
		gate_blocked = true;
		sm_wake_up_all(&gate_cond); /* Pairs with the wait in collide(). */
		sm_wait_event(&gate_cond, &gate_lock, gate_open);
	}
	sm_mutex_unlock(&gate_lock);
	return 0;
}

static const struct mmu_notifier_ops gate_ops = {.invalidate_range_start = gate_start};

struct bg {
	struct mm_struct *mm;
	struct kvm_vcpu *vcpu;
	char buf[4];
	int ret;
	_Atomic bool done;
};

static void *bg_migrate(void *arg)
{
	struct bg *b = arg;

	b->ret = migrate_range(b->mm, TBASE, PG(1));
	test_flag_set(&b->done);
	return NULL;
}

static void *bg_read(void *arg)
{
	struct bg *b = arg;

	b->ret = kvm_vcpu_read(b->vcpu, TBASE, b->buf, 3);
	test_flag_set(&b->done);
	return NULL;
}

/* Run a vCPU read of TBASE while a migration of TBASE is held inside its invalidation. */
static void collide(struct mm_struct *mm, struct vm *v, bool expect_install)
{
	struct mmu_notifier gate = {.ops = &gate_ops};
	struct bg mig = {.mm = mm}, rd = {.vcpu = NULL};
	struct sm_thread tm, tr;

	(void)gate;
	rd.vcpu = v->vcpu;
	sm_mutex_init(&gate_lock, "gate_lock", LOCK_RANK_DRIVER_NOTIFIER);
	sm_waitq_init(&gate_cond, "gate_cond");
	sm_mutex_lock(&gate_lock);
	gate_armed = true;
	gate_blocked = gate_open = false;
	sm_mutex_unlock(&gate_lock);
	ASSERT_EQ(sm_thread_create(&tm, bg_migrate, &mig, "migrate"), 0);
	sm_mutex_lock(&gate_lock);
	sm_wait_event(&gate_cond, &gate_lock, gate_blocked);
	sm_mutex_unlock(&gate_lock);

	ASSERT_EQ(sm_thread_create(&tr, bg_read, &rd, "vcpu read"), 0);
	if (expect_install) {
		/* The broken VM installs the doomed page right away. */
		test_flag_wait(&rd.done);
		ASSERT_UEQ(kvm_nr_sptes(v->kvm), 1);
	} else {
		ASSERT_EQ(kvm_mmu_invalidate_in_progress(v->kvm), 1);
		/* The retry is counted, not signalled: nothing to wait on. */
		ASSERT(TEST_EVENTUALLY(stats(v->kvm).fault_retries >= 1));
		sm_delay_us(20000);
		/*
		 * The vCPU faulted once, saw the invalidation, and now sleeps until
		 * its _end (no spinning refaults); it installs nothing meanwhile.
		 */
		ASSERT_UEQ(stats(v->kvm).fault_retries, 1);
		ASSERT(!atomic_load(&rd.done));
		ASSERT_UEQ(kvm_nr_sptes(v->kvm), 0);
	}
	sm_mutex_lock(&gate_lock);
	gate_open = true;
	sm_wake_up_all(&gate_cond); /* Pairs with the wait in gate_start(). */
	sm_mutex_unlock(&gate_lock);
	sm_thread_join(&tm);
	sm_thread_join(&tr);
	sm_waitq_destroy(&gate_cond);
	sm_mutex_destroy(&gate_lock);
	ASSERT_EQ(mig.ret, 0);
	ASSERT_EQ(rd.ret, 0);
	ASSERT_MEM_EQ(rd.buf, "abc", 3);
}

/* Rule: no spte is installed while an invalidation over its range is in progress. */
TEST(kvm_no_install_while_invalidation_in_progress)
{
	struct mmu_notifier gate = {.ops = &gate_ops};
	struct mm_struct *mm;
	char buf[4];
	struct vm v;

	MM_TEST_SETUP();
	mm = mm_new_mapped(1, PROT_RW, false);
	ASSERT_EQ(mm_write(mm, TBASE, "abc", 3), 0);
	ASSERT_EQ(mmu_notifier_register(&gate, mm), 0);
	v = vm_new(mm, 0);
	collide(mm, &v, false);
	ASSERT_EQ(kvm_mmu_invalidate_in_progress(v.kvm), 0);
	/* Installed after _end, on the new frame: still valid, no stale use. */
	ASSERT_UEQ(kvm_nr_sptes(v.kvm), 1);
	ASSERT_EQ(kvm_vcpu_read(v.vcpu, TBASE, buf, 3), 0);
	ASSERT_MEM_EQ(buf, "abc", 3);
	ASSERT_UEQ(stats(v.kvm).stale, 0);
	kvm_destroy_vm(v.kvm);
	mmu_notifier_unregister(&gate, mm);
	mmput(mm);
}

/* The broken VM installs during the invalidation; the frame is then freed under it. */
TEST(kvm_broken_installs_during_invalidation_and_is_caught)
{
	struct mmu_notifier gate = {.ops = &gate_ops};
	struct mm_struct *mm;
	char buf[4];
	struct vm v;

	MM_TEST_SETUP();
	mm = mm_new_mapped(1, PROT_RW, false);
	ASSERT_EQ(mm_write(mm, TBASE, "abc", 3), 0);
	ASSERT_EQ(mmu_notifier_register(&gate, mm), 0);
	v = vm_new(mm, KVM_VM_BROKEN);
	collide(mm, &v, true);
	ASSERT_EQ(kvm_vcpu_read(v.vcpu, TBASE, buf, 3), -EIO);
	ASSERT_UEQ(stats(v.kvm).stale, 1);
	kvm_destroy_vm(v.kvm);
	mmu_notifier_unregister(&gate, mm);
	mmput(mm);
}

/* Rule: guest memory is swappable with no pins (frames freed under pressure, contents intact). */
TEST(kvm_guest_memory_swaps_out_and_back)
{
	unsigned char buf[PAGE_SIZE];
	struct mm_struct *mm;
	unsigned long used;
	struct vm v;

	MM_TEST_SETUP();
	ASSERT_EQ(swap_on(1 << 20, NULL), 0);
	mm = mm_new_mapped(16, PROT_RW, false);
	v = vm_new(mm, 0);
	for (int i = 0; i < 16; i++) {
		fill_pattern(buf, PAGE_SIZE, 100 + i);
		ASSERT_EQ(kvm_vcpu_write(v.vcpu, TBASE + PG(i), buf, PAGE_SIZE), 0);
	}
	ASSERT_UEQ(kvm_nr_sptes(v.kvm), 16);
	used = phys_used_frames();
	/* Twice: the first pass only clears the accessed bits (second chance). */
	try_to_free_pages(64);
	try_to_free_pages(64);
	ASSERT_ULE(phys_used_frames(), used - 16);
	ASSERT_UGE(swap_slots_used(), 16);
	ASSERT_UEQ(kvm_nr_sptes(v.kvm), 0);
	for (int i = 0; i < 16; i++) {
		ASSERT_EQ(kvm_vcpu_read(v.vcpu, TBASE + PG(i), buf, PAGE_SIZE), 0);
		ASSERT_PATTERN(buf, PAGE_SIZE, 100 + i);
	}
	ASSERT_UEQ(stats(v.kvm).stale, 0);
	kvm_destroy_vm(v.kvm);
	mmput(mm);
	ASSERT_UEQ(swap_slots_used(), 0);
	ASSERT_EQ(swap_off(), 0);
}

/* Rule: pin mode holds the frames (KVM before seed 004): reclaim and migration cannot free them. */
TEST(kvm_pin_mode_holds_frames)
{
	unsigned char buf[PAGE_SIZE];
	struct mm_struct *mm;
	unsigned long used;
	struct vm v;

	MM_TEST_SETUP();
	ASSERT_EQ(swap_on(1 << 20, NULL), 0);
	mm = mm_new_mapped(16, PROT_RW, false);
	v = vm_new(mm, KVM_VM_PIN);
	ASSERT_EQ(mm_count_read(mm), 2); /* the VM's mmgrab only: no notifier */
	for (int i = 0; i < 16; i++) {
		fill_pattern(buf, PAGE_SIZE, 200 + i);
		ASSERT_EQ(kvm_vcpu_write(v.vcpu, TBASE + PG(i), buf, PAGE_SIZE), 0);
	}
	ASSERT_UEQ(stats(v.kvm).page_refs, 16);
	/* References, not pins: busy through every pass (-EAGAIN), never moved. */
	ASSERT_EQ(migrate_range(mm, TBASE, PG(16)), -EAGAIN);
	used = phys_used_frames();
	try_to_free_pages(64);
	try_to_free_pages(64);
	ASSERT_UGE(phys_used_frames(), used); /* reclaim may unmap them, but frees nothing */
	ASSERT_UEQ(kvm_nr_sptes(v.kvm), 16);
	for (int i = 0; i < 16; i++) {
		ASSERT_EQ(kvm_vcpu_read(v.vcpu, TBASE + PG(i), buf, PAGE_SIZE), 0);
		ASSERT_PATTERN(buf, PAGE_SIZE, 200 + i);
	}
	/* Even exit cannot free them: they wait for the VM to be destroyed. */
	mmput(mm);
	ASSERT_UGE(phys_used_frames(), 16);
	kvm_destroy_vm(v.kvm);
	ASSERT_UEQ(phys_used_frames(), 0);
	ASSERT_UEQ(swap_slots_used(), 0);
	ASSERT_EQ(swap_off(), 0);
}

/* Rule: release at exit zaps everything; vCPU accesses then fail with -ESRCH. */
TEST(kvm_release_at_exit_zaps_everything)
{
	struct mm_struct *mm;
	unsigned long id;
	int users, count;
	char buf[4];
	struct vm v;

	MM_TEST_SETUP();
	mm = mm_alloc();
	ASSERT_NOT_NULL(mm);
	id = mm_id(mm);
	map_anon(mm, TBASE, 8, PROT_RW, false);
	v = vm_new(mm, 0);
	for (int i = 0; i < 8; i++)
		ASSERT_EQ(kvm_vcpu_write(v.vcpu, TBASE + PG(i), "abc", 3), 0);
	ASSERT_UEQ(kvm_nr_sptes(v.kvm), 8);
	mmput(mm); /* exit */
	ASSERT_UEQ(kvm_nr_sptes(v.kvm), 0);
	ASSERT_UEQ(phys_used_frames(), 0);
	ASSERT_EQ(kvm_vcpu_read(v.vcpu, TBASE, buf, 3), -ESRCH);
	ASSERT_EQ(kvm_vcpu_write(v.vcpu, TBASE, "x", 1), -ESRCH);
	ASSERT_EQ(kvm_vcpu_run(v.vcpu, 10, 1), -ESRCH);
	ASSERT_EQ(mm_query_refs(id, &users, &count), 0);
	ASSERT_EQ(users, 0);
	ASSERT_EQ(count, 2); /* the VM and its notifier: the struct, not the pages */
	ASSERT_UEQ(stats(v.kvm).stale, 0);
	kvm_destroy_vm(v.kvm);
	ASSERT_EQ(mm_query_refs(id, &users, &count), -ESRCH);
}

/* Rule: aging from the spte accessed bits keeps a hot guest page resident. */
TEST(kvm_aging_keeps_hot_guest_page)
{
	struct mm_struct *mm;
	unsigned long pfn;
	uint32_t gen;
	char buf[4];
	bool w;
	struct vm v;

	MM_TEST_SETUP();
	ASSERT_EQ(swap_on(1 << 20, NULL), 0);
	mm = mm_new_mapped(2, PROT_RW, false);
	v = vm_new(mm, 0);
	ASSERT_EQ(kvm_vcpu_write(v.vcpu, TBASE, "hot", 3), 0);
	ASSERT_EQ(kvm_vcpu_write(v.vcpu, TBASE + PG(1), "cold", 4), 0);
	try_to_free_pages(2); /* clears every young/accessed bit: all get a second chance */
	ASSERT_UEQ(kvm_nr_sptes(v.kvm), 2);
	/* Only the guest touches the hot page: no primary PTE young bit is set by it. */
	ASSERT_EQ(kvm_vcpu_read(v.vcpu, TBASE, buf, 3), 0);
	try_to_free_pages(2);
	mmap_read_lock(mm);
	ASSERT_EQ(follow_pfn_pte(mm, TBASE, &pfn, &w, &gen), 0);
	ASSERT_EQ(follow_pfn_pte(mm, TBASE + PG(1), &pfn, &w, &gen), -ENOENT);
	mmap_read_unlock(mm);
	ASSERT_UEQ(kvm_nr_sptes(v.kvm), 1);
	ASSERT_UGE(stats(v.kvm).young, 1);
	ASSERT_EQ(kvm_vcpu_read(v.vcpu, TBASE + PG(1), buf, 4), 0);
	ASSERT_MEM_EQ(buf, "cold", 4);
	kvm_destroy_vm(v.kvm);
	mmput(mm);
	ASSERT_UEQ(swap_slots_used(), 0);
	ASSERT_EQ(swap_off(), 0);
}

/*
 * change_pte runs inside start/end: a correct VM never finds an spte to
 * update. Our KVM registers it only with the museum's kvm-change-pte-dead on
 * (Linux 6.10 removed it); without, no call at all.
 */
static void change_pte_case(bool legacy)
{
	unsigned char page[PAGE_SIZE];
	struct mm_struct *a, *b;
	struct vm va, vb;

	MM_TEST_SETUP();
	if (legacy)
		ASSERT_EQ(secmmu_bug_set("kvm-change-pte-dead", true), 0);
	a = mm_alloc();
	b = mm_alloc();
	ASSERT(a && b);
	map_anon(a, TBASE, 1, PROT_RW, false);
	map_anon(b, TBASE, 1, PROT_RW, false);
	ASSERT_EQ(mm_madvise(a, TBASE, PG(1), MADV_MERGEABLE), 0);
	ASSERT_EQ(mm_madvise(b, TBASE, PG(1), MADV_MERGEABLE), 0);
	va = vm_new(a, 0);
	vb = vm_new(b, KVM_VM_BROKEN);
	fill_pattern(page, PAGE_SIZE, 9);
	ASSERT_EQ(kvm_vcpu_write(va.vcpu, TBASE, page, PAGE_SIZE), 0);
	ASSERT_EQ(kvm_vcpu_write(vb.vcpu, TBASE, page, PAGE_SIZE), 0);
	ASSERT_UGE(ksm_scan_all(), 1);
	if (legacy) {
		ASSERT_UGE(stats(va.kvm).change_pte_calls + stats(vb.kvm).change_pte_calls, 1);
	} else {
		ASSERT_UEQ(stats(va.kvm).change_pte_calls, 0);
		ASSERT_UEQ(stats(vb.kvm).change_pte_calls, 0);
	}
	ASSERT_UEQ(stats(va.kvm).change_pte_hits, 0);
	ASSERT_UEQ(stats(va.kvm).stale, 0);
	/* The merged page is read-only: a guest write breaks the sharing by COW. */
	ASSERT_EQ(kvm_vcpu_write(va.vcpu, TBASE, "cow", 3), 0);
	ASSERT_EQ(mm_read(b, TBASE, page, 3), 0);
	ASSERT_PATTERN(page, 3, 9);
	ASSERT_EQ(mm_read(a, TBASE, page, 3), 0);
	ASSERT_MEM_EQ(page, "cow", 3);
	kvm_destroy_vm(vb.kvm);
	kvm_destroy_vm(va.kvm);
	mmput(b);
	mmput(a);
	secmmu_bug_reset_all();
}

TEST(kvm_change_pte_never_finds_an_spte)
{
	change_pte_case(true);
}

TEST(kvm_has_no_change_pte)
{
	change_pte_case(false);
}

/* Registration failure is handled: nothing left behind. */
TEST(kvm_create_fails_cleanly)
{
	struct mm_struct *mm;

	MM_TEST_SETUP();
	mm = mm_alloc();
	ASSERT_NOT_NULL(mm);
	ASSERT_EQ(PTR_ERR(kvm_create_vm(mm, KVM_VM_PIN | KVM_VM_BROKEN)), -EINVAL);
	ASSERT_EQ(PTR_ERR(kvm_create_vm(mm, 0x80)), -EINVAL);
	ASSERT_EQ(mm_count_read(mm), 1);
	mmput(mm);
}
