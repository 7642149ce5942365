/* SPDX-License-Identifier: MIT */
/*
 * bench_hmm.h - secondary-MMU benchmarks: range_fault, dma_copy,
 * migrate_to_device / migrate_to_system (ns per page, against memcpy of the
 * same bytes), and the
 * device-fault throughput on 1 and 2 threads with concurrent invalidations
 * of disjoint ranges (scaling table "scale device_fault").
 */
#ifndef SECMMU_BENCH_HMM_H
#define SECMMU_BENCH_HMM_H

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bench.h"
#include "bench_mm.h"
#include "secmmu/err.h"
#include "secmmu/hmm.h"
#include "secmmu/kit/thread.h"
#include "secmmu/kit/wait.h"
#include "secmmu/mirror.h"
#include "secmmu/mm.h"
#include "secmmu/mmu_notifier.h"

/* ---- range_fault: hmm_range_fault of N present pages ------------------- */

static bool bh_invalidate(struct mmu_interval_notifier *sub, const struct mmu_notifier_range *range,
			  unsigned long cur_seq)
{
	(void)range;
	mmu_interval_set_seq(sub, cur_seq);
	return true;
}

static const struct mmu_interval_notifier_ops bh_ops __attribute__((unused)) = {
	.invalidate = bh_invalidate,
};

struct bh_range_arg {
	unsigned long npages, iters;
	/* ours */
	struct mm_struct *mm;
	struct mmu_interval_notifier sub;
	unsigned long *pfns;
	/* kernel */
	unsigned char *kbuf;
	uint64_t *kmap;
	int pagemap_fd;
};

static uint64_t __attribute__((unused)) bh_range_ours(void *a)
{
	struct bh_range_arg *arg = a;
	struct hmm_range range = {
		.notifier = &arg->sub,
		.start = BENCH_BASE,
		.end = BENCH_BASE + arg->npages * PAGE_SIZE,
		.hmm_pfns = arg->pfns,
		.default_flags = HMM_PFN_REQ_FAULT,
	};
	uint64_t t0, t1;
	int r = 0;

	mmap_read_lock(arg->mm);
	t0 = bench_now();
	for (unsigned long it = 0; it < arg->iters && !r; it++) {
		range.notifier_seq = mmu_interval_read_begin(&arg->sub);
		r = hmm_range_fault(&range);
	}
	t1 = bench_now();
	BENCH_CHECK(r == 0, "hmm_range_fault: %d", r);
	for (unsigned long i = 0; i < arg->npages; i++) {
		unsigned long pfn;
		bool w;
		int e = follow_pfn_pte(arg->mm, BENCH_BASE + i * PAGE_SIZE, &pfn, &w, NULL);

		BENCH_CHECK(e == 0 && (arg->pfns[i] & HMM_PFN_VALID) &&
				    hmm_pfn_to_pfn(arg->pfns[i]) == pfn,
			    "page %lu: hmm pfn %#lx, pte pfn %#lx (%d)", i, arg->pfns[i], pfn, e);
	}
	mmap_read_unlock(arg->mm);
	return t1 - t0;
}

static uint64_t __attribute__((unused)) bh_range_ref(void *a)
{
	struct bh_range_arg *arg = a;
	size_t len = arg->npages * sizeof(uint64_t);
	off_t off = (off_t)((uintptr_t)arg->kbuf / PAGE_SIZE * sizeof(uint64_t));
	uint64_t t0, t1;
	ssize_t n = 0;

	t0 = bench_now();
	for (unsigned long it = 0; it < arg->iters; it++) {
		n = pread(arg->pagemap_fd, arg->kmap, len, off);
		if (n != (ssize_t)len)
			break;
	}
	t1 = bench_now();
	BENCH_CHECK(n == (ssize_t)len, "pread pagemap: %zd (%s)", n, strerror(errno));
	for (unsigned long i = 0; i < arg->npages; i++)
		BENCH_CHECK(arg->kmap[i] >> 63, "pagemap: page %lu not present", i);
	return t1 - t0;
}

