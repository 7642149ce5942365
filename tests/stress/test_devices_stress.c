// SPDX-License-Identifier: MIT
/*
 * Every kind of secondary MMU on one owner process at once -- a KVM VM with
 * two vCPUs, a GRU context, an XPMEM importer and a mirror -- each read from
 * its own thread, while the owner unmaps and remaps (known contents),
 * protects, forks (the child exits), swaps, migrates, merges and finally
 * exits under them.
 *
 * Oracle (as test_mirror_stress.c): every page of the window holds its
 * version, a 32-bit value repeated over the page, published (release) by the
 * owner after it wrote the page. A device read that starts after version v
 * was published must see v or later -- or 0 / -EFAULT while the page is
 * being replaced. Older data means a device used a translation past its
 * invalidation; poison means it read a freed frame (debug builds poison
 * them). After the
 * owner's exit every device answers -ESRCH (the importer -EFAULT), and at
 * the end nothing is left: frames, swap slots, mm structs, files,
 * allocations (MM_TEST_SETUP's teardown).
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "secmmu/gru.h"
#include "secmmu/kvm.h"
#include "secmmu/migrate.h"
#include "secmmu/mirror.h"
#include "secmmu/swap.h"
#include "secmmu/xpmem.h"
#include "sync_util.h"
#include "testutil.h"

#define NPAGES	    16
#define ROUNDS	    40000
#define MAX_SECONDS 3.0
#define IBASE	    0x40000000UL /* the importer's attachment */
#define READ_OFF    128
#define READ_WORDS  16
#define POISON_WORD (0x01010101U * PAGE_POISON_BYTE)

enum dev_kind {
	DEV_VCPU0,
	DEV_VCPU1,
	DEV_GRU,
	DEV_XPMEM,
	DEV_MIRROR,
	NR_DEVS
};

static const char *const dev_name[NR_DEVS] = {"vcpu0", "vcpu1", "gru", "xpmem", "mirror"};

static struct mm_struct *mm, *importer;
static struct kvm *kvm;
static struct kvm_vcpu *vcpu[2];
static struct gru *gru;
static struct mirror *mirror;
static struct xpmem_segment *seg;

static _Atomic uint32_t version[NPAGES];
static _Atomic bool stop, exited;
static _Atomic unsigned long stale_reads[NR_DEVS], good_reads[NR_DEVS], after_exit[NR_DEVS];
/* Once @draining: reads completed, each followed by sm_wake_up_var(&reads_done). */
static _Atomic bool draining;
static _Atomic unsigned long reads_done;

/* One device read of @len bytes at offset @off of page @p. */
static int dev_read(enum dev_kind d, unsigned int p, void *buf, size_t len)
{
	unsigned long addr = TBASE + PG(p) + READ_OFF;

	switch (d) {
	case DEV_VCPU0:
	case DEV_VCPU1:
		return kvm_vcpu_read(vcpu[d - DEV_VCPU0], addr, buf, len);
	case DEV_GRU:
		return gru_read(gru, addr, buf, len);
	case DEV_XPMEM:
		return mm_read(importer, IBASE + PG(p) + READ_OFF, buf, len);
	case DEV_MIRROR:
		return mirror_read(mirror, addr, buf, len);
	default:
		return -EINVAL;
	}
}

