// SPDX-License-Identifier: MIT
/*
 * The bug museum's switches: names, stories, and the bit set the code paths
 * test (base/bugs.h). Each story names the source it is told from.
 */
#include <errno.h>
#include <string.h>

#include "base/bugs.h"
#include "secmmu/bugs.h"

_Atomic unsigned long historic_bugs_on;

static const struct secmmu_bug_info bugs[NR_HISTORIC_BUGS] = {
	[BUG_SVA_BOND_MM_USERS] =
		{"seed002-sva-mm-users",
		 "an SVA bond holds mm_users: mm -> VMA -> device file -> bond -> "
		 "mm, so exit never tears the address space down (seed 002, "
		 "iommu/vt-d: hold mm_count not mm_users, 2016)"},
	[BUG_PREREG_AT_MMDROP] =
		{"seed000-prereg-at-mmdrop",
		 "VFIO SPAPR-TCE preregistered pages are released only at the last "
		 "mmdrop: a lazy-TLB kernel thread holding mm_count keeps them "
		 "pinned after exit (seed 000; fixed as seed 001)"},
	[BUG_GRU_FAULT_NO_RETRY] = {"gru-fault-no-retry",
				    "a GRU TLB miss installs the translation it looked up without "
				    "checking that no invalidation began or is still running "
				    "meanwhile: a freed page stays in the device TLB (the "
				    "collision-retry rule of seed 004, the MMU notifier)"},
	[BUG_RELEASE_UNHOOKED_FIRST] =
		{"release-unhooked-first",
		 "exit unhooks every classic subscription before calling its ->release: "
		 "reclaim in that window frees a page the device still maps, its "
		 "invalidation reaching nobody (fixed by 3ad3d901bbcf)"},
	[BUG_UNREGISTER_RELEASE_TWICE] =
		{"unregister-release-twice",
		 "mmu_notifier_unregister racing exit's mmu_notifier_release: both call "
		 "->release of the same registration (751efd8610d3 fixed a NULL "
		 "dereference there; after d34883d4e35c ->release could still run twice)"},
	[BUG_COLLAPSE_NO_NOTIFIER] =
		{"collapse-no-notifier",
		 "khugepaged's collapse replaces the PTEs of 2 MiB by a huge PMD and frees "
		 "the small pages without invalidate_range_start/end: devices keep "
		 "translations of freed frames (CVE-2022-48991, the file/shmem collapse "
		 "paths)"},
	[BUG_COW_WRONG_WAY] =
		{"cow-wrong-way",
		 "a write fault reuses a COW-shared anonymous page when it is mapped once, "
		 "ignoring a GUP reference the other process took while sharing it: "
		 "that process reads our later writes (CVE-2020-29374, 17839856fd58)"},
	[BUG_FORK_PINNED_COW] =
		{"fork-pinned-cow",
		 "fork shares a pinned anonymous page copy-on-write: the parent's next "
		 "write moves the parent to a copy and the pinned page (the device's) "
		 "stops being the parent's memory (fixed by 70e806e4e645, early COW of "
		 "pinned pages at fork)"},
	[BUG_MIGRATE_FLUSH_UNLOCKED] =
		{"migrate-flush-unlocked",
		 "migration to device memory flushes the secondary TLBs after dropping the "
		 "page-table lock: a concurrent zap finds no present PTE, flushes nothing, "
		 "and the device still reaches the page after munmap/madvise returned "
		 "(mm/migrate_device.c: flush TLB while holding PTL, 2022)"},
	[BUG_INTERVAL_REMOVE_UNLOCKED_SEQ] =
		{"interval-remove-unlocked-seq",
		 "mmu_interval_notifier_remove reads invalidate_seq without the lock: it "
		 "returns while the ending invalidation still walks the deferred list "
		 "holding its subscription, which the caller then frees (319561669a59)"},
	[BUG_EMPTY_TLB_RANGE] =
		{"empty-tlb-range",
		 "the secondary-TLB flush of a zap gets an empty range: the IOMMU flushes "
		 "the whole address space at every unmap (f7edb07ad7c6, arm64's "
		 "__flush_tlb_range; a performance bug)"},
	[BUG_IOTLB_PER_PAGE_HUGE] =
		{"iotlb-per-page-huge",
		 "the IOTLB invalidates a huge range with one command per page instead of "
		 "one for the whole PASID (CVE-2023-52484, a soft lockup in arm-smmu-v3; a "
		 "performance bug)"},
	[BUG_OOM_REAP_NO_NOTIFIER] =
		{"oom-reap-no-notifier",
		 "the OOM reaper unmaps a victim's memory without MMU notifiers: devices "
		 "keep translations of the freed pages (4d4bbd8526a8 skipped mms with "
		 "notifiers; 93065ac753e4 reaps inside non-blockable invalidations)"},
	[BUG_PASID_FREED_AT_MMPUT] =
		{"pasid-freed-at-mmput",
		 "the PASID of an SVA address space is freed at __mmput, but the device "
		 "file that unbinds it is closed later, at exit_files: another process "
		 "gets the PASID while the old bond still uses it (2667ed10d9f0)"},
	[BUG_TAKE_ALL_LOCKS_MISSES] =
		{"take-all-locks-misses",
		 "mm_take_all_locks() misses the lock an invalidation holds: a notifier "
		 "registered meanwhile gets the invalidation's _end without its start "
		 "(eeff9a5d47f8: page faults under per-VMA locks)"},
	[BUG_PUT_FREE_NO_GRACE] =
		{"put-free-no-grace",
		 "the last reference of a subscription unhooks and frees it at once, with no "
		 "grace period, while an invalidation may still walk the list holding it "
		 "(amdkfd's unregister_no_release + kfree; the mmu_notifier_get/put series, "
		 "2019)"},
};

_Static_assert(NR_HISTORIC_BUGS <= 8 * sizeof(unsigned long), "too many bugs for the bit set");

const struct secmmu_bug_info *secmmu_bug_list(size_t *n)
{
	*n = NR_HISTORIC_BUGS;
	return bugs;
}

static int bug_index(const char *name)
{
	for (int i = 0; i < NR_HISTORIC_BUGS; i++)
		if (!strcmp(bugs[i].name, name))
			return i;
	return -ENOENT;
}

int secmmu_bug_set(const char *name, bool on)
{
	int i = bug_index(name);

	if (i < 0)
		return i;
	if (on)
		atomic_fetch_or(&historic_bugs_on, 1UL << i);
	else
		atomic_fetch_and(&historic_bugs_on, ~(1UL << i));
	return 0;
}

bool secmmu_bug_is_on(const char *name)
{
	int i = bug_index(name);

	return i >= 0 && historic_bug((enum historic_bug)i);
}

void secmmu_bug_reset_all(void)
{
	atomic_store(&historic_bugs_on, 0);
}