static void __attribute__((unused)) bench_range_fault(void)
{
	struct bh_range_arg arg = {.npages = bench_size(4096, 16), .iters = bench_size(200, 1)};
	int r;

	arg.mm = bmm_new_mm(arg.npages);
	bmm_touch(arg.mm, arg.npages, 11);
	r = mmu_interval_notifier_insert(&arg.sub, arg.mm, BENCH_BASE, arg.npages * PAGE_SIZE,
					 &bh_ops);
	BENCH_CHECK(r == 0, "interval insert: %d", r);
	arg.pfns = calloc(arg.npages, sizeof(*arg.pfns));
	arg.kmap = calloc(arg.npages, sizeof(*arg.kmap));
	BENCH_CHECK(arg.pfns && arg.kmap, "calloc");
	arg.kbuf = kmm_map(arg.npages);
	kmm_touch(arg.kbuf, arg.npages, 11);
	arg.pagemap_fd = open("/proc/self/pagemap", O_RDONLY);
	BENCH_CHECK(arg.pagemap_fd >= 0, "open /proc/self/pagemap: %s", strerror(errno));

	bench_case("range_fault", bh_range_ours, bh_range_ref, &arg, arg.iters * arg.npages);

	close(arg.pagemap_fd);
	kmm_unmap(arg.kbuf, arg.npages);
	mmu_interval_notifier_remove(&arg.sub);
	mmput(arg.mm);
	free(arg.pfns);
	free(arg.kmap);
}

/* ---- dma_copy: mirror_read of 1 MiB through installed translations ------ */

struct bh_dma_arg {
	unsigned long npages, iters;
	struct mirror *m;
	unsigned char *src, *dst;
};

static inline void bh_dma_check(struct bh_dma_arg *arg)
{
	for (unsigned long i = 0; i < arg->npages * PAGE_SIZE; i++)
		BENCH_CHECK(arg->dst[i] == (unsigned char)(i * 7 + i / PAGE_SIZE), "byte %lu", i);
}

static uint64_t __attribute__((unused)) bh_dma_ours(void *a)
{
	struct bh_dma_arg *arg = a;
	uint64_t t0, t1;
	int r = 0;

	memset(arg->dst, 0, arg->npages * PAGE_SIZE);
	t0 = bench_now();
	for (unsigned long it = 0; it < arg->iters && !r; it++)
		r = mirror_read(arg->m, BENCH_BASE, arg->dst, arg->npages * PAGE_SIZE);
	t1 = bench_now();
	BENCH_CHECK(r == 0, "mirror_read: %d", r);
	bh_dma_check(arg);
	return t1 - t0;
}

static uint64_t __attribute__((unused)) bh_dma_ref(void *a)
{
	struct bh_dma_arg *arg = a;
	uint64_t t0, t1;

	memset(arg->dst, 0, arg->npages * PAGE_SIZE);
	t0 = bench_now();
	for (unsigned long it = 0; it < arg->iters; it++) {
		memcpy(arg->dst, arg->src, arg->npages * PAGE_SIZE);
		/* Keep the copies: the compiler may not drop all but the last. */
		__asm__ volatile("" : : "r"(arg->dst) : "memory");
	}
	t1 = bench_now();
	bh_dma_check(arg);
	return t1 - t0;
}

