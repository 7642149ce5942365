// SPDX-License-Identifier: MIT
/*
 * Unit tests for the scenario runner's invariant checker (`check`) and its
 * end-of-run leak check: a world built by script lines, then one rule broken
 * at a time behind the world's back through the public API, and `check` must
 * name the object and the rule; undone, `check` is ok again.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../testutil.h"
#include "secmmu/file.h"
#include "secmmu/gup.h"
#include "secmmu/iommu.h"
#include "secmmu/kvm.h"
#include "secmmu/mmu_notifier.h"
#include "secmmu/mm.h"
#include "sim/sim.h"

static FILE *devnull(void)
{
	FILE *f = fopen("/dev/null", "w");

	ASSERT(f);
	return f;
}

/* Run one script line in @w; return its RESULT (malloc()ed). */
static char *run(struct sim_world *w, const char *line)
{
	static int lineno;
	FILE *out = devnull();
	char *result = NULL;
	int rc = sim_exec_line(w, ++lineno, line, out, &result);

	fclose(out);
	if (rc != SIM_EXIT_OK)
		FAIL("line '%s' -> rc %d", line, rc);
	ASSERT(result);
	return result;
}

static void run_ok(struct sim_world *w, const char *line)
{
	char *r = run(w, line);

	if (strcmp(r, "ok") && strncmp(r, "pasid=", 6) && strncmp(r, "handle=", 7))
		FAIL("line '%s' -> %s", line, r);
	free(r);
}

static void expect_check_ok(struct sim_world *w)
{
	char *r = run(w, "check");

	ASSERT_STR_EQ(r, "ok");
	free(r);
}

/* `check` reports a problem containing @what, and that fails the line. */
static void expect_check_has(struct sim_world *w, const char *what)
{
	FILE *out = devnull();
	char *r = NULL;
	int rc = sim_exec_line(w, 1000, "check", out, &r);

	fclose(out);
	ASSERT_EQ(rc, SIM_EXIT_FAIL);
	ASSERT(r);

	if (!strstr(r, what))
		FAIL("check -> '%s', wanted '%s' in it", r, what);
	free(r);
}

static struct sim_proc *proc(struct sim_world *w, const char *name)
{
	struct sim_proc *p = sim_obj_find(w, &sim_process_type, name);

	ASSERT(p);
	return p;
}

/* A world with a process p, some memory, and every kind of holder. */
static struct sim_world *busy_world(void)
{
	struct sim_world *w = sim_world_new();

	ASSERT(w);
	run_ok(w, "mm p");
	run_ok(w, "mmap p 0x10000000 64K rw private");
	run_ok(w, "write p 0x10000000 fill:0x33:64K");
	run_ok(w, "mm q");
	run_ok(w, "mmap q 0x10000000 4K rw private");
	run_ok(w, "pin p 0x10000000 8K write longterm");
	run_ok(w, "pin p 0x10002000 4K");
	run_ok(w, "vfio c p");
	run_ok(w, "vfio_register c 0x10008000 16K");
	run_ok(w, "iommu d");
	run_ok(w, "sva_bind d p");
	run_ok(w, "devfile f d q");
	run_ok(w, "vm v p");
	run_ok(w, "mirror m p");
	run_ok(w, "gru g p");
	run_ok(w, "xpmem_make s p 0x10000000 16K");
	run_ok(w, "kthread k");
	run_ok(w, "lazy k p");
	return w;
}

static void destroy_clean(struct sim_world *w)
{
	FILE *out = devnull();

	ASSERT_EQ(sim_world_destroy(w, out), 0);
	fclose(out);
}

TEST(check_clean_world_is_ok)
{
	struct sim_world *w;

	MM_TEST_SETUP();
	w = busy_world();
	expect_check_ok(w);
	run_ok(w, "exit p");
	expect_check_ok(w);
	run_ok(w, "wake k");
	expect_check_ok(w);
	destroy_clean(w);
}

