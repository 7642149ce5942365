// SPDX-License-Identifier: MIT
/*
 * The VFIO SPAPR-TCE container and the per-mm preregistration registry
 * (seeds 000 and 001). Every rule is also checked against a deliberately
 * wrong variant where one exists, so the test proves the rule.
 */
#include "base/debug.h"
#include "secmmu/gup.h"
#include "secmmu/sched.h"
#include "secmmu/vfio.h"
#include "testutil.h"

struct proc {
	struct task_struct *task;
	struct mm_struct *mm; /* the task's mm_users stands behind it until exit */
};

static struct proc new_proc(const char *name, unsigned long npages)
{
	struct proc p;

	p.mm = mm_alloc();
	ASSERT_NOT_NULL(p.mm);
	map_anon(p.mm, TBASE, npages, PROT_RW, false);
	p.task = task_create(name, p.mm);
	ASSERT_NOT_NULL(p.task);
	return p;
}

static struct tce_container *open_container_flags(struct proc *p, unsigned int flags,
						  const struct tce_iommu_ops *ops, void *priv)
{
	struct tce_container *c = NULL;

	ASSERT_EQ(vfio_spapr_tce_open_ops(p->task, flags, ops, priv, &c), 0);
	ASSERT_NOT_NULL(c);
	return c;
}

static struct tce_container *open_container(struct proc *p)
{
	return open_container_flags(p, 0, NULL, NULL);
}

/* The test seam: fail the next put when *priv is set (then clear it). */
static long failing_put(struct mm_struct *mm, struct mm_iommu_table_group_mem_t *mem, void *priv)
{
	bool *fail_next = priv;

	if (*fail_next) {
		*fail_next = false;
		return -EBUSY;
	}
	return mm_iommu_put(mm, mem);
}

static const struct tce_iommu_ops failing_put_ops = {.prereg_put = failing_put};

static unsigned long locked_vm(struct mm_struct *mm)
{
	struct mm_stats st;

	mm_get_stats(mm, &st);
	return st.locked_vm;
}

/*
 * Seed 000/001: register, a lazy kthread holds the mm, the process exits.
 * Return the number of frames still pinned right after exit (before the
 * kthread lets go); checks that everything is gone after it does.
 */
static unsigned long pinned_after_exit_with_lazy_kthread(bool legacy)
{
	struct proc p = new_proc("p", 16);
	struct task_struct *k = kthread_create("k");
	unsigned long id = mm_id(p.mm), pinned;
	struct tce_container *c;
	int users, count;

	c = open_container_flags(&p, legacy ? VFIO_TCE_LEGACY : 0, NULL, NULL);
	ASSERT_EQ(tce_iommu_register_pages(c, p.mm, TBASE, PG(16)), 0);
	ASSERT_EQ(tce_iommu_map(c, p.mm, 0, TBASE, PG(4)), 0);
	ASSERT_UEQ(phys_pinned_frames(), 16);
	ASSERT_UEQ(locked_vm(p.mm), 16);
	ASSERT_EQ(kthread_switch_lazy(k, p.task), 0);

	ASSERT_EQ(task_exit(p.task), 0); /* exit_mm, then exit_files */
	pinned = phys_pinned_frames();
	ASSERT_EQ(mm_query_refs(id, &users, &count), 0);
	ASSERT_EQ(users, 0);
	ASSERT_EQ(count, 1); /* only the kernel thread: the container let go */
	ASSERT(vfio_container_released(c));

	ASSERT_EQ(kthread_switch_away(k), 0); /* the last mmdrop */
	sm_rcu_barrier();
	ASSERT_EQ(mm_query_refs(id, &users, &count), -ESRCH);
	ASSERT_UEQ(phys_pinned_frames(), 0);
	ASSERT_UEQ(phys_used_frames(), 0);
	vfio_container_put(c);
	task_free(p.task);
	task_free(k);
	return pinned;
}

TEST(vfio_seed000_exit_unpins_while_kthread_holds_mm)
{
	unsigned long warn0 = vfio_destroy_context_warnings();

	MM_TEST_SETUP();
	ASSERT_UEQ(pinned_after_exit_with_lazy_kthread(false), 0);
	ASSERT_UEQ(phys_used_frames(), 0);
	ASSERT_UEQ(vfio_destroy_context_warnings(), warn0);
}

/* The pre-seed-000 driver has the bug; the merged one does not. */
TEST(vfio_seed000_legacy_cleanup_at_mmdrop_keeps_pins)
{
	MM_TEST_SETUP();
	ASSERT_UEQ(pinned_after_exit_with_lazy_kthread(true), 16);
	ASSERT_UEQ(pinned_after_exit_with_lazy_kthread(false), 0);
}