static void __attribute__((unused)) bench_dma_copy(void)
{
	struct bh_dma_arg arg = {.npages = 256, .iters = bench_size(1000, 1)};
	unsigned long len = arg.npages * PAGE_SIZE;
	struct mm_struct *mm = bmm_new_mm(arg.npages);
	unsigned long faults;
	cpu_set_t all;
	int r;

	arg.src = malloc(len);
	arg.dst = malloc(len);
	BENCH_CHECK(arg.src && arg.dst, "malloc");
	for (unsigned long i = 0; i < len; i++)
		arg.src[i] = (unsigned char)(i * 7 + i / PAGE_SIZE);
	r = mm_write(mm, BENCH_BASE, arg.src, len);
	BENCH_CHECK(r == 0, "mm_write: %d", r);
	/* The engine on the second CPU (bench_cpu()); the submitter, the reference on the first. */
	bench_affinity_save(&all);
	bench_pin_self(bench_cpu(1, 2));
	arg.m = mirror_create(mm, 0);
	BENCH_CHECK(!IS_ERR(arg.m), "mirror_create");
	bench_pin_self(bench_cpu(0, 2));
	r = mirror_read(arg.m, BENCH_BASE, arg.dst, len); /* fault everything in */
	BENCH_CHECK(r == 0 && mirror_nr_entries(arg.m) == arg.npages, "prefault: %d", r);
	faults = mirror_nr_invalidations(arg.m);

	/* One operation = one 1 MiB transfer. */
	bench_case("dma_copy", bh_dma_ours, bh_dma_ref, &arg, arg.iters);

	BENCH_CHECK(mirror_nr_invalidations(arg.m) == faults && mirror_nr_stale(arg.m) == 0 &&
			    mirror_nr_entries(arg.m) == arg.npages,
		    "the translations changed during dma_copy");
	bench_affinity_restore(&all);
	mirror_destroy(arg.m);
	mmput(mm);
	free(arg.src);
	free(arg.dst);
}

/* ---- migrate_to_device / migrate_to_system: per page, vs memcpy --------- */

struct bh_mig_arg {
	unsigned long npages, iters;
	struct mm_struct *mm;
	struct mirror *m;
	bool to_device; /* which direction is timed; the other one only resets */
	unsigned char *src, *dst;
};

static uint64_t __attribute__((unused)) bh_mig_ours(void *a)
{
	struct bh_mig_arg *arg = a;
	unsigned long len = arg->npages * PAGE_SIZE;
	uint64_t total = 0;
	int r = 0;

	for (unsigned long it = 0; it < arg->iters && !r; it++) {
		uint64_t t0;

		if (!arg->to_device) {
			r = mirror_migrate_to_device(arg->m, BENCH_BASE, len);
			if (r)
				break;
		}
		t0 = bench_now();
		r = arg->to_device ? mirror_migrate_to_device(arg->m, BENCH_BASE, len)
				   : mirror_migrate_to_system(arg->m, BENCH_BASE, len);
		total += bench_now() - t0;
		if (!r && arg->to_device)
			r = mirror_migrate_to_system(arg->m, BENCH_BASE, len);
	}
	BENCH_CHECK(r == 0, "mirror migrate: %d", r);
	BENCH_CHECK(mirror_device_pages(arg->m) == 0, "pages left on the device");
	r = mm_read(arg->mm, BENCH_BASE, arg->dst, len);
	BENCH_CHECK(r == 0 && !memcmp(arg->dst, arg->src, len), "data changed by migration");
	return total;
}

static uint64_t __attribute__((unused)) bh_mig_ref(void *a)
{
	struct bh_mig_arg *arg = a;
	uint64_t t0, t1;

	t0 = bench_now();
	for (unsigned long it = 0; it < arg->iters; it++) {
		memcpy(arg->dst, arg->src, arg->npages * PAGE_SIZE);
		__asm__ volatile("" : : "r"(arg->dst) : "memory");
	}
	t1 = bench_now();
	return t1 - t0;
}