TEST(check_catches_a_pin_the_world_does_not_know)
{
	struct sim_world *w;
	struct page *page;

	MM_TEST_SETUP();
	w = busy_world();
	ASSERT_EQ(pin_user_pages_unlocked(proc(w, "p")->mm, 0x10004000, 1, FOLL_WRITE, &page), 1);
	expect_check_has(w, "pins: 8 pins on frames but the world knows of 7");
	unpin_user_pages(&page, 1);
	expect_check_ok(w);
	destroy_clean(w);
}

TEST(check_catches_an_extra_mmgrab)
{
	struct sim_world *w;
	struct mm_struct *mm;

	MM_TEST_SETUP();
	w = busy_world();
	mm = proc(w, "q")->mm;
	mmgrab(mm);
	expect_check_has(w, "q: untracked count=1: held by no live object");
	run_ok(w, "exit q");
	/* The devfile's bond went with q's exit; only our grab is left. */
	expect_check_has(w, "q: untracked count=1: held by no live object");
	mmdrop(mm);
	expect_check_ok(w);
	destroy_clean(w);
}

TEST(check_catches_an_extra_mmget)
{
	struct sim_world *w;
	struct mm_struct *mm;

	MM_TEST_SETUP();
	w = busy_world();
	mm = proc(w, "p")->mm;
	mmget(mm);
	expect_check_has(w, "p: untracked users=1: held by no live object");
	mmput(mm);
	expect_check_ok(w);
	destroy_clean(w);
}

TEST(check_catches_a_missing_reference)
{
	struct sim_world *w;
	struct mm_struct *mm;

	MM_TEST_SETUP();
	w = busy_world();
	mm = proc(w, "p")->mm;
	/* Somebody dropped a reference the world's holders count on. */
	mmdrop(mm);
	expect_check_has(w, "p: untracked count=-1: put more references than it took");
	mmgrab(mm);
	expect_check_ok(w);
	destroy_clean(w);
}

TEST(check_catches_wrong_locked_and_pinned_vm)
{
	struct sim_world *w;
	struct mm_struct *mm;

	MM_TEST_SETUP();
	w = busy_world();
	mm = proc(w, "p")->mm;
	ASSERT_EQ(account_locked_vm(mm, 3, true), 0);
	expect_check_has(w, "p: locked_vm 9 != 4 preregistered (VFIO) + 2 longterm pinned");
	account_locked_vm(mm, 3, false);
	mm_pinned_vm_add(mm, 5);
	expect_check_has(w, "p: pinned_vm 7 != 2 pinned longterm by pin handles");
	mm_pinned_vm_add(mm, -5);
	expect_check_ok(w);
	destroy_clean(w);
}

TEST(check_catches_a_pasid_without_a_known_bond)
{
	struct iommu_device *dev;
	struct iommu_sva *bond;
	struct sim_world *w;

	MM_TEST_SETUP();
	w = busy_world();
	/* A device the world does not know binds r's mm: PASID 2. */
	run_ok(w, "mm r");
	dev = iommu_device_create("hidden", 0);
	ASSERT(!IS_ERR(dev));
	bond = iommu_sva_bind_device(dev, proc(w, "r")->mm);
	ASSERT(!IS_ERR(bond));
	expect_check_has(w, "pasids: 3 allocated but 2 belong to bonds the world knows");
	/* Its mm_count references (the bond's and the notifier's) are nobody's too. */
	expect_check_has(w, "r: mmu_notifier ? count=1: held by no live object");
	expect_check_has(w, "r: sva bond ? count=1: held by no live object");
	iommu_sva_unbind_device(bond);
	ASSERT_EQ(iommu_device_destroy(dev), 0);
	expect_check_ok(w);
	destroy_clean(w);
}

