// SPDX-License-Identifier: MIT
/*
 * mirror_buffer - a tiny secondary-MMU driver written only against the
 * public API (include/secmmu/), mirroring one buffer of a process. Its lock
 * is the driver kit's ranked lock (secmmu/kit/lock.h), as a driver's must
 * be: the library checks its order against its own locks (a table lock
 * taken in notifier callbacks: LOCK_RANK_DRIVER_MMU) and the interleaving
 * explorer sees it.
 *
 * The "device" keeps its own translation of each page of the buffer (frame
 * number + generation) and copies through it with memcpy, as DMA would. It
 * pins nothing: an interval notifier tells it when the CPU page table
 * changes, and its invalidate callback drops the translations, under the
 * driver's own lock. A device fault fills a translation with the
 * collision-retry scheme:
 *
 *	seq = mmu_interval_read_begin(&notifier);
 *	mmap_read_lock(mm); hmm_range_fault(&range); mmap_read_unlock(mm);
 *	lock(driver);
 *	if (mmu_interval_read_retry(&notifier, seq)) { unlock; retry; }
 *	install; (use it;) unlock(driver);
 *
 * It then shows that the device stays coherent with the CPU across munmap +
 * mmap, fork + copy-on-write and page-out to swap + swap-in, and exits 0
 * only if every check held.
 *
 * Build against an installed library:
 *	cc -o mirror_buffer mirror_buffer.c $(pkg-config --cflags --libs secmmu)
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <secmmu/err.h>
#include <secmmu/hmm.h>
#include <secmmu/kit/lock.h>
#include <secmmu/mm.h>
#include <secmmu/mmu_notifier.h>
#include <secmmu/page.h>
#include <secmmu/swap.h>

#define BUF_ADDR  0x10000000UL
#define BUF_PAGES 4

/* The device: translations of [start, start + BUF_PAGES pages) of @mm. */
struct mbuf {
	struct mmu_interval_notifier notifier;
	struct mm_struct *mm;
	unsigned long start;
	struct sm_mutex lock; /* the driver lock: the table, and the sequence */
	struct {
		unsigned long pfn; /* 0: no translation */
		uint32_t gen;
		bool writable;
	} table[BUF_PAGES];
	unsigned long invalidations;
	unsigned long stale; /* used a translation whose frame was freed: a bug */
};

static int checks, failures;

static void check(bool held, const char *what)
{
	checks++;
	if (!held)
		failures++;
	printf("  %-62s %s\n", what, held ? "ok" : "FAILED");
}

static unsigned long nr_translations(struct mbuf *mb)
{
	unsigned long n = 0;

	sm_mutex_lock(&mb->lock);
	for (int i = 0; i < BUF_PAGES; i++)
		n += mb->table[i].pfn != 0;
	sm_mutex_unlock(&mb->lock);
	return n;
}

/*
 * The CPU page table of the overlap is about to change: drop our
 * translations of it. May sleep only if the range is blockable.
 */
static bool mbuf_invalidate(struct mmu_interval_notifier *sub,
			    const struct mmu_notifier_range *range, unsigned long cur_seq)
{
	struct mbuf *mb = (struct mbuf *)((char *)sub - offsetof(struct mbuf, notifier));

	if (mmu_notifier_range_blockable(range))
		sm_mutex_lock(&mb->lock);
	else if (!sm_mutex_trylock(&mb->lock))
		return false;
	mmu_interval_set_seq(sub, cur_seq);
	for (int i = 0; i < BUF_PAGES; i++) {
		unsigned long addr = mb->start + (unsigned long)i * PAGE_SIZE;

		if (addr >= range->start && addr < range->end)
			mb->table[i].pfn = 0;
	}
	mb->invalidations++;
	sm_mutex_unlock(&mb->lock);
	return true;
}

static const struct mmu_interval_notifier_ops mbuf_ops = {
	.invalidate = mbuf_invalidate,
};

/*
 * A device fault on page @i: on success the translation is installed and
 * the driver lock is HELD (the caller copies, then unlocks), so no
 * invalidation can slip in between. Return: 0, -EFAULT, -ENOMEM.
 */