static void __attribute__((unused)) bench_migrate_device(void)
{
	struct bh_mig_arg arg = {.npages = 256, .iters = bench_size(100, 1)};
	unsigned long len = arg.npages * PAGE_SIZE;
	int r;

	arg.mm = bmm_new_mm(arg.npages);
	arg.src = malloc(len);
	arg.dst = malloc(len);
	BENCH_CHECK(arg.src && arg.dst, "malloc");
	for (unsigned long i = 0; i < len; i++)
		arg.src[i] = (unsigned char)(i * 13 + i / PAGE_SIZE);
	r = mm_write(arg.mm, BENCH_BASE, arg.src, len);
	BENCH_CHECK(r == 0, "mm_write: %d", r);
	arg.m = mirror_create(arg.mm, 0);
	BENCH_CHECK(!IS_ERR(arg.m), "mirror_create");
	/* One operation = one page moved (setup, copy, remap, free of the old page). */
	arg.to_device = true;
	bench_case("migrate_to_device", bh_mig_ours, bh_mig_ref, &arg, arg.iters * arg.npages);
	arg.to_device = false;
	bench_case("migrate_to_system", bh_mig_ours, bh_mig_ref, &arg, arg.iters * arg.npages);
	BENCH_CHECK(mirror_nr_stale(arg.m) == 0, "stale translations");
	mirror_destroy(arg.m);
	mmput(arg.mm);
	free(arg.src);
	free(arg.dst);
}

/* ---- device-fault throughput, 1 vs 2 threads --------------------------- */
/*
 * Region k (k = 0, 1) is a separate mapping of P pages; thread k repeatedly
 * invalidates its own region (mprotect read-only and back: two invalidations,
 * the data stays) and then reads the whole region through a mirror, which
 * takes one device fault per page. With two mirrors each thread has its own
 * device (own DMA engine, own lock); with one mirror both threads share it.
 *
 * Thread k runs on CPU k (the k-th of the process's mask, bench_cpu(), when
 * it has that many), and so does the DMA engine of mirror k (started by
 * mirror_create() on a thread pinned there for the call: a thread inherits
 * its creator's CPU mask): "n threads" is n devices on n CPUs. Left to
 * the scheduler, a submitter and its engine on two CPUs of a VM pay a
 * halted vCPU's wake-up at every hand-off, and where they land changed one
 * thread's throughput 2x from run to run (docs/performance.md). Each thread
 * reads its region once before the clock starts: the translation table and
 * the engine exist, and the timed rounds are the steady state, not a
 * thread's start.
 */

#define BH_GAP_PAGES 16

struct bh_fault_thread {
	struct mm_struct *mm;
	struct mirror *m;
	unsigned long base, npages, rounds;
	int cpu; /* -1: not pinned */
	unsigned char *buf;
	int err;
};

/*
 * The start gate of a timed series of threads: each worker, warmed up,
 * arrives and waits for go; the main thread opens the gate when all have
 * arrived and times them from there to their end.
 */
static _Atomic int bh_gate_ready, bh_gate_go;

static void bh_gate_arrive(void)
{
	atomic_fetch_add(&bh_gate_ready, 1);
	sm_wake_up_var(&bh_gate_ready);
	sm_wait_var_event(&bh_gate_go, atomic_load(&bh_gate_go));
}

static void bh_gate_close(void)
{
	atomic_store(&bh_gate_ready, 0);
	atomic_store(&bh_gate_go, 0);
}

/* Open the gate when the @n threads @tid have arrived, join them. Return: ns from go to the end. */
static uint64_t bh_gate_run(struct sm_thread *tid, int n)
{
	uint64_t t0;

	sm_wait_var_event(&bh_gate_ready, atomic_load(&bh_gate_ready) == n);
	t0 = bench_now();
	atomic_store(&bh_gate_go, 1);
	sm_wake_up_var(&bh_gate_go);
	for (int k = 0; k < n; k++)
		sm_thread_join(&tid[k]);
	return bench_now() - t0;
}

static inline unsigned long bh_region(int k, unsigned long npages)
{
	return BENCH_BASE + (unsigned long)k * (npages + BH_GAP_PAGES) * PAGE_SIZE;
}