/*
 * v1 (cleanup in arch_exit_mmap) is not needed: at the last mmput the region
 * is still held by the open container (exit_files comes after exit_mm), and
 * by the last mmdrop nothing is left for destroy_context.
 */
TEST(vfio_seed001_nothing_left_at_mmdrop_v1_not_needed)
{
	unsigned long seen0 = vfio_exit_mmap_regions_seen();
	unsigned long warn0 = vfio_destroy_context_warnings();
	struct proc p;
	struct tce_container *c;

	MM_TEST_SETUP();
	p = new_proc("p", 8);
	c = open_container(&p);
	ASSERT_EQ(tce_iommu_register_pages(c, p.mm, TBASE, PG(4)), 0);
	ASSERT_EQ(tce_iommu_register_pages(c, p.mm, TBASE + PG(4), PG(4)), 0);
	mmgrab(p.mm); /* look at the struct after exit */
	ASSERT_EQ(task_exit(p.task), 0);
	ASSERT_UEQ(vfio_exit_mmap_regions_seen() - seen0, 2); /* still there at exit_mmap */
	ASSERT_UEQ(mm_iommu_nr_regions(p.mm), 0);	      /* gone by exit_files */
	ASSERT_UEQ(locked_vm(p.mm), 0);
	ASSERT_UEQ(phys_pinned_frames(), 0);
	mmdrop(p.mm);
	ASSERT_UEQ(vfio_destroy_context_warnings(), warn0);
	vfio_container_put(c);
	task_free(p.task);
}

TEST(vfio_seed001_register_twice_in_one_container_is_ebusy)
{
	struct tce_container *c;
	struct proc p;

	MM_TEST_SETUP();
	p = new_proc("p", 8);
	c = open_container(&p);
	ASSERT_EQ(tce_iommu_register_pages(c, p.mm, TBASE, PG(8)), 0);
	ASSERT_EQ(tce_iommu_register_pages(c, p.mm, TBASE, PG(8)), -EBUSY);
	ASSERT_UEQ(vfio_container_nr_prereg(c), 1);
	ASSERT_UEQ(locked_vm(p.mm), 8);
	/* Overlapping a different region of the mm: -EINVAL, as mm_iommu_get. */
	ASSERT_EQ(tce_iommu_register_pages(c, p.mm, TBASE, PG(4)), -EINVAL);
	/* The legacy driver just adds a use. */
	{
		struct tce_container *old = open_container_flags(&p, VFIO_TCE_LEGACY, NULL, NULL);

		ASSERT_EQ(tce_iommu_register_pages(old, p.mm, TBASE, PG(8)), 0);
		ASSERT_EQ(tce_iommu_register_pages(old, p.mm, TBASE, PG(8)), 0);
		ASSERT_EQ(tce_iommu_unregister_pages(old, p.mm, TBASE, PG(8)), 0);
		ASSERT_EQ(tce_iommu_unregister_pages(old, p.mm, TBASE, PG(8)), 0);
		ASSERT_EQ(vfio_container_close(old, p.task), 0);
		vfio_container_put(old);
	}
	ASSERT_EQ(vfio_container_close(c, p.task), 0);
	ASSERT_EQ(vfio_container_close(c, p.task), -EBADF);
	ASSERT_UEQ(phys_pinned_frames(), 0);
	ASSERT_UEQ(locked_vm(p.mm), 0);
	vfio_container_put(c);
	ASSERT_EQ(task_exit(p.task), 0);
	task_free(p.task);
}

TEST(vfio_seed001_each_container_releases_only_its_own)
{
	struct tce_container *a, *b;
	struct proc p;

	MM_TEST_SETUP();
	p = new_proc("p", 8);
	a = open_container(&p);
	b = open_container(&p);
	ASSERT_EQ(tce_iommu_register_pages(a, p.mm, TBASE, PG(8)), 0);
	ASSERT_EQ(tce_iommu_register_pages(b, p.mm, TBASE, PG(8)), 0);
	ASSERT_UEQ(mm_iommu_nr_regions(p.mm), 1);
	ASSERT_UEQ(phys_pinned_frames(), 8); /* pinned once per mm */
	ASSERT_UEQ(locked_vm(p.mm), 8);	     /* charged once per mm */
	ASSERT_EQ(tce_iommu_map(b, p.mm, 0, TBASE, PG(2)), 0);

	ASSERT_EQ(vfio_container_close(a, p.task), 0);
	ASSERT_UEQ(phys_pinned_frames(), 8); /* b still uses it */
	ASSERT_UEQ(locked_vm(p.mm), 8);
	ASSERT_EQ(tce_iommu_unregister_pages(a, p.mm, TBASE, PG(8)), -EBADF);
	ASSERT_EQ(tce_iommu_map(b, p.mm, PG(16), TBASE + PG(2), PG(2)), 0);

	ASSERT_EQ(vfio_container_close(b, p.task), 0); /* unmaps, then the last put */
	ASSERT_UEQ(phys_pinned_frames(), 0);
	ASSERT_UEQ(locked_vm(p.mm), 0);
	ASSERT_UEQ(mm_iommu_nr_regions(p.mm), 0);
	vfio_container_put(a);
	vfio_container_put(b);
	ASSERT_EQ(task_exit(p.task), 0);
	task_free(p.task);
}

