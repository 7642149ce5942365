// SPDX-License-Identifier: MIT
/*
 * `secmmu demo`: the default world, narrated.
 *
 * A process (call it qemu) with a heap runs a KVM-style guest, an SVA device
 * doing DMA, a VFIO container with preregistered memory, a GRU-style TLB and
 * an XPMEM importer; KSM merges, memory pressure swaps the guest's cold pages
 * while pinned ones stay, a GPU-like mirror moves pages into its own memory
 * and the CPU takes one back, a fork shares pages copy-on-write, and finally the
 * process exits while a kernel thread holds its mm lazily.
 *
 * Every step runs a scenario command through the same runner as
 * `secmmu run` (so the output lines are the familiar `N: COMMAND -> RESULT`),
 * and every claim the narration makes is checked: as an `=>` expectation on
 * a command, or by a check on the public accounting API. The demo succeeds
 * only if all of them held, the invariant checker is clean and nothing
 * leaked.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "secmmu/page.h"
#include "sim/sim.h"

struct demo {
	struct sim_world *w;
	FILE *out;
	int line;
	int checks;
	int failed;
};

/*
 * A narrated script: "# text" is said, "## text" starts a section, anything
 * else is a command, with " => EXPECTED" making it a checked claim.
 */
static void demo_run(struct demo *d, const char *const *steps)
{
	for (; *steps; steps++) {
		const char *s = *steps;
		int rc;

		if (!strncmp(s, "## ", 3)) {
			fprintf(d->out, "\n== %s ==\n", s + 3);
			continue;
		}
		if (!strncmp(s, "# ", 2)) {
			fprintf(d->out, "   %s\n", s + 2);
			continue;
		}
		fputs("   ", d->out);
		rc = sim_exec_line(d->w, ++d->line, s, d->out, NULL);
		if (strstr(s, "=>")) {
			d->checks++;
			if (rc != SIM_EXIT_OK)
				d->failed++;
		}
	}
}