static void *bh_fault_worker(void *p)
{
	struct bh_fault_thread *t = p;

	bench_pin_self(t->cpu);
	t->err = mirror_read(t->m, t->base, t->buf, t->npages * PAGE_SIZE); /* warm-up */
	bh_gate_arrive();
	for (unsigned long r = 0; r < t->rounds && !t->err; r++) {
		t->err = mm_mprotect(t->mm, t->base, t->npages * PAGE_SIZE, PROT_READ);
		if (!t->err)
			t->err = mm_mprotect(t->mm, t->base, t->npages * PAGE_SIZE, BMM_RW);
		if (!t->err)
			t->err = mirror_read(t->m, t->base, t->buf, t->npages * PAGE_SIZE);
		for (unsigned long i = 0; i < t->npages && !t->err; i++)
			if (t->buf[i * PAGE_SIZE] != (unsigned char)(t->base / PAGE_SIZE + i))
				t->err = -EIO;
	}
	return NULL;
}

/* ns for @rounds rounds of @nthreads threads on @nmirrors mirrors. */
static uint64_t bh_fault_ns(int nthreads, int nmirrors, unsigned long npages, unsigned long rounds)
{
	struct mm_struct *mm = mm_alloc();
	struct mirror *m[2];
	struct bh_fault_thread t[2];
	struct sm_thread tid[2];
	cpu_set_t all;
	uint64_t ns;

	BENCH_CHECK(mm, "mm_alloc");
	for (int k = 0; k < 2; k++) {
		unsigned long base = bh_region(k, npages);
		long r = mm_mmap(mm, base, npages * PAGE_SIZE, BMM_RW, MAP_PRIVATE, NULL, 0);

		BENCH_CHECK(r == (long)base, "mm_mmap: %ld", r);
		for (unsigned long i = 0; i < npages; i++) {
			unsigned char c = (unsigned char)(base / PAGE_SIZE + i);

			BENCH_CHECK(mm_write(mm, base + i * PAGE_SIZE, &c, 1) == 0, "mm_write");
		}
	}
	bench_affinity_save(&all);
	for (int k = 0; k < nmirrors; k++) {
		/* Its engine, started here, inherits CPU k. */
		bench_pin_self(bench_cpu(k, nthreads));
		m[k] = mirror_create(mm, 0);
		BENCH_CHECK(!IS_ERR(m[k]), "mirror_create");
	}
	bench_affinity_restore(&all);
	bh_gate_close();
	for (int k = 0; k < nthreads; k++) {
		t[k] = (struct bh_fault_thread){.mm = mm,
						.m = m[k % nmirrors],
						.base = bh_region(k, npages),
						.npages = npages,
						.rounds = rounds,
						.cpu = bench_cpu(k, nthreads)};
		t[k].buf = malloc(npages * PAGE_SIZE);
		BENCH_CHECK(t[k].buf, "malloc");
		BENCH_CHECK(!sm_thread_create(&tid[k], bh_fault_worker, &t[k], "fault %d", k),
			    "thread");
	}
	ns = bh_gate_run(tid, nthreads);
	for (int k = 0; k < nthreads; k++) {
		BENCH_CHECK(t[k].err == 0, "fault thread %d: %d", k, t[k].err);
		free(t[k].buf);
	}
	for (int k = 0; k < nmirrors; k++) {
		BENCH_CHECK(mirror_nr_stale(m[k]) == 0, "stale translations");
		mirror_destroy(m[k]);
	}
	mmput(mm);
	return ns;
}

/*
 * The reference for the scaling: the same bytes a round of
 * bh_fault_worker() copies (its mirror_read() of the region), copied by
 * memcpy on @nthreads pinned threads, each its own buffers. Return: ns for
 * @rounds rounds.
 */
struct bh_copy_thread {
	unsigned char *src, *dst;
	size_t len;
	unsigned long rounds;
	int cpu;
};

static void *bh_copy_worker(void *p)
{
	struct bh_copy_thread *t = p;

	bench_pin_self(t->cpu);
	memcpy(t->dst, t->src, t->len); /* warm-up */
	bh_gate_arrive();
	for (unsigned long r = 0; r < t->rounds; r++) {
		memcpy(t->dst, t->src, t->len);
		__asm__ volatile("" : : "r"(t->dst) : "memory");
	}
	return NULL;
}