static int mbuf_fault_locked(struct mbuf *mb, int i, bool write)
{
	unsigned long hmm_pfn;
	uint32_t gen;
	struct hmm_range range = {
		.notifier = &mb->notifier,
		.start = mb->start + (unsigned long)i * PAGE_SIZE,
		.end = mb->start + (unsigned long)(i + 1) * PAGE_SIZE,
		.hmm_pfns = &hmm_pfn,
		.hmm_gens = &gen,
		.default_flags = HMM_PFN_REQ_FAULT | (write ? HMM_PFN_REQ_WRITE : 0),
	};
	int ret;

	for (;;) {
		range.notifier_seq = mmu_interval_read_begin(&mb->notifier);
		hmm_pfn = 0;
		mmap_read_lock(mb->mm);
		ret = hmm_range_fault(&range);
		mmap_read_unlock(mb->mm);
		if (ret == -EBUSY)
			continue;
		if (ret)
			return ret;
		sm_mutex_lock(&mb->lock);
		if (mmu_interval_read_retry(&mb->notifier, range.notifier_seq)) {
			sm_mutex_unlock(&mb->lock);
			continue; /* an invalidation came in between: what we read is stale */
		}
		mb->table[i].pfn = hmm_pfn_to_pfn(hmm_pfn);
		mb->table[i].gen = gen;
		mb->table[i].writable = hmm_pfn & HMM_PFN_WRITE;
		return 0;
	}
}

/* DMA: copy between @buf and the buffer at byte @off, page by page. */
static int mbuf_dma(struct mbuf *mb, unsigned long off, void *buf, size_t len, bool write)
{
	while (len) {
		int i = (int)(off / PAGE_SIZE);
		size_t in = off % PAGE_SIZE, chunk = PAGE_SIZE - in;
		char *frame;
		int ret;

		if (i >= BUF_PAGES)
			return -EFAULT;
		if (chunk > len)
			chunk = len;
		sm_mutex_lock(&mb->lock);
		if (!mb->table[i].pfn || (write && !mb->table[i].writable)) {
			sm_mutex_unlock(&mb->lock);
			ret = mbuf_fault_locked(mb, i, write);
			if (ret)
				return ret;
		}
		if (!page_gen_valid(mb->table[i].pfn, mb->table[i].gen))
			mb->stale++; /* never happens in a correct driver */
		frame = page_address(pfn_to_page(mb->table[i].pfn));
		if (write)
			memcpy(frame + in, buf, chunk);
		else
			memcpy(buf, frame + in, chunk);
		sm_mutex_unlock(&mb->lock);
		off += chunk;
		buf = (char *)buf + chunk;
		len -= chunk;
	}
	return 0;
}

static bool cpu_reads_n(struct mm_struct *mm, unsigned long off, const char *want, size_t len)
{
	char got[32];

	return !mm_read(mm, BUF_ADDR + off, got, len) && !memcmp(got, want, len);
}

static bool dev_reads_n(struct mbuf *mb, unsigned long off, const char *want, size_t len)
{
	char got[32];

	return !mbuf_dma(mb, off, got, len, false) && !memcmp(got, want, len);
}

/* Does the CPU (the device) read the string literal @lit at @off? */
#define cpu_reads(mm, off, lit) cpu_reads_n(mm, off, lit, sizeof(lit) - 1)
#define dev_reads(mb, off, lit) dev_reads_n(mb, off, lit, sizeof(lit) - 1)

static int dev_writes(struct mbuf *mb, unsigned long off, const char *text)
{
	return mbuf_dma(mb, off, (void *)text, strlen(text), true);
}

