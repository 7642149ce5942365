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
	[BUG_KVM_PFN_NO_RETRY] = {"kvm-pfn-no-retry",
				  "a KVM shadow page fault installs the pfn it resolved without "
				  "the mmu_invalidate_seq / in-progress check: an invalidation "
				  "that ran meanwhile is missed and the spte outlives its page "
				  "(the MMU-notifier retry of KVM's fault path, 2008)"},
	[BUG_KVM_APIC_INVALIDATE_PAGE] =
		{"kvm-apic-invalidate-page",
		 "a pfn KVM caches outside its shadow tables (the APIC-access page in "
		 "the VMCS) is reloaded only by the invalidate_page callback, which "
		 "the primary MMU no longer calls: range invalidations leave it "
		 "pointing at a freed page (KVM x86 APIC page invalidation fix, 2017)"},
	[BUG_KVM_GPC_REFRESH_RACE] =
		{"kvm-gpc-refresh-race",
		 "a gfn_to_pfn_cache refresh trusts only the cache's own invalidation, "
		 "which runs before the notifier raises mmu_invalidate_in_progress: a "
		 "refresh in that window caches a page that is then freed (KVM "
		 "gfn=>pfn cache refresh races, 2022)"},
	[BUG_KVM_CHANGE_PTE_DEAD] =
		{"kvm-change-pte-dead",
		 "KVM implements the legacy change_pte callback, which the primary MMU "
		 "calls inside invalidate_range_start/end, after start zapped the spte: "
		 "it never changes anything, for twelve years (6bdb913f0a70 until its "
		 "removal in Linux 6.10)"},
	[BUG_KVM_MEMSLOT_MID_INVALIDATE] =
		{"kvm-memslot-mid-invalidate",
		 "KVM skips the in-progress count for invalidations outside its "
		 "memslots, deciding at start and again at end, but lets a memslot "
		 "update run in between: start and end decide differently and the "
		 "count stays unbalanced (KVM: Block memslot updates across "
		 "range_start() and range_end(), 52ac8b358b0c)"},
	[BUG_XPMEM_RELEASE_MMAP_LOCK] =
		{"xpmem-release-mmap-lock",
		 "an XPMEM exporter's teardown at exit clears its importers' PTEs under "
		 "each importer's mmap_lock: two processes attached to each other that "
		 "exit together wait for each other for ever, unkillable "
		 "(openucx/xpmem#12, hjelmn/xpmem#45)"},
	[BUG_IOMMU_PERM_UPGRADE_NO_FLUSH] =
		{"iommu-perm-upgrade-no-flush",
		 "a write fault that makes a PTE writable in place flushes the CPU TLB "
		 "but not the secondary TLBs: an IOMMU that cached the read-only "
		 "entry faults on it for ever (mmu_notifiers: call invalidate_range() "
		 "when invalidating TLBs, 6bbd42e2df8f)"},
	[BUG_DEVMEM_FAULT_REF_BEFORE_LOCK] =
		{"devmem-fault-ref-before-lock",
		 "a CPU fault on a device-private page takes a page reference before "
		 "it tries the page lock: the fault that holds the lock cannot migrate "
		 "the page back while others hold references, and enough faulting "
		 "threads livelock (mm/migrate: Trylock device page in do_swap_page, "
		 "Xe SVM, 2025)"},
	[BUG_MIRROR_LOCK_NOT_PINNED] =
		{"mirror-lock-not-pinned",
		 "a device's memory lock (\"the mapping stays valid until unlock\") "
		 "registers the range without pinning it: a migration unmaps it from "
		 "the device while its copy engine, which cannot take a retry fault, "
		 "still reads it (ROCm, hsa_amd_memory_lock with XNACK on, "
		 "ROCm/rocm-systems#10628)"},
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