TEST(vfio_open_rejects_unknown_flags)
{
	struct tce_container *c = NULL;
	struct proc p;

	MM_TEST_SETUP();
	p = new_proc("p", 4);
	ASSERT_EQ(vfio_spapr_tce_open_ops(p.task, 0x80, NULL, NULL, &c), -EINVAL);
	ASSERT_NULL(c);
	task_free(p.task);
}

TEST(vfio_seed001_failed_put_is_warned_and_kept)
{
	unsigned long rel0 = vfio_release_warnings();
	unsigned long warn0 = vfio_destroy_context_warnings();
	unsigned long sm0 = sm_warn_count();
	struct task_struct *k = kthread_create("k");
	static bool fail_next;
	struct tce_container *c;
	struct proc p;

	MM_TEST_SETUP();
	p = new_proc("p", 8);
	c = open_container_flags(&p, 0, &failing_put_ops, &fail_next);
	ASSERT_EQ(tce_iommu_register_pages(c, p.mm, TBASE, PG(4)), 0);
	ASSERT_EQ(tce_iommu_register_pages(c, p.mm, TBASE + PG(4), PG(4)), 0);
	/* An explicit unregister whose put fails: the error, the entry kept. */
	fail_next = true;
	ASSERT_EQ(tce_iommu_unregister_pages(c, p.mm, TBASE, PG(4)), -EBUSY);
	ASSERT_UEQ(vfio_container_nr_prereg(c), 2);
	ASSERT_UEQ(phys_pinned_frames(), 8);
	ASSERT_EQ(tce_iommu_unregister_pages(c, p.mm, TBASE, PG(4)), 0); /* retry works */
	ASSERT_UEQ(phys_pinned_frames(), 4);

	/* At release (exit): warned, kept, still pinned and accounted. */
	fail_next = true;
	ASSERT_EQ(kthread_switch_lazy(k, p.task), 0);
	mmgrab(p.mm);
	ASSERT_EQ(task_exit(p.task), 0);
	ASSERT_UEQ(vfio_release_warnings() - rel0, 1);
	ASSERT_UGE(sm_warn_count() - sm0, 1);
	ASSERT_UEQ(vfio_container_nr_prereg(c), 1);
	ASSERT_UEQ(mm_iommu_nr_regions(p.mm), 1);
	ASSERT_UEQ(phys_pinned_frames(), 4);
	ASSERT_UEQ(locked_vm(p.mm), 4);
	mmdrop(p.mm);
	ASSERT_UEQ(vfio_destroy_context_warnings(), warn0);

	/* The last mmdrop: destroy_context warns; the region is then freed. */
	ASSERT_EQ(kthread_switch_away(k), 0);
	ASSERT_UEQ(vfio_destroy_context_warnings() - warn0, 1);
	sm_rcu_barrier();
	ASSERT_UEQ(phys_pinned_frames(), 0);
	vfio_container_put(c);
	task_free(p.task);
	task_free(k);
}

/*
 * tce_iommu_build_v2() / tce_iommu_clear(): a container maps any region
 * preregistered in its mm (mm_iommu_lookup over the mm's list), page by
 * page; a map over an entry replaces it, an unmap clears what is there.
 */
