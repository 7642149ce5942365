// SPDX-License-Identifier: MIT
/*
 * torture - rcutorture-style random stress of the whole stack, with an oracle.
 *
 *   build/torture [--seed S] [--secs N] [--ops N] [--threads T] [--no-vfio] [--no-thp] [--verbose]
 *
 * Worker threads pick random operations from a per-thread PRNG seeded from
 * (seed, thread number) over NSLOTS process slots: create (mm_alloc +
 * task_create + mmap), fork (task_fork/dup_mm), exit (task_exit/mmput),
 * write/read (mm_write/mm_read), munmap+mmap, mprotect, mremap, madvise
 * (dontneed/pageout/mergeable), pin/unpin, a mirroring device per slot
 * (mirror_create/read/write/destroy, migration of pages to its device memory
 * and back, device-exclusive access), an IOMMU SVA bond per slot (bind/DMA
 * read/unbind), a VFIO SPAPR-TCE container per slot (open/register/
 * unregister/close), kernel threads borrowing mms (kthread_switch_lazy/away
 * plus mmget_not_zero + read + mmput from the "kthread"), and system-wide
 * try_to_free_pages, ksm_scan_all and migrate_range. Transparent huge pages:
 * each slot may also have a 2 MiB MADV_HUGEPAGE area at HUGE_BASE (inherited
 * by fork), written, read (by the CPU, the mirror and the IOMMU: huge
 * translations), split (mprotect, dontneed), collapsed (MADV_COLLAPSE,
 * khugepaged), migrated and paged out, its per-page expected words checked
 * with the rest every second.
 *
 * ORACLE. Every 8-byte word of a tracked page is (check << 32 | version),
 * where version is unique per write (a global counter; versions with the top
 * bit set are "KSM bait": the same few contents on many pages) and check is a
 * hash of (version, address) (of (version, word index) for bait), and
 * version 0 is the all-zero word. Each page of each slot has a state object
 * (shared between slots for MAP_SHARED memory after fork, copied for private
 * memory) with a history of the versions written: a writer bumps `started`,
 * records the version, writes, and bumps `committed`. A reader samples
 * `committed` before and `started` after its read; every word must carry a
 * version written in that window (never an older one, never garbage). Reads
 * by the CPU (mm_read), by the mirror (mirror_read) and by the IOMMU
 * (iommu_dma_read) are all checked this way.
 *
 * Every second the main thread stops the world (a writer-preferring rwlock
 * every operation holds for read), checks every page of every slot exactly,
 * phys_stale_count() == 0, the mirrors' and IOMMU's stale counters, frame
 * accounting and pin accounting. At the end everything is torn down and
 * nothing may be left: frames, mm structs, swap slots, kzalloc objects,
 * files, pins.
 *
 * A failure prints the seed and the last operations, then exits 1. With
 * --threads 1 the sequence of operations is a function of the seed, so
 * `build/torture --seed S --threads 1 --ops N` replays it.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/rcu.h"
#include "secmmu/err.h"
#include "secmmu/file.h"
#include "secmmu/gup.h"
#include "secmmu/iommu.h"
#include "secmmu/migrate.h"
#include "secmmu/check.h"
#include "secmmu/mirror.h"
#include "secmmu/mm.h"
#include "secmmu/mmu_notifier.h"
#include "secmmu/page.h"
#include "secmmu/sched.h"
#include "secmmu/swap.h"
#include "secmmu/vfio.h"
#include "sync_util.h"

#define NSLOTS	   8
#define NPAGES	   16
#define BASE	   0x10000000UL
#define ALT	   0x30000000UL
#define REGION	   (NPAGES * PAGE_SIZE)
#define NKTHREADS  3
#define MAXPINS	   4
#define HIST	   16
#define HUGE_BASE  0x40000000UL /* 2 MiB-aligned: the THP area of a slot */
#define HUGE_NP	   512		/* HPAGE_PMD_NR */
#define WORDS	   (PAGE_SIZE / 8)
#define BAIT_BIT   0x80000000u
#define MAXTHREADS 16

/* ---- options and the op log ---- */

static uint64_t opt_seed;
static double opt_secs = 600;
static unsigned long opt_ops;
static int opt_threads = 4;
static bool opt_verbose;
static bool opt_no_vfio; /* --no-vfio: see tests/unit/test_regress_rcu_callback_mmdrop.c */
static bool opt_no_thp;	 /* --no-thp: no operations on the THP area */

struct oplog {
	_Atomic unsigned long seq;
	char text[120];
};
#define LOGN 64
static struct oplog oplog[LOGN];
/*
 * Two writers may wrap onto one slot; the log is for humans, a lock keeps it
 * whole (LOCK_RANK_LEAF: held around the formatting only).
 */
static struct sm_mutex oplog_lock;
static atomic_ulong opseq;
static atomic_ulong ops_done;
static atomic_bool stop;
/*
 * The first failure reports, later ones stop: not a lock, since failf() runs
 * from the crash handler too, maybe with any library lock held.
 */
static atomic_flag failing = ATOMIC_FLAG_INIT;