static void demo_claim(struct demo *d, bool held, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void demo_claim(struct demo *d, bool held, const char *fmt, ...)
{
	va_list ap;

	fputs("   check: ", d->out);
	va_start(ap, fmt);
	vfprintf(d->out, fmt, ap);
	va_end(ap);
	fprintf(d->out, " ... %s\n", held ? "held" : "FAILED");
	d->checks++;
	if (!held)
		d->failed++;
}

static unsigned long frames_in_use(void)
{
	return phys_initialized() ? phys_used_frames() : 0;
}

static const char *const world[] = {
	"## A process with a heap",
	"# Physical memory is 8 MiB of real page frames; swap is 16 MiB.",
	"phys 8M => ok",
	"swap 16M memory => ok",
	"# qemu gets an address space (struct mm): mm_users=1 (the process uses it),",
	"# mm_count=1 (one reference to the struct, held for all users together).",
	"mm qemu => ok",
	"refs qemu => users=1 count=1",
	"mmap qemu 0x10000000 256K rw private => ok",
	"# A frame is allocated only when a page is first written.",
	"write qemu 0x10000000 fill:0x11:256K => ok",
	"mem qemu => rss=64 swap=0 locked_vm=0 pinned=0 thp=0",
	NULL,
};

static const char *const fork_steps[] = {
	"## fork and copy-on-write",
	"# qemu forks. The child's address space shares qemu's frames, write-protected",
	"# in both (an MMU_NOTIFY_PROTECTION_PAGE invalidation on qemu): nothing is",
	"# copied until somebody writes.",
	"fork qemu child => ok",
	"read child 0x10000000 5 => 6775657374",
	NULL,
};

static const char *const attach[] = {
	"## Secondary MMUs attach",
	"# A KVM-style VM: guest physical memory is qemu's heap. It registers an MMU",
	"# notifier and grabs the mm: two mm_count references, no mm_users, no pins.",
	"vm vm0 qemu => ok",
	"refs qemu => users=1 count=3",
	"vcpu vm0 write 0x10000000 \"guest\" => ok",
	"sptes vm0 => sptes=1",
	"# A VFIO container preregisters 64 KiB for DMA: those pages are pinned",
	"# (never swapped, never moved) and charged to locked_vm.",
	"mmap qemu 0x20000000 64K rw private => ok",
	"write qemu 0x20000000 fill:0x22:64K => ok",
	"vfio c0 qemu => ok",
	"vfio_register c0 0x20000000 64K => ok",
	"vfio_map c0 0x0 0x20000000 64K => ok",
	"refs qemu => users=1 count=4",
	"# A device behind an SVA IOMMU shares qemu's page table through a PASID. The",
	"# bond holds mm_count through its notifier, never mm_users (seed 002).",
	"iommu nic => ok",
	"sva_bind nic qemu => pasid=1",
	"refs qemu => users=1 count=6",
	"dma nic qemu write 0x10010000 \"dma!\" => ok",
	"read qemu 0x10010000 4 => 646d6121",
	"# A GRU-style TLB (no page table of its own) and an XPMEM importer: process",
	"# peer maps 16 KiB of qemu's heap; its faults resolve in qemu's mm.",
	"gru g0 qemu => ok",
	"gru_read g0 0x10000000 5 => 6775657374",
	"mm peer => ok",
	"xpmem_make seg0 qemu 0x10020000 16K => ok",
	"xpmem_attach seg0 peer 0x30000000 => ok",
	"read peer 0x30000000 2 => 1111",
	"refs qemu => users=1 count=8",
	"mem => frames=80 pinned=16 swapped=0 locked_vm=16",
	NULL,
};

static const char *const ksm_steps[] = {
	"## KSM",
	"# 64 KiB of the heap hold identical pages. KSM merges them into one",
	"# write-protected frame inside MMU-notifier invalidations that zap the VM's",
	"# sptes first (the legacy change_pte, called after that, never found one:",
	"# Linux removed it; `bug kvm-change-pte-dead` puts it back).",
	"madvise qemu 0x10030000 64K mergeable => ok",
	"ksm => merged=15",
	"mem => frames=65 pinned=16 swapped=0 locked_vm=16",
	NULL,
};

static const char *const pressure_steps[] = {
	"## Memory pressure",
	"# Reclaim makes one pass over the LRU: pages used since the last look (the",
	"# CPU's young bit, or a secondary MMU answering clear_flush_young) get a",
	"# second chance. The first pass only ages.",
	"pressure 500 => reclaimed=0",
	"# The guest keeps using its page (the spte's accessed bit)...",
	"vcpu vm0 read 0x10000000 5 => 6775657374",
	"# ...so the second pass swaps out everything else that can go: every mapping",
	"# of each page becomes a swap entry inside an invalidation, so every",
	"# secondary MMU drops its translation first. The 16 pinned VFIO pages and",
	"# the KSM page stay.",
	"pressure 500 => reclaimed=47",
	"mem => frames=18 pinned=16 swapped=47 locked_vm=16",
	"sptes vm0 => sptes=1",
	"# The devices fault the swapped pages back in, no pins needed (seed 004).",
	"vcpu vm0 read 0x10030000 2 => 1111",
	"dma nic qemu read 0x10010000 4 => 646d6121",
	"read peer 0x30000000 2 => 1111",
	NULL,
};

static const char *const migrate_steps[] = {
	"## Migration",
	"# Moving a page to another frame: every mapping becomes a migration entry",
	"# (MMU_NOTIFY_CLEAR), the data is copied, the entries point at the new",
	"# frame. A pinned page cannot move.",
	"migrate qemu 0x20000000 4K => -EBUSY",
	"migrate qemu 0x10000000 4K => ok",
	"vcpu vm0 read 0x10000000 5 => 6775657374",
	"gru_read g0 0x10000000 5 => 6775657374",
	"## The invariant checker",
	"# Frames, map counts, swap slots, pins, stale translations, every device.",
	"check => ok",
	NULL,
};

static const char *const device_memory_steps[] = {
	"## Device memory (HMM)",
	"# A GPU-like mirror has memory of its own (device-private pages the CPU",
	"# cannot touch). Two pages of a buffer move there (migrate_vma): their PTEs",
	"# become device-private entries, every other device is invalidated first,",
	"# and the system frames are freed.",
	"mmap qemu 0x40000000 16K rw private => ok",
	"write qemu 0x40000000 \"gpu\" => ok",
	"write qemu 0x40001000 \"svm\" => ok",
	"mirror gpu qemu => ok",
	"mirror_migrate gpu 0x40000000 8K device => ok",
	"mirror_snapshot gpu 0x40000000 16K => dd..",
	"mem => frames=20 pinned=16 swapped=45 locked_vm=16 device=2",
	"# The CPU touches one: the fault calls the device's migrate_to_ram, the page",
	"# comes back to a system frame, and the device sees it there.",
	"read qemu 0x40000000 3 => 677075",
	"mirror_snapshot gpu 0x40000000 16K => wd..",
	"# The device reads both, its own memory and system memory alike.",
	"mirror_read gpu 0x40001000 3 => 73766d",
	"# Closing the device evicts what is still in its memory.",
	"mirror_close gpu => ok",
	"read qemu 0x40001000 3 => 73766d",
	"munmap qemu 0x40000000 16K => ok",
	"check => ok",
	NULL,
};

static const char *const exit_steps[] = {
	"## Exit while a kernel thread holds the mm lazily",
	"exit child => ok",
	"# A kernel thread that runs right after qemu keeps qemu's mm loaded as its",
	"# active_mm (lazy TLB): it takes mm_count (the struct), not mm_users.",
	"kthread kworker => ok",
	"lazy kworker qemu => ok",
	"refs qemu => users=1 count=9",
	"# qemu exits. mm_users drops to 0: exit_mmap calls every notifier's release",
	"# first (the IOMMU clears the PASID entry, the VM zaps its sptes), then frees",
	"# every page. Right after, exit closes qemu's files: the VFIO container",
	"# releases what it preregistered (seed 001). Pins and locked_vm are back now,",
	"# though the struct lives on for the kernel thread and the devices.",
	"exit qemu => ok",
	"mem => frames=0 pinned=0 swapped=0 locked_vm=0",
	"refs qemu => users=0 count=7",
	"# Device accesses fail cleanly; nothing stale is reachable.",
	"dma nic qemu read 0x10000000 4 => -ESRCH",
	"vcpu vm0 read 0x10000000 4 => -ESRCH",
	"gru_read g0 0x10000000 4 => -ESRCH",
	"read peer 0x30000000 2 => -EFAULT",
	"# No mm_exit callback: the PASID stays allocated until the driver unbinds",
	"# (seed 003).",
	"pasids nic => 1:exited allocated=1",
	"sva_unbind nic qemu => ok",
	"vm_close vm0 => ok",
	"gru_close g0 => ok",
	"xpmem_remove seg0 => ok",
	"refs qemu => users=0 count=1",
	"# The kernel thread switches away: the last mm_count goes, the struct is",
	"# freed. It might have slept for hours; nothing pinned waited for it (seed 000).",
	"wake kworker => ok",
	"refs qemu => freed",
	"exit peer => ok",
	"check => ok",
	"mem => frames=0 pinned=0 swapped=0 locked_vm=0",
	NULL,
};

int sim_demo(FILE *out)
{
	struct demo d = {.out = out};
	unsigned long before;

	d.w = sim_world_new();
	if (!d.w) {
		fprintf(out, "demo: out of memory\n");
		return 1;
	}
	fprintf(out, "secmmu demo: a process with a heap, a guest, devices and a kernel thread;\n");
	fprintf(out, "who holds which reference, which notifier fires, what is freed when.\n");
	demo_run(&d, world);
	demo_run(&d, attach);
	demo_run(&d, ksm_steps);
	demo_run(&d, pressure_steps);
	demo_run(&d, migrate_steps);
	demo_run(&d, device_memory_steps);
	demo_run(&d, fork_steps);
	before = frames_in_use();
	demo_run(&d, (const char *const[]){
			     "# The child writes: one page is copied, for the child alone.",
			     "write child 0x10000000 \"child\" => ok", NULL});
	demo_claim(&d, frames_in_use() == before + 1,
		   "the write took exactly one new frame (%lu -> %lu frames in use)", before,
		   frames_in_use());
	demo_run(&d, (const char *const[]){"read child 0x10000000 5 => 6368696c64",
					   "read qemu 0x10000000 5 => 6775657374",
					   "vcpu vm0 read 0x10000000 5 => 6775657374",
					   "check => ok", NULL});
	demo_run(&d, exit_steps);
	fputc('\n', out);
	d.checks++;
	if (sim_world_destroy(d.w, out))
		d.failed++;
	if (d.failed)
		fprintf(out, "demo: FAILED: %d of %d checks did not hold\n", d.failed, d.checks);
	else
		fprintf(out, "demo: ok: all %d checks held, every frame and mm struct came back\n",
			d.checks);
	return d.failed ? 1 : 0;
}