int main(void)
{
	static struct mbuf mb = {.start = BUF_ADDR};
	struct mm_struct *mm, *child;
	unsigned long id;
	int users, count;

	sm_mutex_init(&mb.lock, "mbuf->lock", LOCK_RANK_DRIVER_MMU);
	if (phys_init(8UL << 20) || swap_on(1UL << 20, NULL)) {
		fprintf(stderr, "mirror_buffer: cannot set up memory and swap\n");
		return 1;
	}
	mm = mm_alloc();
	if (!mm)
		return 1;
	id = mm_id(mm);
	check(mm_mmap(mm, BUF_ADDR, BUF_PAGES * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE,
		      NULL, 0) == (long)BUF_ADDR,
	      "mmap a 4-page private buffer");
	mb.mm = mm;
	check(!mmu_interval_notifier_insert(&mb.notifier, mm, BUF_ADDR, BUF_PAGES * PAGE_SIZE,
					    &mbuf_ops),
	      "insert an interval notifier over it");

	printf("coherence, both ways:\n");
	check(!mm_write(mm, BUF_ADDR + 100, "from the cpu", 12), "the CPU writes 'from the cpu'");
	check(dev_reads(&mb, 100, "from the cpu"), "the device reads it (device fault)");
	check(!dev_writes(&mb, PAGE_SIZE - 3, "dma!dma"), "the device writes across a page edge");
	check(cpu_reads(mm, PAGE_SIZE - 3, "dma!dma"), "the CPU reads what the device wrote");

	printf("munmap + mmap:\n");
	check(!mm_munmap(mm, BUF_ADDR, BUF_PAGES * PAGE_SIZE), "munmap the buffer");
	check(nr_translations(&mb) == 0, "every device translation was dropped");
	check(dev_writes(&mb, 0, "x") == -EFAULT, "device access now faults (-EFAULT)");
	check(mm_mmap(mm, BUF_ADDR, BUF_PAGES * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE,
		      NULL, 0) == (long)BUF_ADDR,
	      "mmap fresh memory at the same address");
	check(dev_reads(&mb, 100, "\0\0\0\0"),
	      "the device sees the new zero page, not the old data");
	check(!mm_write(mm, BUF_ADDR, "new", 3) && dev_reads(&mb, 0, "new"),
	      "and follows the CPU's new writes");

	printf("fork + copy-on-write:\n");
	check(!dev_writes(&mb, 0, "shared"), "the device writes 'shared' (writable translation)");
	child = dup_mm(mm);
	check(!IS_ERR(child), "fork: the child shares the page copy-on-write");
	if (IS_ERR(child))
		child = NULL;
	check(nr_translations(&mb) == 0, "fork's write-protection dropped the translations");
	check(!mm_write(mm, BUF_ADDR, "parent", 6), "the parent writes: COW gives it a new frame");
	check(dev_reads(&mb, 0, "parent"), "the device follows the parent's new frame");
	check(!dev_writes(&mb, 8, "dev"), "the device writes into the parent's copy");
	check(child && cpu_reads(child, 0, "shared") && cpu_reads(child, 8, "\0\0\0"),
	      "the child still sees the old page");
	if (child)
		mmput(child); /* the child exits */

	printf("page-out to swap and back:\n");
	check(dev_reads(&mb, 0, "parent"), "the device maps the page");
	check(!mm_madvise(mm, BUF_ADDR, BUF_PAGES * PAGE_SIZE, MADV_PAGEOUT),
	      "madvise(MADV_PAGEOUT): reclaim writes the buffer to swap");
	check(swap_slots_used() > 0, "swap slots are in use: the frames were freed");
	check(nr_translations(&mb) == 0, "the device dropped its translations first");
	check(dev_reads(&mb, 0, "parent") && dev_reads(&mb, 8, "dev"),
	      "a device fault swaps the data back in, intact");

	printf("teardown:\n");
	check(mb.stale == 0 && phys_stale_count() == 0, "no stale translation was ever used");
	printf("  (%lu invalidations received)\n", mb.invalidations);
	mmu_interval_notifier_remove(&mb.notifier);
	mmput(mm);
	check(mm_query_refs(id, &users, &count) == -ESRCH, "the mm struct is freed");
	check(swap_off() == 0, "swap device removed, no slot left");
	check(phys_exit() == 0, "every frame came back");
	sm_mutex_destroy(&mb.lock);

	printf("%d checks, %d failed\n", checks, failures);
	return failures ? 1 : 0;
}
