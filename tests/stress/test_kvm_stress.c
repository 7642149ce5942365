// SPDX-License-Identifier: MIT
/*
 * vCPU threads run random guest accesses with data checks while the owner
 * unmaps and remaps (with known content), protects, swaps, migrates and
 * merges guest memory under them, and finally exits.
 *
 * Oracles:
 *  - private pages: each vCPU owns VCPU_PAGES pages, writes them (whole
 *    pages with one of a few fill bytes, so KSM finds identical pages, or a
 *    few random bytes) and keeps the expected contents; the owner only does
 *    content-preserving things to them (mprotect r/rw, page-out, reclaim,
 *    migration, KSM). Every read must return exactly what the vCPU wrote.
 *  - shared pages: the owner replaces them (munmap + mmap + a full-page
 *    fill of a new, higher version) and vCPUs only read: a read must be
 *    untorn and not older than the version published before it began, or
 *    0 / -EFAULT while the page is being replaced.
 * The generation check counts every access through a stale spte; at the end
 * nothing may be stale, and every frame and swap slot must come back.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "secmmu/kvm.h"
#include "secmmu/migrate.h"
#include "secmmu/swap.h"
#include "base/thread.h"
#include "testutil.h"

#define VCPUS	     4
#define VCPU_PAGES   4
#define PRIV_PAGES   (VCPUS * VCPU_PAGES)
#define SHARED_PAGES 8
#define NPAGES	     (PRIV_PAGES + SHARED_PAGES)
#define SHARED_BASE  (TBASE + PG(PRIV_PAGES))
#define RUN_NSEC     2500000000L

static struct mm_struct *mm;
static _Atomic unsigned int version[SHARED_PAGES];
static _Atomic unsigned long checked_reads, wrong_reads, stale_reads;

struct vcpu_arg {
	struct kvm_vcpu *vcpu;
	int index;
	unsigned char expect[VCPU_PAGES][PAGE_SIZE];
};

static bool check_private(struct vcpu_arg *a, int p, unsigned int *seed)
{
	unsigned long gpa = TBASE + PG(a->index * VCPU_PAGES + p);
	size_t off = (size_t)(rand_r(seed) % (PAGE_SIZE - 256));
	unsigned char buf[256];
	int ret = kvm_vcpu_read(a->vcpu, gpa + off, buf, sizeof(buf));

	if (ret == -ESRCH)
		return false;
	ASSERT_EQ(ret, 0);
	if (memcmp(buf, a->expect[p] + off, sizeof(buf)))
		atomic_fetch_add(&wrong_reads, 1);
	atomic_fetch_add(&checked_reads, 1);
	return true;
}

static bool write_private(struct vcpu_arg *a, int p, unsigned int *seed)
{
	unsigned long gpa = TBASE + PG(a->index * VCPU_PAGES + p);
	unsigned char buf[PAGE_SIZE];
	size_t off = 0, len = PAGE_SIZE;
	int ret;

	if (rand_r(seed) % 4) {
		memset(buf, 1 + rand_r(seed) % 3, PAGE_SIZE); /* mergeable */
	} else {
		len = 16;
		off = (size_t)(rand_r(seed) % (PAGE_SIZE - len));
		for (size_t i = 0; i < len; i++)
			buf[i] = (unsigned char)rand_r(seed);
	}
	ret = kvm_vcpu_write(a->vcpu, gpa + off, buf, len);
	if (ret == -ESRCH)
		return false;
	if (ret == -EFAULT)
		return true; /* mprotected read-only right now: nothing was written */
	ASSERT_EQ(ret, 0);
	memcpy(a->expect[p] + off, buf, len);
	return true;
}

static bool read_shared(struct vcpu_arg *a, unsigned int *seed)
{
	unsigned int p = (unsigned int)rand_r(seed) % SHARED_PAGES;
	unsigned int before = atomic_load_explicit(&version[p], memory_order_acquire);
	unsigned char buf[64];
	int ret = kvm_vcpu_read(a->vcpu, SHARED_BASE + PG(p) + 512, buf, sizeof(buf));

	if (ret == -ESRCH)
		return false;
	if (ret == -EFAULT)
		return true; /* unmapped right now */
	ASSERT_EQ(ret, 0);
	for (size_t i = 1; i < sizeof(buf); i++)
		ASSERT_EQ(buf[i], buf[0]); /* torn: an access raced a free */
	if (buf[0] != 0 && buf[0] < (before & 0xff) && before < 255)
		atomic_fetch_add(&stale_reads, 1);
	return true;
}