static void logop(int tid, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void logop(int tid, const char *fmt, ...)
{
	unsigned long s = atomic_fetch_add(&opseq, 1);
	struct oplog *l = &oplog[s % LOGN];
	char buf[100];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	sm_mutex_lock(&oplog_lock);
	atomic_store(&l->seq, ~0UL);
	snprintf(l->text, sizeof(l->text), "#%lu t%d %s", s, tid, buf);
	atomic_store(&l->seq, s);
	if (opt_verbose)
		fprintf(stderr, "%s\n", l->text);
	sm_mutex_unlock(&oplog_lock);
}

static void failf(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void failf(const char *fmt, ...)
{
	unsigned long end;
	va_list ap;

	if (atomic_flag_test_and_set(&failing))
		for (;;)
			pause(); /* the first failure ends the process */
	fprintf(stderr,
		"\nTORTURE FAILURE (seed=%" PRIu64 " threads=%d, after %lu ops): ", opt_seed,
		opt_threads, atomic_load(&ops_done));
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nlast operations (oldest first):\n");
	/* Best effort (a trylock checks no order): a crash may have come from inside logop(). */
	sm_mutex_trylock(&oplog_lock);
	end = atomic_load(&opseq);
	for (unsigned long s = end > 50 ? end - 50 : 0; s < end; s++) {
		struct oplog *l = &oplog[s % LOGN];
		if (atomic_load(&l->seq) == s)
			fprintf(stderr, "  %s\n", l->text);
	}
	fprintf(stderr, "replay: build/torture --seed %" PRIu64 " --threads %d --ops %lu\n",
		opt_seed, opt_threads, atomic_load(&ops_done) + 1);
	fflush(stderr);
	_exit(1);
}

static void crash_handler(int sig)
{
	signal(sig, SIG_DFL);
	failf("killed by signal %d (%s) inside the library", sig, strsignal(sig));
}

/* ---- PRNG ---- */

static uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static unsigned rnd(uint64_t *s, unsigned n)
{
	return (unsigned)(splitmix(s) % n);
}

/* ---- page content ---- */

static atomic_uint version_counter = 1;

static uint32_t hash32(uint64_t a, uint64_t b)
{
	uint64_t x = a * 0x9e3779b97f4a7c15ull ^ (b + 0x632be59bd9b4e019ull);
	x ^= x >> 31;
	x *= 0xd6e8feb86659fd93ull;
	x ^= x >> 32;
	return (uint32_t)x | 1; /* never 0: a zero word means version 0 */
}

/* @off: offset of the page within the region (content moves with mremap). */
static uint64_t word_of(uint32_t v, unsigned long off, unsigned w)
{
	if (!v)
		return 0;
	if (v & BAIT_BIT)
		return (uint64_t)hash32(v, w) << 32 | v;
	return (uint64_t)hash32(v, off + w * 8) << 32 | v;
}

static void fill_page(uint64_t *buf, uint32_t v, unsigned long off)
{
	for (unsigned w = 0; w < WORDS; w++)
		buf[w] = word_of(v, off, w);
}

/* ---- per-page oracle state ---- */

struct pstate {
	atomic_int refs;
	struct sm_mutex wlock; /* one writer at a time; LOCK_RANK_SIM_OBJECT */
	atomic_ulong started, committed;
	_Atomic uint32_t hist[HIST]; /* hist[i % HIST]: version of write i */
};

static atomic_long pstates_live;

static struct pstate *pstate_new(uint32_t v)
{
	struct pstate *p = calloc(1, sizeof(*p));

	if (!p)
		abort();
	atomic_store(&p->refs, 1);
	sm_mutex_init(&p->wlock, "pstate->wlock", LOCK_RANK_SIM_OBJECT);
	atomic_store(&p->hist[0], v);
	atomic_store(&p->started, 1);
	atomic_store(&p->committed, 1);
	atomic_fetch_add(&pstates_live, 1);
	return p;
}

static struct pstate *pstate_copy(struct pstate *o)
{
	unsigned long c = atomic_load(&o->committed);

	return pstate_new(atomic_load(&o->hist[(c - 1) % HIST]));
}

static void pstate_put(struct pstate *p)
{
	if (p && atomic_fetch_sub(&p->refs, 1) == 1) {
		sm_mutex_destroy(&p->wlock);
		free(p);
		atomic_fetch_sub(&pstates_live, 1);
	}
}

/* Writer side: returns the index of the write. */
static unsigned long pstate_begin(struct pstate *p, uint32_t v)
{
	unsigned long i;

	sm_mutex_lock(&p->wlock);
	i = atomic_load(&p->started);
	atomic_store(&p->hist[i % HIST], v);
	atomic_store(&p->started, i + 1);
	return i;
}

static void pstate_end(struct pstate *p, unsigned long i, bool done)
{
	if (!done) /* nothing was written: the write is a repeat of the previous version */
		atomic_store(&p->hist[i % HIST], atomic_load(&p->hist[(i - 1) % HIST]));
	atomic_store(&p->committed, i + 1);
	sm_mutex_unlock(&p->wlock);
}

/*
 * Check a page read between samples @c (committed before) and @s (started
 * after). Return NULL or a description of the first bad word.
 */
static const char *check_page(struct pstate *p, const uint64_t *buf, unsigned long off,
			      unsigned long c, unsigned long s, char *why, size_t whylen)
{
	for (unsigned w = 0; w < WORDS; w++) {
		uint64_t x = buf[w];
		uint32_t v = (uint32_t)x;
		bool legal = false;

		if (word_of(v, off, w) != x) {
			snprintf(why, whylen,
				 "garbage word %u: %#018" PRIx64 " (expected version %u)", w, x,
				 atomic_load(&p->hist[(c - 1) % HIST]));
			return why;
		}
		if (s - (c - 1) > HIST)
			continue; /* window too wide to judge */
		for (unsigned long i = c - 1; i < s && !legal; i++)
			legal = atomic_load(&p->hist[i % HIST]) == v;
		if (!legal) {
			snprintf(why, whylen,
				 "word %u has version %#x, legal window [%lu,%lu) last committed "
				 "%#x",
				 w, v, c - 1, s, atomic_load(&p->hist[(c - 1) % HIST]));
			return why;
		}
	}
	return NULL;
}

/* ---- slots ---- */

struct pinset {
	struct page *pages[NPAGES];
	unsigned long n;
	/* Pages of it that carry a pin: a pin of the zero page takes none (as Linux). */
	unsigned long counted;
};

struct slot {
	/* write: structure (mmap layout, devices); read: data ops. LOCK_RANK_SIM_SLOT */
	struct sm_rwsem lock;
	int idx;
	struct task_struct *task; /* NULL: empty */
	struct mm_struct *mm;
	unsigned long id;
	bool shared;
	struct pstate *pg[NPAGES];
	struct mirror *mirror;
	struct iommu_sva *bond;
	uint32_t pasid;
	struct tce_container *vfio;
	struct sm_mutex pinlock; /* guards pins; LOCK_RANK_SIM_OBJECT */
	struct pinset pins[MAXPINS];
	bool huge;	      /* the THP area is mapped (slot write lock) */
	uint64_t hv[HUGE_NP]; /* the first word of each of its pages (slot write lock) */
	/*
	 * Registered by slot_exit() (slot write lock) while devices are bound:
	 * its ->release sets @released, the exit has run (maybe on another thread).
	 */
	struct mmu_notifier exit_mn;
	_Atomic bool released;
};

static struct slot slots[NSLOTS];
/* Every op holds it for read, the periodic check for write. LOCK_RANK_SIM */
static struct sm_rwsem world_lock;
/*
 * KSM holds mm_users of every live mm for a moment, so an exit racing it may
 * complete in the KSM thread, after the exiting thread looked: exits take
 * this for read, KSM for write, and the oracle's "a device gets -ESRCH right
 * after exit" stays exact. (Ops take no slot lock while holding it.)
 */
static struct sm_rwsem users_lock; /* LOCK_RANK_SIM_OBJECT */
static struct iommu_device *iodev;
static atomic_long outstanding_pins;

struct kt {
	struct sm_mutex lock; /* guards task's borrowed mm; LOCK_RANK_SIM_OBJECT */
	struct task_struct *task;
	bool lazy;
};
static struct kt kts[NKTHREADS];

static void slot_reset_pages(struct slot *sl)
{
	for (int i = 0; i < NPAGES; i++) {
		pstate_put(sl->pg[i]);
		sl->pg[i] = pstate_new(0);
	}
}

/* Read one page of the slot through @how (0 CPU, 1 mirror, 2 IOMMU) and check it. */
static void read_check(int tid, struct slot *sl, int pi, int how, unsigned long addrbase)
{
	uint64_t buf[WORDS];
	struct pstate *p = sl->pg[pi];
	unsigned long addr = addrbase + pi * PAGE_SIZE, c, s;
	char why[200];
	int r;

	c = atomic_load(&p->committed);
	if (how == 0)
		r = mm_read(sl->mm, addr, buf, PAGE_SIZE);
	else if (how == 1)
		r = mirror_read(sl->mirror, addr, buf, PAGE_SIZE);
	else
		r = iommu_dma_read(iodev, sl->pasid, addr, buf, PAGE_SIZE);
	s = atomic_load(&p->started);
	logop(tid, "read%s slot%d page%d -> %d",
	      how == 0	 ? ""
	      : how == 1 ? "(mirror)"
			 : "(sva)",
	      sl->idx, pi, r);
	if (r == -ENOMEM || r == -EAGAIN)
		return;
	if (r)
		failf("%s read of slot %d (mm %lu) page %d returned %d",
		      how == 0	 ? "CPU"
		      : how == 1 ? "mirror"
				 : "IOMMU",
		      sl->idx, sl->id, pi, r);
	if (check_page(p, buf, pi * PAGE_SIZE, c, s, why, sizeof(why)))
		failf("%s read of slot %d (mm %lu) page %d at %#lx: %s",
		      how == 0	 ? "CPU"
		      : how == 1 ? "mirror"
				 : "IOMMU",
		      sl->idx, sl->id, pi, addr, why);
}

static void write_one(int tid, struct slot *sl, int pi, bool bait, bool via_mirror, uint64_t *rs)
{
	uint64_t buf[WORDS];
	struct pstate *p = sl->pg[pi];
	uint32_t v = bait ? BAIT_BIT | (1 + rnd(rs, 3)) : atomic_fetch_add(&version_counter, 1);
	unsigned long i;
	int r;

	if (!bait && (v & BAIT_BIT))
		failf("version counter overflow");
	fill_page(buf, v, pi * PAGE_SIZE);
	i = pstate_begin(p, v);
	if (via_mirror)
		r = mirror_write(sl->mirror, BASE + pi * PAGE_SIZE, buf, PAGE_SIZE);
	else
		r = mm_write(sl->mm, BASE + pi * PAGE_SIZE, buf, PAGE_SIZE);
	pstate_end(p, i, r == 0);
	logop(tid, "write%s slot%d page%d v=%#x -> %d", via_mirror ? "(mirror)" : "", sl->idx, pi,
	      v, r);
	if (r && r != -ENOMEM && r != -EAGAIN)
		failf("write slot %d page %d returned %d", sl->idx, pi, r);
}

/* Quiesced (slot write-locked or world stopped): every page, exactly. */
static void check_all_pages(int tid, struct slot *sl, unsigned long addrbase)
{
	for (int i = 0; i < NPAGES; i++)
		read_check(tid, sl, i, 0, addrbase);
}

static void unpin_set(struct pinset *ps)
{
	if (!ps->n)
		return;
	unpin_user_pages(ps->pages, ps->n);
	atomic_fetch_sub(&outstanding_pins, (long)ps->counted);
	ps->n = 0;
}

static void unpin_all(struct slot *sl)
{
	sm_mutex_lock(&sl->pinlock);
	for (int i = 0; i < MAXPINS; i++)
		unpin_set(&sl->pins[i]);
	sm_mutex_unlock(&sl->pinlock);
}

static void exit_release(struct mmu_notifier *mn, struct mm_struct *mm)
{
	(void)mm;
	test_flag_set(&container_of(mn, struct slot, exit_mn)->released);
}

static const struct mmu_notifier_ops exit_ops = {.release = exit_release};

/*
 * Watch @sl's exit (slot write-locked): the devices already made the mm
 * notified, so one more subscription changes no path. Return: watching.
 */
static bool exit_watch(struct slot *sl)
{
	atomic_store(&sl->released, false);
	sl->exit_mn = (struct mmu_notifier){.ops = &exit_ops};
	return mmu_notifier_register(&sl->exit_mn, sl->mm) == 0;
}

/* Slot write-locked, task alive: exit, device teardown before or after. */
static void slot_exit(int tid, struct slot *sl, uint64_t *rs)
{
	bool devs_after = rnd(rs, 2);
	bool pins_after = rnd(rs, 2);
	bool other_holder, watch;
	uint64_t buf[WORDS];
	int r;

	if (!pins_after)
		unpin_all(sl);
	if (!devs_after) {
		if (sl->mirror)
			mirror_destroy(sl->mirror);
		if (sl->bond)
			iommu_sva_unbind_device(sl->bond);
		sl->mirror = NULL;
		sl->bond = NULL;
	}
	watch = (sl->mirror || sl->bond) && exit_watch(sl);
	sm_down_read(&users_lock);
	r = task_exit(sl->task);
	sm_up_read(&users_lock);
	logop(tid, "exit slot%d mm%lu -> %d (devices %s, pins %s)", sl->idx, sl->id, r,
	      devs_after ? "after" : "before", pins_after ? "after" : "before");
	if (r)
		failf("task_exit slot %d: %d", sl->idx, r);
	/*
	 * Another thread may hold mm_users for a moment (a KSM scan visits every
	 * live mm): the address space goes when that reference is dropped. The
	 * devices' mm_count keeps the struct readable meanwhile.
	 */
	/*
	 * If another thread held the last user, the exit runs there, maybe
	 * still now: until its release the devices may legitimately translate.
	 */
	other_holder = (sl->mirror || sl->bond) && mm_users_read(sl->mm) > 0;
	if (watch) {
		test_flag_wait(&sl->released); /* the exit ran (users reached 0 first) */
		mmu_notifier_unregister(&sl->exit_mn, sl->mm);
	} else if (sl->mirror || sl->bond) {
		other_holder = true; /* not watched (-ENOMEM): the exit may still be running */
	}
	if (sl->mirror) {
		r = mirror_read(sl->mirror, BASE, buf, 8);
		if (r != -ESRCH && !(other_holder && r == 0))
			failf("mirror read after exit of slot %d: %d, expected -ESRCH", sl->idx, r);
		mirror_destroy(sl->mirror);
		sl->mirror = NULL;
	}
	if (sl->bond) {
		r = iommu_dma_read(iodev, sl->pasid, BASE, buf, 8);
		/*
		 * A page-request worker may hold the last user for a moment too;
		 * then the release clearing the PASID entry comes a little later.
		 */
		if (r != -ESRCH && !(other_holder && r == 0) && r != 0)
			failf("SVA DMA after exit of slot %d: %d, expected -ESRCH", sl->idx, r);
		iommu_sva_unbind_device(sl->bond);
		sl->bond = NULL;
	}
	if (sl->vfio) {
		if (!vfio_container_released(sl->vfio))
			failf("exit of slot %d did not release its VFIO container", sl->idx);
		vfio_container_put(sl->vfio);
		sl->vfio = NULL;
	}
	unpin_all(sl);
	task_free(sl->task);
	sl->task = NULL;
	sl->mm = NULL;
	sl->huge = false;
	for (int i = 0; i < NPAGES; i++) {
		pstate_put(sl->pg[i]);
		sl->pg[i] = NULL;
	}
}

static void slot_create(int tid, struct slot *sl, uint64_t *rs)
{
	struct mm_struct *mm = mm_alloc();
	long r;

	if (!mm) {
		logop(tid, "create slot%d -> -ENOMEM", sl->idx);
		return;
	}
	sl->shared = rnd(rs, 3) == 0;
	r = mm_mmap(mm, BASE, REGION, PROT_READ | PROT_WRITE, sl->shared ? MAP_SHARED : MAP_PRIVATE,
		    NULL, 0);
	if (r != (long)BASE)
		failf("mmap in a new mm: %ld", r);
	sl->task = task_create("torture", mm);
	if (!sl->task) {
		mmput(mm);
		return;
	}
	sl->mm = mm;
	sl->id = mm_id(mm);
	slot_reset_pages(sl);
	logop(tid, "create slot%d mm%lu %s", sl->idx, sl->id, sl->shared ? "shared" : "private");
}

/* ---- the THP area ---- */

static atomic_ulong huge_counter;

/* Check page @p of the THP area of @sl (write-locked) through @how (0 CPU, 1 mirror, 2 IOMMU). */
static void huge_check(int tid, struct slot *sl, int p, int how)
{
	unsigned long addr = HUGE_BASE + (unsigned long)p * PAGE_SIZE;
	uint64_t w = ~0ULL;
	long r;

	if (how == 1 && sl->mirror)
		r = mirror_read(sl->mirror, addr, &w, sizeof(w));
	else if (how == 2 && sl->bond)
		r = iommu_dma_read(iodev, sl->pasid, addr, &w, sizeof(w));
	else
		r = mm_read(sl->mm, addr, &w, sizeof(w));
	if (r == -ENOMEM || (how && r == -EAGAIN))
		return;
	if (r)
		failf("huge read slot%d page %d via %d: %ld", sl->idx, p, how, r);
	if (w != sl->hv[p])
		failf("huge read slot%d page %d via %d: %#" PRIx64 ", expected %#" PRIx64
		      " (tid %d)",
		      sl->idx, p, how, w, sl->hv[p], tid);
}

/* One THP operation on @sl's area (slot write-locked, task alive). */
static void huge_op(int tid, struct slot *sl, uint64_t *rs)
{
	unsigned long len = HUGE_NP * PAGE_SIZE;
	int p = rnd(rs, HUGE_NP), what = rnd(rs, 10);
	long r;

	if (!sl->huge) {
		r = mm_mmap(sl->mm, HUGE_BASE, len, PROT_READ | PROT_WRITE, MAP_PRIVATE, NULL, 0);
		if (r != (long)HUGE_BASE)
			failf("mmap of the THP area: %ld", r);
		r = mm_madvise(sl->mm, HUGE_BASE, len, MADV_HUGEPAGE);
		if (r)
			failf("madvise(HUGEPAGE): %ld", r);
		memset(sl->hv, 0, sizeof(sl->hv));
		sl->huge = true;
		logop(tid, "huge map slot%d", sl->idx);
		return;
	}
	switch (what) {
	case 0:
	case 1: {
		uint64_t w = ((uint64_t)(sl->idx + 1) << 56) | atomic_fetch_add(&huge_counter, 1);

		r = mm_write(sl->mm, HUGE_BASE + (unsigned long)p * PAGE_SIZE, &w, sizeof(w));
		logop(tid, "huge write slot%d page %d -> %ld", sl->idx, p, r);
		if (r == 0)
			sl->hv[p] = w;
		else if (r != -ENOMEM)
			failf("huge write: %ld", r);
		break;
	}
	case 2: /* split the PMD and restore the protection */
		r = mm_mprotect(sl->mm, HUGE_BASE + (unsigned long)p * PAGE_SIZE, PAGE_SIZE,
				PROT_READ);
		if (!r)
			r = mm_mprotect(sl->mm, HUGE_BASE + (unsigned long)p * PAGE_SIZE, PAGE_SIZE,
					PROT_READ | PROT_WRITE);
		logop(tid, "huge mprotect slot%d page %d -> %ld", sl->idx, p, r);
		if (r && r != -ENOMEM)
			failf("huge mprotect: %ld", r);
		break;
	case 3:
		r = mm_madvise(sl->mm, HUGE_BASE + (unsigned long)p * PAGE_SIZE, PAGE_SIZE,
			       MADV_DONTNEED);
		logop(tid, "huge dontneed slot%d page %d -> %ld", sl->idx, p, r);
		if (r && r != -ENOMEM)
			failf("huge dontneed: %ld", r);
		if (!r)
			sl->hv[p] = 0;
		break;
	case 4:
		r = mm_madvise(sl->mm, HUGE_BASE, len, MADV_COLLAPSE);
		logop(tid, "huge collapse slot%d -> %ld", sl->idx, r);
		if (r && r != -EAGAIN && r != -ENOMEM && r != -EINVAL)
			failf("MADV_COLLAPSE: %ld", r);
		break;
	case 5:
		logop(tid, "khugepaged -> %lu", khugepaged_scan(1));
		break;
	case 6:
		r = migrate_range(sl->mm, HUGE_BASE, len);
		logop(tid, "huge migrate slot%d -> %ld", sl->idx, r);
		if (r && r != -EBUSY && r != -EAGAIN && r != -ENOMEM)
			failf("huge migrate: %ld", r);
		break;
	case 7:
		r = mm_madvise(sl->mm, HUGE_BASE + (unsigned long)p * PAGE_SIZE, PAGE_SIZE,
			       MADV_PAGEOUT);
		logop(tid, "huge pageout slot%d page %d -> %ld", sl->idx, p, r);
		if (r && r != -ENOMEM)
			failf("huge pageout: %ld", r);
		break;
	default: /* read through the CPU, the mirror or the IOMMU (huge translations) */
		huge_check(tid, sl, p, rnd(rs, 3));
		break;
	}
}

/* ---- operations ---- */

enum {
	OP_CREATE,
	OP_FORK,
	OP_EXIT,
	OP_WRITE,
	OP_READ,
	OP_REMAP,
	OP_MPROTECT,
	OP_MREMAP,
	OP_DONTNEED,
	OP_PAGEOUT,
	OP_MERGEABLE,
	OP_PIN,
	OP_UNPIN,
	OP_MIRROR,
	OP_MIRROR_IO,
	OP_SVA,
	OP_SVA_IO,
	OP_VFIO,
	OP_KTHREAD,
	OP_RECLAIM,
	OP_KSM,
	OP_MIGRATE,
	OP_DEVMIGRATE,
	OP_EXCLUSIVE,
	OP_HUGE,
	NR_OPS
};
static unsigned op_weight[NR_OPS] = {
	[OP_CREATE] = 4,   [OP_FORK] = 3,    [OP_EXIT] = 3,	  [OP_WRITE] = 30,
	[OP_READ] = 30,	   [OP_REMAP] = 2,   [OP_MPROTECT] = 2,	  [OP_MREMAP] = 2,
	[OP_DONTNEED] = 3, [OP_PAGEOUT] = 5, [OP_MERGEABLE] = 2,  [OP_PIN] = 4,
	[OP_UNPIN] = 4,	   [OP_MIRROR] = 3,  [OP_MIRROR_IO] = 12, [OP_SVA] = 3,
	[OP_SVA_IO] = 8,   [OP_VFIO] = 2,    [OP_KTHREAD] = 6,	  [OP_RECLAIM] = 4,
	[OP_KSM] = 2,	   [OP_MIGRATE] = 5, [OP_DEVMIGRATE] = 6, [OP_EXCLUSIVE] = 3,
	[OP_HUGE] = 8,
};

/* TORTURE_OFF=3,7,...: switch operations off by number (for bisecting a failure). */
static void ops_from_env(void)
{
	const char *e = getenv("TORTURE_OFF");

	while (e && *e) {
		char *end;
		long op = strtol(e, &end, 10);

		if (end == e)
			break;
		if (op >= 0 && op < NR_OPS)
			op_weight[op] = 0;
		e = *end ? end + 1 : end;
	}
}

static int pick_op(uint64_t *rs)
{
	unsigned total = 0, x;

	for (int i = 0; i < NR_OPS; i++)
		total += op_weight[i];
	x = rnd(rs, total);
	for (int i = 0; i < NR_OPS; i++) {
		if (x < op_weight[i])
			return i;
		x -= op_weight[i];
	}
	return OP_READ;
}

static void op_kthread(int tid, uint64_t *rs)
{
	struct kt *k = &kts[rnd(rs, NKTHREADS)];
	uint64_t buf[WORDS];
	int what = rnd(rs, 3);

	if (what == 0) { /* switch in lazily after a live slot's task */
		struct slot *sl = &slots[rnd(rs, NSLOTS)];

		sm_down_read(&sl->lock);
		sm_mutex_lock(&k->lock);
		if (sl->task && !k->lazy) {
			int r = kthread_switch_lazy(k->task, sl->task);

			logop(tid, "kthread lazy after slot%d -> %d", sl->idx, r);
			if (r)
				failf("kthread_switch_lazy: %d", r);
			k->lazy = true;
		}
		sm_mutex_unlock(&k->lock);
		sm_up_read(&sl->lock);
	} else if (what == 1) {
		sm_mutex_lock(&k->lock);
		if (k->lazy) {
			int r = kthread_switch_away(k->task);

			logop(tid, "kthread switch away -> %d", r);
			if (r)
				failf("kthread_switch_away: %d", r);
			k->lazy = false;
		}
		sm_mutex_unlock(&k->lock);
	} else { /* use the borrowed mm: mmget_not_zero, read, mmput (maybe the last) */
		sm_mutex_lock(&k->lock);
		struct mm_struct *mm = k->lazy ? task_active_mm(k->task) : NULL;
		if (mm && mmget_not_zero(mm)) {
			int r = mm_read(mm, BASE + rnd(rs, NPAGES) * PAGE_SIZE, buf, PAGE_SIZE);

			logop(tid, "kthread borrow-read mm%lu -> %d", mm_id(mm), r);
			if (r == 0) {
				unsigned long off = 0;
				/* the region may have moved/been replaced: check self-consistency
				 */
				for (unsigned w = 0; w < WORDS; w++) {
					uint32_t v = (uint32_t)buf[w];
					bool ok = false;

					for (int pi = 0; pi < NPAGES && !ok; pi++) {
						off = pi * PAGE_SIZE;
						ok = word_of(v, off, w) == buf[w];
					}
					if (!ok)
						failf("kthread read of mm %lu: garbage word %u "
						      "%#018" PRIx64,
						      mm_id(mm), w, buf[w]);
				}
			} else if (r != -EFAULT && r != -ENOMEM) {
				failf("kthread read: %d", r);
			}
			mmput(mm);
		} else if (mm) {
			logop(tid, "kthread borrow: mm%lu has exited", mm_id(mm));
		}
		sm_mutex_unlock(&k->lock);
	}
}

static void do_op(int tid, uint64_t *rs)
{
	int op = pick_op(rs);

	if ((op == OP_VFIO && opt_no_vfio) || (op == OP_HUGE && opt_no_thp))
		op = OP_READ;
	struct slot *sl = &slots[rnd(rs, NSLOTS)];
	int pi = rnd(rs, NPAGES);
	long r;

	switch (op) {
	case OP_CREATE:
	case OP_EXIT:
		sm_down_write(&sl->lock);
		if (op == OP_CREATE && !sl->task)
			slot_create(tid, sl, rs);
		else if (op == OP_EXIT && sl->task)
			slot_exit(tid, sl, rs);
		sm_up_write(&sl->lock);
		return;
	case OP_FORK: {
		struct slot *ch = &slots[rnd(rs, NSLOTS)];
		struct slot *a = sl < ch ? sl : ch, *b = sl < ch ? ch : sl;
		struct task_struct *t;

		if (sl == ch)
			return;
		sm_down_write(&a->lock);
		sm_down_write_nested(&b->lock, 1); /* slots in address order */
		if (sl->task && !ch->task) {
			r = task_fork(sl->task, "child", &t);
			logop(tid, "fork slot%d -> slot%d: %ld", sl->idx, ch->idx, r);
			if (r == 0) {
				ch->task = t;
				ch->mm = task_mm(t);
				ch->id = mm_id(ch->mm);
				ch->shared = sl->shared;
				ch->huge = sl->huge; /* private: the child has a copy */
				memcpy(ch->hv, sl->hv, sizeof(ch->hv));
				for (int i = 0; i < NPAGES; i++) {
					if (sl->shared) {
						ch->pg[i] = sl->pg[i];
						atomic_fetch_add(&ch->pg[i]->refs, 1);
					} else {
						ch->pg[i] = pstate_copy(sl->pg[i]);
					}
				}
				if (sl->vfio) /* the child inherited the container's file: close it
					       */
					vfio_container_close(sl->vfio, t);
			} else if (r != -ENOMEM) {
				failf("task_fork: %ld", r);
			}
		}
		sm_up_write(&b->lock);
		sm_up_write(&a->lock);
		return;
	}
	case OP_REMAP:
	case OP_MPROTECT:
	case OP_MREMAP:
	case OP_MIRROR:
	case OP_SVA:
	case OP_VFIO:
	case OP_HUGE:
		sm_down_write(&sl->lock);
		if (!sl->task)
			goto out_w;
		if (op == OP_HUGE) {
			huge_op(tid, sl, rs);
		} else if (op == OP_REMAP) {
			r = mm_munmap(sl->mm, BASE, REGION);
			if (!r)
				r = mm_mmap(sl->mm, BASE, REGION, PROT_READ | PROT_WRITE,
					    sl->shared ? MAP_SHARED : MAP_PRIVATE, NULL, 0);
			logop(tid, "munmap+mmap slot%d -> %ld", sl->idx, r);
			if (r != (long)BASE)
				failf("munmap+mmap: %ld", r);
			slot_reset_pages(sl);
			/* A fresh shared mapping is no longer shared with relatives. */
		} else if (op == OP_MPROTECT) {
			uint64_t x = 0x1234;

			r = mm_mprotect(sl->mm, BASE, REGION, PROT_READ);
			logop(tid, "mprotect r slot%d -> %ld", sl->idx, r);
			if (r)
				failf("mprotect: %ld", r);
			r = mm_write(sl->mm, BASE + pi * PAGE_SIZE, &x, sizeof(x));
			if (r != -EFAULT)
				failf("write to a read-only page: %ld, expected -EFAULT", r);
			/* hmm_range_fault()'s write fault on a read-only VMA: -EPERM, as Linux. */
			if (sl->mirror && (r = mirror_write(sl->mirror, BASE, &x, 8)) != -EPERM)
				failf("mirror write to a read-only page: %ld, expected -EPERM", r);
			read_check(tid, sl, pi, 0, BASE);
			r = mm_mprotect(sl->mm, BASE, REGION, PROT_READ | PROT_WRITE);
			if (r)
				failf("mprotect rw: %ld", r);
		} else if (op == OP_MREMAP) {
			r = mm_mremap(sl->mm, BASE, REGION, REGION, MREMAP_MAYMOVE | MREMAP_FIXED,
				      ALT);
			logop(tid, "mremap slot%d to ALT -> %#lx", sl->idx, r);
			if (r != (long)ALT)
				failf("mremap to ALT: %ld", r);
			check_all_pages(tid, sl, ALT);
			r = mm_mremap(sl->mm, ALT, REGION, REGION, MREMAP_MAYMOVE | MREMAP_FIXED,
				      BASE);
			if (r != (long)BASE)
				failf("mremap back: %ld", r);
		} else if (op == OP_MIRROR) {
			if (sl->mirror) {
				logop(tid, "mirror_destroy slot%d", sl->idx);
				mirror_destroy(sl->mirror);
				sl->mirror = NULL;
			} else {
				struct mirror *m = mirror_create(sl->mm, 0);

				logop(tid, "mirror_create slot%d -> %ld", sl->idx,
				      IS_ERR(m) ? PTR_ERR(m) : 0);
				if (IS_ERR(m) && PTR_ERR(m) != -ENOMEM)
					failf("mirror_create: %ld", PTR_ERR(m));
				if (!IS_ERR(m))
					sl->mirror = m;
			}
		} else if (op == OP_SVA) {
			if (sl->bond) {
				logop(tid, "sva_unbind slot%d", sl->idx);
				iommu_sva_unbind_device(sl->bond);
				sl->bond = NULL;
			} else {
				struct iommu_sva *h = iommu_sva_bind_device(iodev, sl->mm);

				logop(tid, "sva_bind slot%d -> %ld", sl->idx,
				      IS_ERR(h) ? PTR_ERR(h) : 0);
				if (IS_ERR(h) && PTR_ERR(h) != -ENOMEM && PTR_ERR(h) != -ENOSPC)
					failf("sva_bind: %ld", PTR_ERR(h));
				if (!IS_ERR(h)) {
					sl->bond = h;
					sl->pasid = iommu_sva_get_pasid(h);
				}
			}
		} else { /* OP_VFIO */
			if (sl->vfio) {
				r = tce_iommu_unregister_pages(sl->vfio, sl->mm, BASE, REGION);
				logop(tid, "vfio unregister+close slot%d -> %ld", sl->idx, r);
				if (r && r != -ENOENT)
					failf("tce_iommu_unregister_pages: %ld", r);
				r = vfio_container_close(sl->vfio, sl->task);
				if (r)
					failf("vfio_container_close: %ld", r);
				vfio_container_put(sl->vfio);
				sl->vfio = NULL;
			} else {
				r = vfio_spapr_tce_open(sl->task, &sl->vfio);
				if (r) {
					sl->vfio = NULL;
					if (r != -ENOMEM)
						failf("vfio_spapr_tce_open: %ld", r);
					goto out_w;
				}
				r = tce_iommu_register_pages(sl->vfio, sl->mm, BASE, REGION);
				logop(tid, "vfio open+register slot%d -> %ld", sl->idx, r);
				if (r && r != -ENOMEM && r != -EINVAL)
					failf("tce_iommu_register_pages: %ld", r);
			}
		}
out_w:
		sm_up_write(&sl->lock);
		return;
	case OP_KTHREAD:
		op_kthread(tid, rs);
		return;
	case OP_RECLAIM: {
		unsigned long n = try_to_free_pages(1 + rnd(rs, 64));
		logop(tid, "try_to_free_pages -> %lu", n);
		return;
	}
	case OP_KSM: {
		sm_down_write(&users_lock);
		unsigned long n = ksm_scan_all();
		sm_up_write(&users_lock);
		logop(tid, "ksm_scan_all -> %lu", n);
		return;
	}
	default:
		break;
	}

	/* data operations: slot read-locked */
	sm_down_read(&sl->lock);
	if (!sl->task)
		goto out_r;
	switch (op) {
	case OP_WRITE:
		write_one(tid, sl, pi, rnd(rs, 8) == 0, false, rs);
		break;
	case OP_READ:
		read_check(tid, sl, pi, 0, BASE);
		break;
	case OP_DONTNEED:
		if (sl->shared) {
			r = mm_madvise(sl->mm, BASE + pi * PAGE_SIZE, PAGE_SIZE, MADV_DONTNEED);
			logop(tid, "dontneed(shared) slot%d page%d -> %ld", sl->idx, pi, r);
		} else {
			/* private: the page becomes zero; serialise with its writers */
			unsigned long i = pstate_begin(sl->pg[pi], 0);

			r = mm_madvise(sl->mm, BASE + pi * PAGE_SIZE, PAGE_SIZE, MADV_DONTNEED);
			pstate_end(sl->pg[pi], i, r == 0);
			logop(tid, "dontneed slot%d page%d -> %ld", sl->idx, pi, r);
		}
		if (r)
			failf("madvise(DONTNEED): %ld", r);
		break;
	case OP_PAGEOUT:
		r = mm_madvise(sl->mm, BASE, REGION, MADV_PAGEOUT);
		logop(tid, "pageout slot%d -> %ld", sl->idx, r);
		if (r)
			failf("madvise(PAGEOUT): %ld", r);
		break;
	case OP_MERGEABLE:
		r = mm_madvise(sl->mm, BASE, REGION,
			       rnd(rs, 4) ? MADV_MERGEABLE : MADV_UNMERGEABLE);
		logop(tid, "(un)mergeable slot%d -> %ld", sl->idx, r);
		if (r && r != -EINVAL)
			failf("madvise(MERGEABLE): %ld", r);
		break;
	case OP_MIGRATE:
		r = migrate_range(sl->mm, BASE, REGION);
		logop(tid, "migrate slot%d -> %ld", sl->idx, r);
		/* -EBUSY: a pinned page; -EAGAIN: references that stayed transient too long. */
		if (r && r != -EBUSY && r != -EAGAIN && r != -ENOMEM)
			failf("migrate_range: %ld", r);
		break;
	case OP_PIN: {
		unsigned long n = 1 + rnd(rs, 4);
		unsigned long start = rnd(rs, NPAGES - n + 1);
		struct pinset *ps = NULL;

		sm_mutex_lock(&sl->pinlock);
		for (int i = 0; i < MAXPINS; i++)
			if (!sl->pins[i].n)
				ps = &sl->pins[i];
		if (ps) {
			r = pin_user_pages_unlocked(sl->mm, BASE + start * PAGE_SIZE, n,
						    rnd(rs, 2) ? FOLL_WRITE : 0, ps->pages);
			logop(tid, "pin slot%d pages %lu+%lu -> %ld", sl->idx, start, n, r);
			if (r == (long)n) {
				ps->n = n;
				ps->counted = 0;
				for (unsigned long i = 0; i < n; i++)
					ps->counted += !PageTest(ps->pages[i], PG_reserved);
				atomic_fetch_add(&outstanding_pins, (long)ps->counted);
			} else if (r >= 0 || (r != -ENOMEM && r != -EAGAIN)) {
				failf("pin_user_pages_unlocked: %ld (all or nothing expected)", r);
			}
		}
		sm_mutex_unlock(&sl->pinlock);
		break;
	}
	case OP_UNPIN:
		sm_mutex_lock(&sl->pinlock);
		logop(tid, "unpin slot%d set %d (%lu pages)", sl->idx, pi % MAXPINS,
		      sl->pins[pi % MAXPINS].n);
		unpin_set(&sl->pins[pi % MAXPINS]);
		sm_mutex_unlock(&sl->pinlock);
		break;
	case OP_DEVMIGRATE:
		/* Pages to the mirror's memory and back (a CPU touch also brings them back). */
		if (sl->mirror) {
			unsigned long n = 1 + rnd(rs, NPAGES), start = rnd(rs, NPAGES - n + 1);
			bool to_dev = rnd(rs, 3) != 0;

			r = to_dev ? mirror_migrate_to_device(sl->mirror, BASE + start * PAGE_SIZE,
							      n * PAGE_SIZE)
				   : mirror_migrate_to_system(sl->mirror, BASE + start * PAGE_SIZE,
							      n * PAGE_SIZE);
			logop(tid, "migrate_to_%s slot%d pages %lu+%lu -> %ld",
			      to_dev ? "device" : "system", sl->idx, start, n, r);
			/* -ENOENT: shared memory, pinned or busy pages stay behind. */
			if (r && r != -ENOENT && r != -ENOMEM)
				failf("mirror migrate: %ld", r);
		}
		break;
	case OP_EXCLUSIVE:
		if (sl->mirror) {
			r = mirror_exclusive(sl->mirror, BASE + pi * PAGE_SIZE, PAGE_SIZE);
			logop(tid, "exclusive slot%d page%d -> %ld", sl->idx, pi, r);
			/* -EBUSY: shared memory, or the page changed under it. */
			if (r && r != -EBUSY && r != -ENOMEM)
				failf("mirror exclusive: %ld", r);
		}
		break;
	case OP_MIRROR_IO:
		if (sl->mirror) {
			if (rnd(rs, 3) == 0)
				write_one(tid, sl, pi, false, true, rs);
			else
				read_check(tid, sl, pi, 1, BASE);
		}
		break;
	case OP_SVA_IO:
		if (sl->bond)
			read_check(tid, sl, pi, 2, BASE);
		break;
	default:
		break;
	}
out_r:
	sm_up_read(&sl->lock);
}

/* ---- invariants ---- */

static char check_problem[256];

static void check_report(void *arg, const char *fmt, va_list ap)
{
	(void)arg;
	if (!check_problem[0])
		vsnprintf(check_problem, sizeof(check_problem), fmt, ap);
}

static void check_invariants(const char *when)
{
	long pins = atomic_load(&outstanding_pins);
	unsigned long pinned = phys_pinned_frames();
	unsigned long problems;

	if (phys_stale_count())
		failf("%s: phys_stale_count() = %lu", when, phys_stale_count());
	if (phys_used_frames() + phys_free_frames() != phys_total_frames())
		failf("%s: frames used %lu + free %lu != total %lu", when, phys_used_frames(),
		      phys_free_frames(), phys_total_frames());
	/* Map counts, swap slots, device-private pages (the world is stopped). */
	check_problem[0] = 0;
	problems = mm_check_invariants(check_report, NULL);
	if (problems)
		failf("%s: check found %lu problems, first: %s", when, problems, check_problem);
	/* VFIO preregistration pins too: pins > 0 implies pinned frames, not conversely */
	if (pins > 0 && pinned == 0)
		failf("%s: %ld pages pinned by the torture but phys_pinned_frames() = 0", when,
		      pins);
	for (int i = 0; i < NSLOTS; i++) {
		struct slot *sl = &slots[i];

		if (!sl->task)
			continue;
		if (sl->mirror && mirror_nr_stale(sl->mirror))
			failf("%s: mirror of slot %d saw %lu stale translations", when, i,
			      mirror_nr_stale(sl->mirror));
		if (mm_users_read(sl->mm) < 1)
			failf("%s: live slot %d has mm_users %d", when, i, mm_users_read(sl->mm));
		check_all_pages(-1, sl, BASE);
		for (int p = 0; sl->huge && p < HUGE_NP; p++)
			huge_check(-1, sl, p, 0);
	}
	if (iodev) {
		struct iommu_stats st;

		iommu_dev_stats(iodev, &st);
		if (st.stale)
			failf("%s: IOMMU stale count %lu", when, st.stale);
	}
}

static void *worker(void *arg)
{
	int tid = (int)(intptr_t)arg;
	uint64_t rs = opt_seed ^ (0x5851f42d4c957f2dull * (uint64_t)(tid + 1));

	while (!atomic_load(&stop)) {
		if (opt_ops && atomic_fetch_add(&ops_done, 1) >= opt_ops) {
			atomic_store(&stop, true);
			break;
		}
		if (!opt_ops)
			atomic_fetch_add(&ops_done, 1);
		sm_down_read(&world_lock);
		do_op(tid, &rs);
		sm_up_read(&world_lock);
	}
	return NULL;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void usage(void)
{
	fprintf(stderr, "usage: torture [--seed S] [--secs N] [--ops N] [--threads T] [--no-vfio] "
			"[--no-thp] "
			"[--verbose]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct sm_thread th[MAXTHREADS];
	double t0, next_check;
	unsigned long checks = 0;

	opt_seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 20);
	if (getenv("TORTURE_S"))
		opt_secs = atof(getenv("TORTURE_S"));
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--seed") && i + 1 < argc)
			opt_seed = strtoull(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--secs") && i + 1 < argc)
			opt_secs = atof(argv[++i]);
		else if (!strcmp(argv[i], "--ops") && i + 1 < argc)
			opt_ops = strtoul(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
			opt_threads = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--no-vfio"))
			opt_no_vfio = true;
		else if (!strcmp(argv[i], "--no-thp"))
			opt_no_thp = true;
		else if (!strcmp(argv[i], "--verbose"))
			opt_verbose = true;
		else
			usage();
	}
	if (opt_threads < 1 || opt_threads > MAXTHREADS)
		usage();
	printf("torture: seed=%" PRIu64 " threads=%d %s=%g\n", opt_seed, opt_threads,
	       opt_ops ? "ops" : "secs", opt_ops ? (double)opt_ops : opt_secs);
	fflush(stdout);

	signal(SIGABRT, crash_handler);
	signal(SIGSEGV, crash_handler);
	signal(SIGBUS, crash_handler);
	/* 16 MiB: room for a few 2 MiB-aligned free blocks, so THPs do form. */
	if (phys_init(16UL << 20))
		failf("phys_init");
	if (swap_on(16UL << 20, NULL))
		failf("swap_on");
	ops_from_env();
	/* The ranks: world, then a slot (fork: two), then one object lock. */
	sm_mutex_init(&oplog_lock, "oplog_lock", LOCK_RANK_LEAF);
	sm_rwsem_init(&world_lock, "world_lock", LOCK_RANK_SIM);
	sm_rwsem_init(&users_lock, "users_lock", LOCK_RANK_SIM_OBJECT);
	for (int i = 0; i < NSLOTS; i++) {
		sm_rwsem_init(&slots[i].lock, "slot->lock", LOCK_RANK_SIM_SLOT);
		sm_mutex_init(&slots[i].pinlock, "slot->pinlock", LOCK_RANK_SIM_OBJECT);
		slots[i].idx = i;
	}
	for (int i = 0; i < NKTHREADS; i++) {
		sm_mutex_init(&kts[i].lock, "kt->lock", LOCK_RANK_SIM_OBJECT);
		kts[i].task = kthread_create("ktorture");
		if (!kts[i].task)
			failf("kthread_create");
	}
	iodev = iommu_device_create("torture-dev", 0);
	if (IS_ERR(iodev))
		failf("iommu_device_create: %ld", PTR_ERR(iodev));

	t0 = now();
	next_check = t0 + 1;
	for (int i = 0; i < opt_threads; i++)
		if (sm_thread_create(&th[i], worker, (void *)(intptr_t)i, "torture %d", i))
			failf("sm_thread_create");
	while (!atomic_load(&stop)) {
		sm_delay_us(20000); /* the clock: the next check, the end */
		if (!opt_ops && now() - t0 >= opt_secs)
			atomic_store(&stop, true);
		if (now() >= next_check) {
			sm_down_write(&world_lock);
			check_invariants("periodic check");
			sm_up_write(&world_lock);
			checks++;
			next_check = now() + 1;
		}
	}
	for (int i = 0; i < opt_threads; i++)
		sm_thread_join(&th[i]);

	/* final: check, tear down, nothing may be left */
	check_invariants("final check");
	{
		uint64_t rs = opt_seed;

		for (int i = 0; i < NSLOTS; i++)
			if (slots[i].task)
				slot_exit(-1, &slots[i], &rs);
	}
	for (int i = 0; i < NKTHREADS; i++) {
		if (kts[i].lazy)
			kthread_switch_away(kts[i].task);
		task_free(kts[i].task);
	}
	if (iommu_device_destroy(iodev))
		failf("iommu_device_destroy: bonds left");
	sm_rcu_barrier();
	if (atomic_load(&outstanding_pins))
		failf("end: %ld pins outstanding in the torture's books",
		      atomic_load(&outstanding_pins));
	if (phys_pinned_frames())
		failf("end: %lu frames still pinned", phys_pinned_frames());
	if (swap_slots_used())
		failf("end: %lu swap slots still in use", swap_slots_used());
	if (mm_live_count())
		failf("end: %lu mm structs not freed", mm_live_count());
	if (file_live_count())
		failf("end: %ld files not released", file_live_count());
	if (phys_used_frames())
		failf("end: %lu frames still in use", phys_used_frames());
	if (phys_stale_count())
		failf("end: phys_stale_count() = %lu", phys_stale_count());
	if (swap_off())
		failf("swap_off failed");
	/* After swap_off and phys_exit: their own structures come from kzalloc. */
	if (phys_exit())
		failf("phys_exit reports leaked frames");
	if (kzalloc_live())
		failf("end: %ld kzalloc objects not freed", kzalloc_live());
	printf("torture: PASS seed=%" PRIu64 " ops=%lu checks=%lu (%.1fs)\n", opt_seed,
	       atomic_load(&ops_done), checks, now() - t0);
	return 0;
}