static void *device_thread(void *arg)
{
	enum dev_kind d = (enum dev_kind)(uintptr_t)arg;
	unsigned int seed = 1000 + (unsigned int)d;

	while (!atomic_load(&stop)) {
		unsigned int p = (unsigned int)rand_r(&seed) % NPAGES;
		bool gone = atomic_load(&exited);
		uint32_t before = atomic_load_explicit(&version[p], memory_order_acquire);
		uint32_t buf[READ_WORDS], lowest;
		int ret = dev_read(d, p, buf, sizeof(buf));

		if (atomic_load(&draining)) {
			atomic_fetch_add(&reads_done, 1);
			sm_wake_up_var(&reads_done); /* Pairs with the wait in the test. */
		}
		if (gone) {
			/* The owner has exited: nothing is reachable any more. */
			if (ret != (d == DEV_XPMEM ? -EFAULT : -ESRCH))
				FAIL("%s: read of page %u after the owner's exit -> %d",
				     dev_name[d], p, ret);
			if (atomic_fetch_add(&after_exit[d], 1) == 0)
				sm_wake_up_var(
					&after_exit[d]); /* Pairs with the wait in the test. */
			continue;
		}
		if (ret == -EFAULT || ret == -ESRCH)
			continue; /* unmapped right now, or the exit is under way */
		if (ret)
			FAIL("%s: read of page %u -> %d", dev_name[d], p, ret);
		/*
		 * A read may overlap the owner's write of the next version (or the
		 * first write of a fresh zero page): words of 0, v and v + 1 may mix.
		 * Every nonzero word must be current, and none may be poison.
		 */
		lowest = 0;
		for (int i = 0; i < READ_WORDS; i++) {
			if (buf[i] == POISON_WORD)
				FAIL("%s: read poison from page %u (a freed frame)", dev_name[d],
				     p);
			if (buf[i] && (!lowest || buf[i] < lowest))
				lowest = buf[i];
		}
		if (!lowest)
			continue; /* freshly mapped, not yet written */
		if (lowest < before)
			atomic_fetch_add(&stale_reads[d], 1);
		else
			atomic_fetch_add(&good_reads[d], 1);
	}
	return NULL;
}

static void publish(unsigned int p, uint32_t v)
{
	static uint32_t fill[PAGE_SIZE / sizeof(uint32_t)];

	for (size_t i = 0; i < PAGE_SIZE / sizeof(uint32_t); i++)
		fill[i] = v;
	ASSERT_EQ(mm_write(mm, TBASE + PG(p), fill, sizeof(fill)), 0);
	atomic_store_explicit(&version[p], v, memory_order_release);
}