static void *vcpu_thread(void *arg)
{
	struct vcpu_arg *a = arg;
	unsigned int seed = 1000u + (unsigned int)a->index;

	for (;;) {
		int p = rand_r(&seed) % VCPU_PAGES;
		bool alive;

		switch (rand_r(&seed) % 3) {
		case 0:
			alive = write_private(a, p, &seed);
			break;
		case 1:
			alive = check_private(a, p, &seed);
			break;
		default:
			alive = read_shared(a, &seed);
			break;
		}
		if (!alive)
			return NULL; /* the owner exited: release zapped everything */
	}
}

static void publish(unsigned int p, unsigned int v)
{
	unsigned char fill[PAGE_SIZE];

	memset(fill, (int)v, sizeof(fill));
	ASSERT_EQ(mm_write(mm, SHARED_BASE + PG(p), fill, sizeof(fill)), 0);
	atomic_store_explicit(&version[p], v, memory_order_release);
}

static void mutate(unsigned int round, unsigned int *seed)
{
	unsigned int s = (unsigned int)rand_r(seed) % SHARED_PAGES;
	unsigned long priv = TBASE + PG(rand_r(seed) % PRIV_PAGES);
	unsigned int v = atomic_load(&version[s]);

	switch (round % 7) {
	case 0: /* replace a shared page: the old frame is freed */
		ASSERT_EQ(mm_munmap(mm, SHARED_BASE + PG(s), PG(1)), 0);
		ASSERT_EQ(mm_mmap(mm, SHARED_BASE + PG(s), PG(1), PROT_RW, MAP_PRIVATE, NULL, 0),
			  (long)(SHARED_BASE + PG(s)));
		publish(s, v < 250 ? v + 1 : 250);
		break;
	case 1:
		ASSERT_EQ(mm_mprotect(mm, priv, PG(1), PROT_READ), 0);
		ASSERT_EQ(mm_mprotect(mm, priv, PG(1), PROT_RW), 0);
		break;
	case 2:
		ASSERT_EQ(mm_madvise(mm, priv, PG(1), MADV_PAGEOUT), 0);
		break;
	case 3:
		try_to_free_pages(8);
		break;
	case 4: {
		int ret = migrate_range(mm, priv, PG(2));

		ASSERT(ret == 0 || ret == -EAGAIN ||
		       ret == -EBUSY); /* a gup in flight at every pass */
		break;
	}
	case 5:
		ksm_scan_all();
		break;
	default:
		ASSERT_EQ(mm_madvise(mm, SHARED_BASE + PG(s), PG(1), MADV_PAGEOUT), 0);
		break;
	}
}

static long elapsed_ns(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000000000L + (t.tv_nsec - t0->tv_nsec);
}

TEST(kvm_vcpus_vs_primary_mmu_mutations_then_exit)
{
	static struct vcpu_arg args[VCPUS];
	struct sm_thread threads[VCPUS];
	struct kvm_stats st;
	unsigned int seed = 4242;
	struct timespec t0;
	struct kvm *kvm;

	MM_TEST_SETUP();
	ASSERT_EQ(swap_on(4 << 20, NULL), 0);
	mm = mm_alloc();
	ASSERT_NOT_NULL(mm);
	map_anon(mm, TBASE, NPAGES, PROT_RW, false);
	ASSERT_EQ(mm_madvise(mm, TBASE, PG(NPAGES), MADV_MERGEABLE), 0);
	for (unsigned int p = 0; p < SHARED_PAGES; p++)
		publish(p, 1);
	kvm = kvm_create_vm(mm, 0);
	ASSERT(!IS_ERR(kvm));
	for (int i = 0; i < VCPUS; i++) {
		args[i].index = i;
		args[i].vcpu = kvm_create_vcpu(kvm);
		ASSERT(!IS_ERR(args[i].vcpu));
		ASSERT_EQ(sm_thread_create(&threads[i], vcpu_thread, &args[i], "guest %d", i), 0);
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (unsigned int r = 0; elapsed_ns(&t0) < RUN_NSEC; r++)
		mutate(r, &seed);
	mmput(mm); /* exit while the vCPUs run: release zaps, they see -ESRCH and stop */
	for (int i = 0; i < VCPUS; i++)
		sm_thread_join(&threads[i]);
	kvm_get_stats(kvm, &st);
	ASSERT_UEQ(st.sptes, 0);
	ASSERT_UEQ(st.stale, 0);
	ASSERT_UEQ(st.change_pte_hits, 0);
	ASSERT_UEQ(phys_used_frames(), 0); /* no reference held by any spte */
	kvm_destroy_vm(kvm);
	ASSERT_UEQ(atomic_load(&wrong_reads), 0);
	ASSERT_UEQ(atomic_load(&stale_reads), 0);
	ASSERT_UGT(atomic_load(&checked_reads), 100);
	ASSERT_UEQ(phys_stale_count(), 0);
	ASSERT_UEQ(swap_slots_used(), 0);
	ASSERT_EQ(swap_off(), 0);
}