/*
 * A driver that leaks: a VM the world does not know (made through the
 * public API, as an out-of-tree driver would), then destroyed: while it
 * lives its references are held by no live world object, and check names
 * them by holder kind; once it is gone, check is clean again -- with no
 * change in src/sim for this driver's refcount policy.
 */
TEST(check_names_the_holder_of_a_leaked_driver_reference)
{
	struct sim_world *w;
	struct kvm *kvm;

	MM_TEST_SETUP();
	w = busy_world();
	kvm = kvm_create_vm(proc(w, "p")->mm, 0);
	ASSERT(!IS_ERR(kvm));
	expect_check_has(w, "p: kvm ? count=1: held by no live object");
	expect_check_has(w, "p: mmu_notifier ? count=1: held by no live object");
	kvm_destroy_vm(kvm);
	expect_check_ok(w);
	destroy_clean(w);
}

struct leaky_dev {
	struct mmu_notifier mn;
};

static const struct mmu_notifier_ops leaky_ops = {0};

/* A notifier driver whose close forgets to unregister: its holder is still there. */
TEST(check_catches_a_notifier_left_registered_by_a_closed_driver)
{
	struct leaky_dev *dev = calloc(1, sizeof(*dev));
	struct sim_world *w;
	struct mm_struct *mm;
	char *r;

	MM_TEST_SETUP();
	ASSERT(dev);
	w = busy_world();
	mm = proc(w, "q")->mm;
	dev->mn.ops = &leaky_ops;
	mmu_notifier_set_owner(&dev->mn, dev);
	ASSERT_EQ(mmu_notifier_register(&dev->mn, mm), 0);
	expect_check_has(w, "q: mmu_notifier ? count=1: held by no live object");
	r = run(w, "refs q holders");
	if (!strstr(r, "task q users=1") || !strstr(r, "mmu_notifier ? count=1"))
		FAIL("refs q holders -> %s", r);
	free(r);
	mmu_notifier_unregister(&dev->mn, mm);
	free(dev);
	expect_check_ok(w);
	destroy_clean(w);
}

/* A driver that drops a reference under a holder that never took one. */
TEST(check_catches_a_put_by_the_wrong_holder)
{
	struct sim_world *w;
	struct mm_struct *mm;
	static int other;

	MM_TEST_SETUP();
	w = busy_world();
	mm = proc(w, "p")->mm;
	mmgrab_tracked(mm, &other, "test driver");
	mmdrop_tracked(mm, &other, "another kind"); /* the wrong kind: two holders wrong */
	expect_check_has(w, "p: test driver ? count=1: held by no live object");
	expect_check_has(w, "p: another kind ? count=-1: put more references than it took");
	mmgrab_tracked(mm, &other, "another kind");
	mmdrop_tracked(mm, &other, "test driver");
	expect_check_ok(w);
	destroy_clean(w);
}

TEST(check_end_of_run_reports_leaked_pins_and_files)
{
	static const struct file_operations fops = {.name = "test"};
	struct sim_world *w;
	struct page *page;
	struct file *file;
	char buf[512] = "";
	FILE *out;

	MM_TEST_SETUP();
	w = sim_world_new();
	ASSERT(w);
	run_ok(w, "mm p");
	run_ok(w, "mmap p 0x10000000 8K rw private");
	run_ok(w, "write p 0x10000000 \"x\"");
	ASSERT_EQ(pin_user_pages_unlocked(proc(w, "p")->mm, 0x10000000, 1, 0, &page), 1);
	file = file_alloc(&fops, NULL);
	ASSERT(file);
	out = fmemopen(buf, sizeof(buf) - 1, "w");
	ASSERT(out);
	ASSERT_EQ(sim_world_destroy(w, out), -1);
	fclose(out);
	if (!strstr(buf, "leaked 1 frames / 0 mm structs / 0 swap slots / 1 pins / 0 PASIDs / "
			 "1 files"))
		FAIL("end report: %s", buf);
	unpin_user_pages(&page, 1);
	fput(file);
}
