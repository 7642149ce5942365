// SPDX-License-Identifier: MIT
/*
 * `secmmu demo`: the default world, narrated.
 *
 * Every step runs a scenario command through the same runner as `secmmu run`
 * (so the output lines are the familiar `N: COMMAND -> RESULT`), and every
 * claim the narration makes is checked: either as an `=>` expectation on a
 * command or by a check on the public accounting API. The demo succeeds
 * only if all of them held and nothing leaked.
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

static void demo_title(struct demo *d, const char *title)
{
	fprintf(d->out, "\n== %s ==\n", title);
}

static void demo_say(struct demo *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void demo_say(struct demo *d, const char *fmt, ...)
{
	va_list ap;

	fputs("   ", d->out);
	va_start(ap, fmt);
	vfprintf(d->out, fmt, ap);
	va_end(ap);
	fputc('\n', d->out);
}

/* Run "@cmd => @expected": one checked claim. */
static void demo_expect(struct demo *d, const char *cmd, const char *expected)
{
	char line[512];
	int rc;

	snprintf(line, sizeof(line), "%s => %s", cmd, expected);
	fputs("   ", d->out);
	rc = sim_exec_line(d->w, ++d->line, line, d->out, NULL);
	d->checks++;
	if (rc != SIM_EXIT_OK)
		d->failed++;
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

static void demo_processes(struct demo *d)
{
	demo_title(d, "Two processes");
	demo_say(d, "Each process gets its own address space (struct mm). It starts with");
	demo_say(d, "mm_users=1 (one user: the process) and mm_count=1 (one reference to the");
	demo_say(d, "struct, held on behalf of all users together).");
	demo_expect(d, "phys 16M", "ok");
	demo_expect(d, "mm alice", "ok");
	demo_expect(d, "mm bob", "ok");
	demo_expect(d, "refs alice", "users=1 count=1");
	demo_say(d, "Both map memory at the same virtual address; each sees only its own data.");
	demo_expect(d, "mmap alice 0x10000000 16K rw private", "ok");
	demo_expect(d, "mmap bob 0x10000000 4K rw private", "ok");
	demo_expect(d, "write alice 0x10000000 \"hello from alice\"", "ok");
	demo_expect(d, "write bob 0x10000000 \"bob\"", "ok");
	demo_expect(d, "read alice 0x10000000 5", "68656c6c6f");
	demo_expect(d, "read bob 0x10000000 3", "626f62");
	demo_say(d, "A page frame is allocated only when a page is first touched:");
	demo_expect(d, "mem alice", "rss=1 swap=0 locked_vm=0 pinned=0");
}

static void demo_fork(struct demo *d)
{
	unsigned long before;

	demo_title(d, "fork and copy-on-write");
	demo_say(d, "alice forks carol. carol's address space is a copy that shares alice's");
	demo_say(d, "frames, write-protected: nothing is copied until somebody writes.");
	demo_expect(d, "fork alice carol", "ok");
	demo_expect(d, "refs carol", "users=1 count=1");
	demo_expect(d, "read carol 0x10000000 16", "68656c6c6f2066726f6d20616c696365");
	demo_expect(d, "mem carol", "rss=1 swap=0 locked_vm=0 pinned=0");
	before = frames_in_use();
	demo_say(d, "carol writes: the shared page is copied for carol alone.");
	demo_expect(d, "write carol 0x10000000 \"carol\"", "ok");
	demo_claim(d, frames_in_use() == before + 1,
		   "the write took exactly one new frame (%lu -> %lu frames in use)", before,
		   frames_in_use());
	demo_expect(d, "read carol 0x10000000 16", "6361726f6c2066726f6d20616c696365");
	demo_say(d, "alice keeps her data:");
	demo_expect(d, "read alice 0x10000000 16", "68656c6c6f2066726f6d20616c696365");
}

static void demo_statistics(struct demo *d)
{
	demo_title(d, "Memory statistics");
	demo_say(d, "System totals (in pages), and the invariant checks: every frame is either");
	demo_say(d, "free or in use, and every mm's counters cover what is known to hold them.");
	demo_expect(d, "check", "ok");
	fputs("   ", d->out);
	sim_exec_line(d->w, ++d->line, "mem", d->out, NULL);
}

static void demo_lazy_tlb(struct demo *d)
{
	unsigned long before;

	demo_title(d, "A kernel thread borrows alice's mm (lazy TLB)");
	demo_say(d, "A kernel thread has no address space. When it runs right after alice on a");
	demo_say(d, "CPU it keeps alice's mm loaded as active_mm, taking mm_count (the struct),");
	demo_say(d, "not mm_users (the pages).");
	demo_expect(d, "kthread kswapd", "ok");
	demo_expect(d, "lazy kswapd alice", "ok");
	demo_expect(d, "refs alice", "users=1 count=2");
	demo_say(d, "alice exits. mm_users drops to 0: all of alice's pages and page tables");
	demo_say(d, "are freed at once, although the struct lives on for the kernel thread.");
	before = frames_in_use();
	demo_expect(d, "exit alice", "ok");
	demo_claim(d, frames_in_use() + 1 == before,
		   "alice's one page came back at exit (%lu -> %lu frames in use)", before,
		   frames_in_use());
	demo_expect(d, "refs alice", "users=0 count=1");
	demo_expect(d, "mem alice", "-ESRCH");
	demo_say(d, "carol's copy is her own and survives alice:");
	demo_expect(d, "read carol 0x10000000 5", "6361726f6c");
	demo_say(d, "The kernel thread switches away: the last mm_count reference is dropped");
	demo_say(d, "and the struct is freed. It might have slept for hours: nothing that pins");
	demo_say(d, "pages may wait for this moment.");
	demo_expect(d, "wake kswapd", "ok");
	demo_expect(d, "refs alice", "freed");
}

static void demo_end(struct demo *d)
{
	demo_title(d, "Everyone exits");
	demo_expect(d, "exit bob", "ok");
	demo_expect(d, "exit carol", "ok");
	demo_expect(d, "refs carol", "freed");
	demo_expect(d, "mem", "frames=0 pinned=0 swapped=0 locked_vm=0");
}

int sim_demo(FILE *out)
{
	struct demo d = {.out = out};

	d.w = sim_world_new();
	if (!d.w) {
		fprintf(out, "demo: out of memory\n");
		return 1;
	}
	fprintf(out, "secmmu demo: mm_users (the address space is in use) versus mm_count\n");
	fprintf(out, "(the struct is referenced), shown on a small world.\n");
	demo_processes(&d);
	demo_fork(&d);
	demo_statistics(&d);
	demo_lazy_tlb(&d);
	demo_end(&d);
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