TEST(vfio_map_any_region_of_the_mm_as_tce_build_and_clear)
{
	struct tce_container *a, *b;
	struct proc p;

	MM_TEST_SETUP();
	p = new_proc("p", 16);
	a = open_container(&p);
	b = open_container(&p);
	ASSERT_EQ(tce_iommu_register_pages(a, p.mm, TBASE, PG(4)), 0);
	ASSERT_EQ(tce_iommu_register_pages(b, p.mm, TBASE + PG(8), PG(4)), 0);
	ASSERT_EQ(tce_iommu_map(a, p.mm, 0, TBASE, PG(4)), 0);
	ASSERT_EQ(tce_iommu_map(a, p.mm, PG(16), TBASE + PG(8), PG(1)), 0); /* b's, same mm */
	ASSERT_UEQ(vfio_container_nr_mappings(a), 5);
	/* Page 4 is in no region: -EINVAL, and the entry built for page 3 is cleared. */
	ASSERT_EQ(tce_iommu_map(a, p.mm, PG(20), TBASE + PG(3), PG(2)), -EINVAL);
	ASSERT_UEQ(vfio_container_nr_mappings(a), 5);
	ASSERT_EQ(tce_iommu_map(a, p.mm, PG(16), TBASE + 1, PG(1)), -EINVAL);
	ASSERT_EQ(tce_iommu_map(a, p.mm, PG(16), TBASE, 0), -EINVAL);
	/* Over an existing entry: replaced (the old page unused). */
	ASSERT_EQ(tce_iommu_map(a, p.mm, PG(2), TBASE, PG(1)), 0);
	ASSERT_UEQ(vfio_container_nr_mappings(a), 5);
	ASSERT_EQ(tce_iommu_unregister_pages(a, p.mm, TBASE, PG(4)), -EBUSY);
	ASSERT_EQ(tce_iommu_unregister_pages(a, p.mm, TBASE + PG(8), PG(4)), -ENOENT);
	/* b's region is mapped by a: b's put fails, its entry stays. */
	ASSERT_EQ(tce_iommu_unregister_pages(b, p.mm, TBASE + PG(8), PG(4)), -EBUSY);
	ASSERT_UEQ(vfio_container_nr_prereg(b), 1);
	/* Unmap clears the entries there are, an empty range included. */
	ASSERT_EQ(tce_iommu_unmap(a, PG(1), PG(1)), 0);
	ASSERT_UEQ(vfio_container_nr_mappings(a), 4);
	ASSERT_EQ(tce_iommu_unmap(a, PG(32), PG(1)), 0);
	ASSERT_EQ(tce_iommu_unmap(a, 0, PG(32)), 0);
	ASSERT_UEQ(vfio_container_nr_mappings(a), 0);
	ASSERT_EQ(tce_iommu_unregister_pages(a, p.mm, TBASE, PG(4)), 0);
	/* Close with mappings: they are cleared first, then the put succeeds. */
	ASSERT_EQ(tce_iommu_map(b, p.mm, 0, TBASE + PG(8), PG(2)), 0);
	ASSERT_EQ(tce_iommu_map(b, p.mm, PG(2), TBASE + PG(10), PG(2)), 0);
	ASSERT_UEQ(vfio_container_nr_mappings(b), 4);
	ASSERT_EQ(vfio_container_close(b, p.task), 0);
	ASSERT_UEQ(vfio_container_nr_mappings(b), 0);
	ASSERT_UEQ(vfio_container_nr_prereg(b), 0);
	ASSERT_UEQ(phys_pinned_frames(), 0);
	vfio_container_put(a);
	vfio_container_put(b);
	ASSERT_EQ(task_exit(p.task), 0);
	task_free(p.task);
}

/*
 * The registering container is closed first while another container of the
 * mm still has TCEs into its region: no warning, the pins stay while the
 * device may DMA there and go with the last TCE; a new registration in
 * between takes the region over. (Before: the put failed, -EBUSY, the
 * release WARNed and the region stayed pinned, with no owner, until the
 * last mmdrop: test_vfio_stress's "pinned frames left" after the exit.)
 */