static uint64_t bh_copy_ns(int nthreads, size_t len, unsigned long rounds)
{
	struct bh_copy_thread t[2];
	struct sm_thread tid[2];
	uint64_t ns;

	bh_gate_close();
	for (int k = 0; k < nthreads; k++) {
		t[k] = (struct bh_copy_thread){.src = malloc(len),
					       .dst = malloc(len),
					       .len = len,
					       .rounds = rounds,
					       .cpu = bench_cpu(k, nthreads)};
		BENCH_CHECK(t[k].src && t[k].dst, "malloc");
		memset(t[k].src, k + 1, len);
		BENCH_CHECK(!sm_thread_create(&tid[k], bh_copy_worker, &t[k], "copy %d", k),
			    "thread");
	}
	ns = bh_gate_run(tid, nthreads);
	for (int k = 0; k < nthreads; k++) {
		free(t[k].src);
		free(t[k].dst);
	}
	return ns;
}

#define BH_FAULT_REPS 7
#define BH_FAULT_CFGS 5

/*
 * The configurations are measured in turn within each repetition (1 thread,
 * 2 threads on 2 mirrors, 2 threads on 1 mirror, the memcpy reference on 1
 * and on 2 threads, then again), so that a change in the machine's state
 * during the series (another process, the host) moves all of them alike;
 * each line reports the rate of its median time.
 *
 * The last line is the bound the memory system puts on the two-thread
 * ratio: a round's copy takes copy_share of a one-thread round (its bytes
 * at the one-thread memcpy rate), and two threads copying get
 * copy_scaling times one thread's bytes per second; if everything else
 * scaled perfectly, two threads would do
 *   bound = 2 / (copy_share * 2 / copy_scaling + 1 - copy_share)
 * times the faults of one.
 */
static void __attribute__((unused)) bench_fault_scaling(void)
{
	unsigned long npages = bench_size(1024, 8), rounds = bench_size(200, 1);
	/* threads, mirrors (0: the memcpy reference) */
	static const int cfg[BH_FAULT_CFGS][2] = {{1, 1}, {2, 2}, {2, 1}, {1, 0}, {2, 0}};
	int reps = bench_smoke ? 1 : BH_FAULT_REPS;
	uint64_t ns[BH_FAULT_CFGS][BH_FAULT_REPS];
	double med[BH_FAULT_CFGS], share, scaling;

	for (int i = 0; i < reps; i++)
		for (int c = 0; c < BH_FAULT_CFGS; c++) {
			if (cfg[c][1])
				ns[c][i] = bh_fault_ns(cfg[c][0], cfg[c][1], npages, rounds);
			else
				ns[c][i] = bh_copy_ns(cfg[c][0], npages * PAGE_SIZE, rounds);
		}
	for (int c = 0; c < BH_FAULT_CFGS; c++) {
		/* faults (or bytes) per second, all threads */
		double work = (double)cfg[c][0] * (double)rounds *
			      (double)(cfg[c][1] ? npages : npages * PAGE_SIZE);

		med[c] = work * 1e9 / (double)bench_median(ns[c], reps);
		if (cfg[c][1])
			printf("scale device_fault threads=%d mirrors=%d faults_per_sec=%.0f\n",
			       cfg[c][0], cfg[c][1], med[c]);
		else
			printf("scale copy_ref threads=%d bytes_per_sec=%.0f\n", cfg[c][0], med[c]);
	}
	/* seconds per round copying, over seconds per round, one thread */
	share = ((double)(npages * PAGE_SIZE) / med[3]) / ((double)npages / med[0]);
	scaling = med[4] / med[3];
	printf("scale device_fault_bound copy_share=%.2f copy_scaling=%.2f bound=%.2f\n", share,
	       scaling, 2.0 / (share * 2.0 / scaling + 1.0 - share));
	fflush(stdout);
}

static void __attribute__((unused)) bench_hmm_all(void)
{
	bench_range_fault();
	bench_dma_copy();
	bench_migrate_device();
	bench_fault_scaling();
}

#endif /* SECMMU_BENCH_HMM_H */