static void mutate(unsigned int round, unsigned int p)
{
	struct mm_struct *child;
	int ret;

	switch (round % 10) {
	case 0: /* replace the page: the old frame is freed */
		ASSERT_EQ(mm_munmap(mm, TBASE + PG(p), PG(1)), 0);
		ASSERT_EQ(mm_mmap(mm, TBASE + PG(p), PG(1), PROT_READ | PROT_WRITE, MAP_PRIVATE,
				  NULL, 0),
			  (long)(TBASE + PG(p)));
		ASSERT_EQ(mm_madvise(mm, TBASE + PG(p), PG(1), MADV_MERGEABLE), 0);
		break;
	case 1: /* fork; the child writes (COW) and exits */
		child = dup_mm(mm);
		ASSERT(!IS_ERR(child));
		ASSERT_EQ(mm_write(child, TBASE + PG(p), "child", 5), 0);
		mmput(child);
		break;
	case 2:
		ASSERT_EQ(mm_mprotect(mm, TBASE + PG(p), PG(1), PROT_READ), 0);
		ASSERT_EQ(mm_mprotect(mm, TBASE + PG(p), PG(1), PROT_READ | PROT_WRITE), 0);
		break;
	case 3: /* swap it out: the next access swaps it in */
		ASSERT_EQ(mm_madvise(mm, TBASE + PG(p), PG(1), MADV_PAGEOUT), 0);
		break;
	case 4:
		try_to_free_pages(8);
		break;
	case 5: /* move it to another frame (busy while a device holds a reference) */
		ret = migrate_range(mm, TBASE + PG(p), PG(1));
		if (ret != -EBUSY && ret != -EAGAIN)
			ASSERT_EQ(ret, 0);
		break;
	case 6: /* merge identical pages into one write-protected KSM frame */
		ksm_scan_all();
		break;
	case 7:
		ASSERT_EQ(mm_madvise(mm, TBASE + PG(p), PG(1), MADV_DONTNEED), 0);
		break;
	default:
		break;
	}
	publish(p, atomic_load(&version[p]) + 1);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

TEST(devices_vs_owner_mutations_no_stale_read_no_leak)
{
	struct sm_thread threads[NR_DEVS];
	unsigned int seed = 4242;
	double deadline;

	MM_TEST_SETUP();
	ASSERT_EQ(swap_on(4 << 20, NULL), 0);
	mm = mm_alloc();
	ASSERT_NOT_NULL(mm);
	ASSERT_EQ(mm_mmap(mm, TBASE, PG(NPAGES), PROT_READ | PROT_WRITE, MAP_PRIVATE, NULL, 0),
		  (long)TBASE);
	ASSERT_EQ(mm_madvise(mm, TBASE, PG(NPAGES), MADV_MERGEABLE), 0);
	for (unsigned int p = 0; p < NPAGES; p++)
		publish(p, 1);
	importer = mm_alloc();
	ASSERT_NOT_NULL(importer);

	kvm = kvm_create_vm(mm, 0);
	ASSERT(!IS_ERR(kvm));
	for (int i = 0; i < 2; i++) {
		vcpu[i] = kvm_create_vcpu(kvm);
		ASSERT(!IS_ERR(vcpu[i]));
	}
	gru = gru_create(mm, 0);
	ASSERT(!IS_ERR(gru));
	mirror = mirror_create(mm, 0);
	ASSERT(!IS_ERR(mirror));
	seg = xpmem_make(mm, TBASE, PG(NPAGES), 0);
	ASSERT(!IS_ERR(seg));
	ASSERT_EQ(xpmem_attach(seg, importer, IBASE), 0);

	for (int d = 0; d < NR_DEVS; d++)
		ASSERT_EQ(sm_thread_create(&threads[d], device_thread, (void *)(uintptr_t)d, "%s",
					   dev_name[d]),
			  0);
	deadline = now() + MAX_SECONDS;
	for (unsigned int r = 0; r < ROUNDS && now() < deadline; r++)
		mutate(r, (unsigned int)rand_r(&seed) % NPAGES);

	/*
	 * The owner exits under the running devices. A device thread may hold
	 * a transient mm_users reference and run the exit itself: wait until
	 * it is complete (no user, nothing mapped or swapped) before asking
	 * the devices to fail. Only a device read can drop such a reference:
	 * recheck after each one completed.
	 */
	atomic_store(&draining, true);
	mmput(mm);
	for (;;) {
		unsigned long seen = atomic_load(&reads_done);
		struct mm_stats st;

		mm_get_stats(mm, &st);
		if (!mm_users_read(mm) && !st.rss && !st.swap)
			break;
		sm_wait_var_event(&reads_done, atomic_load(&reads_done) != seen);
	}
	atomic_store(&exited, true);
	for (int d = 0; d < NR_DEVS; d++) /* every device saw the exit */
		sm_wait_var_event(&after_exit[d], atomic_load(&after_exit[d]) > 0);
	atomic_store(&stop, true);
	for (int d = 0; d < NR_DEVS; d++)
		sm_thread_join(&threads[d]);

	for (int d = 0; d < NR_DEVS; d++) {
		if (atomic_load(&stale_reads[d]))
			FAIL("%s: %lu stale reads", dev_name[d], atomic_load(&stale_reads[d]));
		ASSERT_UGT(atomic_load(&good_reads[d]), 0);
	}
	ASSERT_UEQ(phys_stale_count(), 0);
	ASSERT_UEQ(mirror_nr_stale(mirror), 0);

	kvm_destroy_vm(kvm);
	gru_destroy(gru);
	mirror_destroy(mirror);
	xpmem_remove(seg);
	mmput(importer);
	sm_rcu_barrier();
	ASSERT_UEQ(swap_slots_used(), 0);
	ASSERT_EQ(swap_off(), 0);
}