TEST(vfio_release_of_region_mapped_by_another_container)
{
	unsigned long rel0 = vfio_release_warnings();
	struct tce_container *a, *b, *c, *d;
	struct proc p;

	MM_TEST_SETUP();
	p = new_proc("p", 16);
	a = open_container(&p);
	b = open_container(&p);
	c = open_container(&p);
	d = open_container(&p);
	ASSERT_EQ(tce_iommu_register_pages(b, p.mm, TBASE, PG(4)), 0);
	ASSERT_EQ(tce_iommu_map(a, p.mm, 0, TBASE, PG(2)), 0); /* b's region */
	ASSERT_EQ(vfio_container_close(b, p.task), 0);
	ASSERT_UEQ(vfio_release_warnings(), rel0);
	ASSERT_UEQ(vfio_container_nr_prereg(b), 0);
	ASSERT_UEQ(phys_pinned_frames(), 4); /* a's TCEs still point there */
	ASSERT_UEQ(locked_vm(p.mm), 4);
	/* Not mappable anew: nobody has it registered. */
	ASSERT_EQ(tce_iommu_map(a, p.mm, PG(8), TBASE + PG(2), PG(1)), -EINVAL);
	ASSERT_EQ(tce_iommu_unmap(a, 0, PG(1)), 0);
	ASSERT_UEQ(phys_pinned_frames(), 4);
	ASSERT_EQ(tce_iommu_unmap(a, PG(1), PG(1)), 0); /* the last TCE: freed */
	ASSERT_UEQ(phys_pinned_frames(), 0);
	ASSERT_UEQ(locked_vm(p.mm), 0);
	ASSERT_UEQ(mm_iommu_nr_regions(p.mm), 0);

	/* Registered again while a's TCE holds it: c's use keeps it past that TCE. */
	ASSERT_EQ(tce_iommu_register_pages(d, p.mm, TBASE, PG(4)), 0);
	ASSERT_EQ(tce_iommu_map(a, p.mm, 0, TBASE, PG(1)), 0);
	ASSERT_EQ(vfio_container_close(d, p.task), 0);
	ASSERT_EQ(tce_iommu_register_pages(c, p.mm, TBASE, PG(4)), 0);
	ASSERT_UEQ(mm_iommu_nr_regions(p.mm), 1);
	ASSERT_EQ(tce_iommu_unmap(a, 0, PG(1)), 0);
	ASSERT_UEQ(phys_pinned_frames(), 4);
	ASSERT_EQ(tce_iommu_unregister_pages(c, p.mm, TBASE, PG(4)), 0);
	ASSERT_UEQ(phys_pinned_frames(), 0);
	ASSERT_UEQ(locked_vm(p.mm), 0);
	ASSERT_UEQ(vfio_release_warnings(), rel0);
	vfio_container_put(a);
	vfio_container_put(b);
	vfio_container_put(c);
	vfio_container_put(d);
	ASSERT_EQ(task_exit(p.task), 0);
	task_free(p.task);
}

TEST(vfio_register_errors)
{
	struct tce_container *c;
	struct proc p, q;

	MM_TEST_SETUP();
	p = new_proc("p", 8);
	q = new_proc("q", 8);
	c = open_container(&p);
	mm_set_memlock_limit(p.mm, PG(4));
	ASSERT_EQ(tce_iommu_register_pages(c, p.mm, TBASE, PG(8)), -ENOMEM);
	ASSERT_UEQ(locked_vm(p.mm), 0);
	ASSERT_EQ(tce_iommu_register_pages(c, p.mm, TBASE + 1, PG(1)), -EINVAL);
	ASSERT_EQ(tce_iommu_register_pages(c, p.mm, TBASE, 0), -EINVAL);
	ASSERT_EQ(tce_iommu_register_pages(c, p.mm, TBASE + PG(6), PG(4)), -EFAULT);
	ASSERT_UEQ(locked_vm(p.mm), 0);
	ASSERT_UEQ(phys_pinned_frames(), 0);
	/* Bound to p's mm by its first use: another mm is -EPERM. */
	ASSERT_EQ(tce_iommu_register_pages(c, q.mm, TBASE, PG(1)), -EPERM);
	ASSERT_EQ(tce_iommu_unregister_pages(c, p.mm, TBASE, PG(1)), -ENOENT);
	vfio_container_put(c);
	ASSERT_EQ(task_exit(p.task), 0);
	ASSERT_EQ(task_exit(q.task), 0);
	task_free(p.task);
	task_free(q.task);
}

/* Every allocation failure on the register/map path unwinds completely. */
TEST(vfio_allocation_failures_unwind)
{
	MM_TEST_SETUP();
	for (unsigned long nth = 1; nth < 64; nth++) {
		struct tce_container *c = NULL;
		struct proc p = new_proc("p", 4);
		long r1 = -1, r2 = -1;
		int ro;

		fault_inject_alloc(nth);
		ro = vfio_spapr_tce_open(p.task, &c);
		if (!ro) {
			r1 = tce_iommu_register_pages(c, p.mm, TBASE, PG(4));
			if (!r1)
				r2 = tce_iommu_map(c, p.mm, 0, TBASE, PG(2));
		}
		fault_inject_alloc(0);
		ASSERT(ro == 0 || ro == -ENOMEM);
		ASSERT(ro || r1 == 0 || r1 == -ENOMEM);
		ASSERT_UEQ(phys_pinned_frames(), (ro == 0 && r1 == 0) ? 4 : 0);
		ASSERT_EQ(task_exit(p.task), 0);
		ASSERT_UEQ(phys_pinned_frames(), 0);
		if (!ro)
			vfio_container_put(c);
		task_free(p.task);
		sm_rcu_barrier();
		ASSERT_UEQ(phys_used_frames(), 0);
		if (ro == 0 && r1 == 0 && r2 == 0)
			break;
	}
}
