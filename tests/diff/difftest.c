/*
 * difftest — differential test of `secmmu run` against the real Linux kernel.
 *
 *   difftest gen SEED N      print a random scenario of N commands (deterministic)
 *   difftest gen-thp SEED N  the same with transparent huge pages: 2 MiB-aligned
 *                            areas, madvise hugepage|nohugepage|collapse, partial
 *                            and whole munmap/mprotect/dontneed/mremap, fork, and
 *                            `mem NAME` (rss and thp) after the changes
 *   difftest linux FILE|-    run a scenario with real system calls and print
 *                            `LINE: COMMAND -> RESULT` lines, like `secmmu run`
 *
 * `mem NAME` on the Linux side: rss and swap are summed from /proc/self/smaps
 * over the VMAs in the test region, thp is AnonHugePages / 2 MiB from
 * /proc/self/smaps_rollup (checked to be all in the test region), locked_vm
 * is VmLck. As root, every present page of the region is also looked up in
 * /proc/kpageflags: the pages with KPF_THP must cover the PMD-mapped ones
 * (an internal failure otherwise), and zero-page mappings are taken out of
 * rss (smaps counts them, secmmu does not); without root, rss is smaps'
 * Anonymous (exact for private anonymous memory only).
 *
 * Linux side: the driver forks a zygote before anything is mapped in the test
 * window; every `mm NAME` is a fork of the zygote, every `fork P C` is a fork()
 * done by worker P.  Each worker is driven over its own unix stream socket; the
 * socket end of a new worker is created by the driver and passed to the forking
 * process with SCM_RIGHTS.  Script address A is executed at BASE + (A - WBASE).
 *
 * Build: gcc -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -g -O2
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP 4
#endif

#define PAGE   4096ULL
#define WBASE  0x10000000ULL	 /* script window start */
#define WPAGES 64		 /* generator window: 64 pages */
#define BASE   0x3f0000000000ULL /* real address of WBASE */
/* Script addresses [0, 2*WBASE) are allowed on the Linux side: that region is
 * probed to be free at startup and nothing else ever lives there. */
#define SAFE_LO 0ULL
#define SAFE_HI (2 * WBASE)

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

/* ------------------------------------------------------------------ */
/* common helpers                                                      */

static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "difftest: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(3);
}

static const struct {
	int e;
	const char *n;
} errnames[] = {
	{EPERM, "EPERM"},
	{ENOENT, "ENOENT"},
	{ESRCH, "ESRCH"},
	{EINTR, "EINTR"},
	{EIO, "EIO"},
	{ENXIO, "ENXIO"},
	{E2BIG, "E2BIG"},
	{EBADF, "EBADF"},
	{ECHILD, "ECHILD"},
	{EAGAIN, "EAGAIN"},
	{ENOMEM, "ENOMEM"},
	{EACCES, "EACCES"},
	{EFAULT, "EFAULT"},
	{EBUSY, "EBUSY"},
	{EEXIST, "EEXIST"},
	{ENODEV, "ENODEV"},
	{EINVAL, "EINVAL"},
	{ENFILE, "ENFILE"},
	{EMFILE, "EMFILE"},
	{EFBIG, "EFBIG"},
	{ENOSPC, "ENOSPC"},
	{ERANGE, "ERANGE"},
	{ENOSYS, "ENOSYS"},
	{EOVERFLOW, "EOVERFLOW"},
	{EOPNOTSUPP, "EOPNOTSUPP"},
	{ETIMEDOUT, "ETIMEDOUT"},
	{EHWPOISON, "EHWPOISON"},
};

static void errname(int e, char *buf, size_t n)
{
	for (size_t i = 0; i < sizeof errnames / sizeof errnames[0]; i++)
		if (errnames[i].e == e) {
			snprintf(buf, n, "-%s", errnames[i].n);
			return;
		}
	snprintf(buf, n, "-E%d", e);
}

/* ------------------------------------------------------------------ */
/* generator                                                           */

static uint64_t rng_s;

static uint64_t rnd(void) /* xorshift64* */
{
	rng_s ^= rng_s >> 12;
	rng_s ^= rng_s << 25;
	rng_s ^= rng_s >> 27;
	return rng_s * 0x2545F4914F6CDD1DULL;
}

static unsigned rn(unsigned n) /* [0, n) */
{
	return n ? (unsigned)((rnd() >> 11) % n) : 0;
}

static unsigned rr(unsigned lo, unsigned hi) /* [lo, hi] */
{
	return lo + rn(hi - lo + 1);
}

static int chance(unsigned permille)
{
	return rn(1000) < permille;
}

enum {
	P_NONE,
	P_R,
	P_RW,
	P_RX,
	P_RWX
};
static const char *protname[] = {"none", "r", "rw", "rx", "rwx"};

struct gproc {
	int alive;
	int id; /* name is p<id> */
	unsigned char mapped[WPAGES];
	unsigned char prot[WPAGES];
	unsigned char shared[WPAGES];
	unsigned vid[WPAGES];	   /* rough "which VMA" id */
	unsigned long long wa[16]; /* recent write addresses */
	unsigned wl[16], nw;
};

#define GMAX 4
static struct gproc gp[GMAX];
static int g_emitted, g_n, g_nextid, g_vid = 1, g_op;

static void emit(const char *fmt, ...)
{
	va_list ap;
	if (g_emitted >= g_n)
		return;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	g_emitted++;
}

static unsigned long long paddr(unsigned pg)
{
	return WBASE + (unsigned long long)pg * PAGE;
}

/*
 * The mix of commands (difftest gen SEED N MIX): basic (the original
 * spread), remap (mremap-heavy: in place and moving, grow, shrink, same
 * size, across VMAs, zero lengths, overlapping ranges), fork (fork-heavy
 * with exits), shared (shared mappings), advice (madvise advice).
 */
enum {
	MIX_BASIC,
	MIX_REMAP,
	MIX_FORK,
	MIX_SHARED,
	MIX_ADVICE,
	NR_MIX
};
static const char *const mixname[NR_MIX] = {"basic", "remap", "fork", "shared", "advice"};
static int g_mix;

/* What /proc shows after a structural command: maps always, pagemap often. */
static void emit_proc(int id)
{
	emit("maps p%d", id);
	if (chance(250))
		emit("pagemap p%d 0x%llx %u", id, paddr(0), WPAGES * (unsigned)PAGE);
	if (chance(60))
		emit("mem p%d", id);
}

/* a length in bytes, printed in a random but valid notation */
static const char *lenstr(unsigned long long len, char *buf)
{
	unsigned k = rn(4);
	if (len && len % 1024 == 0 && k == 0)
		sprintf(buf, "%lluK", len / 1024);
	else if (k == 1)
		sprintf(buf, "%llu", len);
	else
		sprintf(buf, "0x%llx", len);
	return buf;
}

static int nalive(void)
{
	int n = 0;
	for (int i = 0; i < GMAX; i++)
		n += gp[i].alive;
	return n;
}

static struct gproc *pick_proc(void)
{
	int n = nalive(), k = (int)rn((unsigned)n);
	for (int i = 0; i < GMAX; i++)
		if (gp[i].alive && k-- == 0)
			return &gp[i];
	return NULL;
}

static int nmapped(struct gproc *p)
{
	int n = 0;
	for (int i = 0; i < WPAGES; i++)
		n += p->mapped[i];
	return n;
}

/* a mapped page (optionally one that is writable), or -1 */
static int pick_mapped(struct gproc *p, int writable)
{
	int cand[WPAGES], n = 0;
	for (int i = 0; i < WPAGES; i++)
		if (p->mapped[i] && (!writable || p->prot[i] == P_RW || p->prot[i] == P_RWX))
			cand[n++] = i;
	return n ? cand[rn((unsigned)n)] : -1;
}

static int pick_unmapped(struct gproc *p)
{
	int cand[WPAGES], n = 0;
	for (int i = 0; i < WPAGES; i++)
		if (!p->mapped[i])
			cand[n++] = i;
	return n ? cand[rn((unsigned)n)] : -1;
}

static void model_map(struct gproc *p, unsigned pg, unsigned np, int prot, int shared, unsigned vid)
{
	for (unsigned i = pg; i < pg + np && i < WPAGES; i++) {
		p->mapped[i] = 1;
		p->prot[i] = (unsigned char)prot;
		p->shared[i] = (unsigned char)shared;
		p->vid[i] = vid;
	}
}

static void model_unmap(struct gproc *p, unsigned pg, unsigned np)
{
	for (unsigned i = pg; i < pg + np && i < WPAGES; i++)
		p->mapped[i] = 0;
}

static unsigned start_page(struct gproc *p)
{
	int m = pick_mapped(p, 0);
	if (m >= 0 && chance(750))
		return (unsigned)m;
	return rn(WPAGES);
}

static unsigned npages_at(unsigned pg)
{
	unsigned np = chance(700) ? rr(1, 4) : rr(1, 16);
	if (pg + np > WPAGES)
		np = WPAGES - pg;
	return np;
}

static void gen_mmap(struct gproc *p, int prot, int shared, unsigned pg, unsigned np)
{
	char b[32];
	emit("mmap p%d 0x%llx %s %s %s", p->id, paddr(pg), lenstr(np * PAGE, b), protname[prot],
	     shared ? "shared" : "private");
	model_map(p, pg, np, prot, shared, g_vid++);
	emit_proc(p->id);
}

static void gen_write_at(struct gproc *p, unsigned long long addr, unsigned len)
{
	unsigned kind = rn(10);
	p->wa[p->nw % 16] = addr;
	p->wl[p->nw % 16] = len;
	p->nw++;
	unsigned seedb = (unsigned)(g_op++ * 73 + p->id * 29 + 7) & 0xff;
	if (seedb == 0)
		seedb = 0xa5;
	if (kind < 4 || len > 48) {
		emit("write p%d 0x%llx fill:0x%02x:%u", p->id, addr, seedb, len);
	} else if (kind < 8) {
		char buf[2 + 2 * 48 + 1];
		int o = sprintf(buf, "0x");
		for (unsigned i = 0; i < len; i++)
			o += sprintf(buf + o, "%02x", (seedb + i * 13 + rn(256)) & 0xff);
		emit("write p%d 0x%llx %s", p->id, addr, buf);
	} else {
		static const char al[] =
			"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
		char buf[64];
		unsigned l = len > 40 ? 40 : len;
		for (unsigned i = 0; i < l; i++)
			buf[i] = al[(seedb + i * 7 + rn(62)) % 62];
		buf[l] = 0;
		emit("write p%d 0x%llx \"%s\"", p->id, addr, buf);
	}
}

/* address for a read/write: mostly inside mapped memory, sometimes near a page
 * end so the access spans pages, sometimes anywhere in the window. */
static unsigned long long rw_addr(struct gproc *p, unsigned len, int writable)
{
	int pg = -1;
	if (chance(850))
		pg = pick_mapped(p, writable && chance(800));
	if (pg < 0)
		pg = (int)rn(WPAGES);
	unsigned off;
	if (chance(250) && len < PAGE)
		off = (unsigned)PAGE - rr(1, len);
	else
		off = rn((unsigned)PAGE);
	unsigned long long a = paddr((unsigned)pg) + off;
	if (a + len > paddr(WPAGES))
		a = paddr(WPAGES) - len;
	return a;
}

static unsigned rw_len(void)
{
	unsigned k = rn(10);
	if (k < 5)
		return rr(1, 16);
	if (k < 8)
		return rr(1, 64);
	return rr(1, 300);
}

static void gen_write(struct gproc *p)
{
	unsigned len = rw_len();
	gen_write_at(p, rw_addr(p, len, 1), len);
}

static void gen_read(struct gproc *p)
{
	unsigned len = rw_len();
	unsigned k = p->nw < 16 ? rn(p->nw) : rn(16);
	if (p->nw && p->wa[k] < paddr(WPAGES) && chance(550)) {
		/* re-read something written earlier (maybe by a parent) */
		unsigned long long a = p->wa[k];
		unsigned l = p->wl[k];
		if (chance(300) && a > WBASE + 8)
			a -= rr(1, 8), l += 8;
		if (l > 300)
			l = 300;
		if (a + l > paddr(WPAGES))
			l = (unsigned)(paddr(WPAGES) - a);
		emit("read p%d 0x%llx %u", p->id, a, l);
		return;
	}
	emit("read p%d 0x%llx %u", p->id, rw_addr(p, len, 0), len);
}

/* read a few bytes at the start and end of a page range */
static void gen_probe_range(struct gproc *p, unsigned pg, unsigned np)
{
	if (!np)
		return;
	unsigned long long a = paddr(pg) + rn(PAGE - 32);
	emit("read p%d 0x%llx %u", p->id, a, rr(1, 32));
	if (np > 1 && chance(500)) {
		a = paddr(pg + np - 1) + rn(PAGE - 32);
		emit("read p%d 0x%llx %u", p->id, a, rr(1, 32));
	}
}

static struct gproc *new_slot(void)
{
	for (int i = 0; i < GMAX; i++)
		if (!gp[i].alive) {
			memset(&gp[i], 0, sizeof gp[i]);
			gp[i].alive = 1;
			gp[i].id = g_nextid++;
			return &gp[i];
		}
	return NULL;
}

/* populate a process: a private and a shared rw region with data in them */
static void gen_populate(struct gproc *p)
{
	unsigned a = rr(0, 20), na = rr(2, 8);
	unsigned b = rr(32, 50), nb = rr(2, 8);
	gen_mmap(p, P_RW, 0, a, na);
	gen_mmap(p, P_RW, 1, b, nb);
	gen_write_at(p, paddr(a) + rn(PAGE), rr(1, 200));
	gen_write_at(p, paddr(a + na - 1) + rn(64), rr(1, 64));
	gen_write_at(p, paddr(b) + rn(PAGE), rr(1, 200));
}

static void gen_fork(struct gproc *par)
{
	if (nmapped(par) < 2)
		gen_populate(par);
	else if (chance(500))
		gen_write(par);
	struct gproc *c = new_slot();
	if (!c)
		return;
	memcpy(c->mapped, par->mapped, sizeof c->mapped);
	memcpy(c->prot, par->prot, sizeof c->prot);
	memcpy(c->shared, par->shared, sizeof c->shared);
	memcpy(c->vid, par->vid, sizeof c->vid);
	memcpy(c->wa, par->wa, sizeof c->wa);
	memcpy(c->wl, par->wl, sizeof c->wl);
	c->nw = par->nw;
	emit("fork p%d p%d", par->id, c->id);
	emit_proc(c->id);
	/* COW / sharing probes: both write and read the same addresses */
	unsigned probes = rr(1, 3);
	for (unsigned k = 0; k < probes; k++) {
		int pg = pick_mapped(par, chance(850));
		if (pg < 0)
			break;
		unsigned len = rr(1, 40);
		unsigned long long a = paddr((unsigned)pg) + rn((unsigned)PAGE - len);
		struct gproc *first = chance(500) ? c : par, *second = first == c ? par : c;
		if (chance(300))
			emit("read p%d 0x%llx %u", second->id, a, len);
		gen_write_at(first, a, len);
		if (chance(700))
			gen_write_at(second, a + rn(len), rr(1, len));
		emit("read p%d 0x%llx %u", first->id, a, len);
		emit("read p%d 0x%llx %u", second->id, a, len);
	}
	if (chance(500))
		emit("pagemap p%d 0x%llx %u", par->id, paddr(0), WPAGES * (unsigned)PAGE);
}

static void gen_mremap_1(struct gproc *p);

/* The VMA (modelled) around page @m: [*s, *e). */
static void model_vma(struct gproc *p, unsigned m, unsigned *s, unsigned *e)
{
	*s = m;
	*e = m + 1;
	while (*s > 0 && p->mapped[*s - 1] && p->vid[*s - 1] == p->vid[m])
		(*s)--;
	while (*e < WPAGES && p->mapped[*e] && p->vid[*e] == p->vid[m])
		(*e)++;
}

/*
 * Edge cases: old length 0 (duplicate a shared mapping, -EINVAL for a private
 * one) with destinations anywhere, overlapping or covering the source; and
 * in-place resizes (no NEWADDR) that grow, shrink or keep the size, across
 * VMA boundaries and holes. The model forgets what it cannot follow.
 */
static void gen_mremap_edge(struct gproc *p)
{
	char b1[32], b2[32];
	int m = pick_mapped(p, 0);
	unsigned pg = m < 0 ? rn(WPAGES) : (unsigned)m, s, e;

	if (chance(400)) {
		unsigned nl = rr(1, 6), d;

		if (chance(400))
			d = pg >= 2 ? pg - rr(0, 2) : pg; /* covering / overlapping */
		else
			d = rn(WPAGES - nl);
		if (d + nl > WPAGES)
			d = WPAGES - nl;
		emit("mremap p%d 0x%llx 0 %s 0x%llx", p->id, paddr(pg), lenstr(nl * PAGE, b2),
		     paddr(d));
		/* a new mapping at d (shared source) or nothing: forget the range */
		model_unmap(p, d, nl);
		return;
	}
	/* in place */
	if (m >= 0)
		model_vma(p, pg, &s, &e);
	else
		s = pg, e = pg + 1;
	unsigned onp = chance(500) ? e - pg : rr(1, 8), nnp;
	unsigned k = rn(3);
	if (pg + onp > WPAGES)
		onp = WPAGES - pg;
	if (!onp)
		onp = 1;
	nnp = k == 0 ? onp : k == 1 ? onp + rr(1, 4) : rr(1, onp);
	if (pg + nnp > WPAGES)
		nnp = WPAGES - pg;
	if (!nnp)
		nnp = 1;
	emit("mremap p%d 0x%llx %s %s", p->id, paddr(pg), lenstr(onp * PAGE, b1),
	     lenstr(nnp * PAGE, b2));
	if (nnp < onp) {
		model_unmap(p, pg + nnp, onp - nnp);
	} else if (nnp > onp && m >= 0 && pg + onp == e) {
		for (unsigned i = pg + onp; i < pg + nnp; i++)
			if (p->mapped[i])
				return; /* -ENOMEM: no room to grow in place */
		model_map(p, pg + onp, nnp - onp, p->prot[pg], p->shared[pg], p->vid[pg]);
	}
}

/*
 * MREMAP_DONTUNMAP (always with MAYMOVE|FIXED: without FIXED the kernel
 * picks an address outside the window): the old range stays mapped, empty.
 * Sometimes an invalid one: a resize, or no MAYMOVE (-EINVAL).
 */
static void gen_mremap_dontunmap(struct gproc *p)
{
	char b1[32], b2[32];
	int m = pick_mapped(p, 0);
	unsigned os = m < 0 ? rn(WPAGES) : (unsigned)m, onp = npages_at(os), k = rn(10);
	unsigned nnp = k == 0 ? onp + 1 : onp;
	int cand[WPAGES], nc = 0;

	for (unsigned d = 0; d + nnp <= WPAGES; d++)
		if (d + nnp <= os || d >= os + onp)
			cand[nc++] = (int)d;
	if (!nc)
		return;
	unsigned d = (unsigned)cand[rn((unsigned)nc)];
	emit("mremap p%d 0x%llx %s %s 0x%llx %s", p->id, paddr(os), lenstr(onp * PAGE, b1),
	     lenstr(nnp * PAGE, b2), paddr(d),
	     k == 1 ? "fixed,dontunmap" : "maymove,fixed,dontunmap");
	if (k > 1 && m >= 0)
		model_map(p, d, nnp, p->prot[os], p->shared[os], g_vid++);
}

static void gen_mremap(struct gproc *p)
{
	if (chance(g_mix == MIX_REMAP ? 120 : 60)) {
		gen_mremap_dontunmap(p);
		emit_proc(p->id);
		return;
	}
	if (chance(g_mix == MIX_REMAP ? 450 : 150))
		gen_mremap_edge(p);
	else
		gen_mremap_1(p);
	emit_proc(p->id);
}

static void gen_mremap_1(struct gproc *p)
{
	char b1[32], b2[32];
	int m = pick_mapped(p, 0);
	unsigned kind = rn(100);
	if (m < 0 || kind < 12) {
		/* invalid ones */
		unsigned pg = m < 0 ? rn(WPAGES - 8) : (unsigned)m;
		if (pg > WPAGES - 8)
			pg = WPAGES - 8;
		unsigned sub = rn(4);
		if (sub == 0) { /* new overlaps old -> EINVAL */
			unsigned np = rr(2, 6), shift = rr(0, np - 1);
			unsigned np2 = rr(1, 6);
			unsigned nw = pg + shift + np2 <= WPAGES ? pg + shift : pg;
			emit("mremap p%d 0x%llx %s %s 0x%llx", p->id, paddr(pg),
			     lenstr(np * PAGE, b1), lenstr(np2 * PAGE, b2), paddr(nw));
		} else if (sub == 1) { /* newlen 0 -> EINVAL */
			emit("mremap p%d 0x%llx %s 0 0x%llx", p->id, paddr(pg),
			     lenstr(rr(1, 4) * PAGE, b1), paddr(rr(0, WPAGES - 1)));
		} else if (sub == 2) { /* old range over a hole -> EFAULT */
			int h = pick_unmapped(p);
			if (h < 0)
				h = (int)rn(WPAGES);
			unsigned s = (unsigned)h >= 2 ? (unsigned)h - rr(0, 2) : (unsigned)h;
			unsigned np = rr(2, 5);
			if (s + np > WPAGES)
				np = WPAGES - s;
			/* grow: -EFAULT on every kernel; equal: since 6.17 a multi-VMA
			 * move, ok unless the range starts in the hole; shrink: only the
			 * kept prefix must lie in one VMA */
			unsigned kk = rn(4);
			unsigned nl = kk == 0 ? np : kk < 3 ? np + rr(1, 4) : rr(1, np);
			unsigned nw = s + np + nl <= WPAGES ? s + np : 0;
			if (nw + nl > s && nw < s + np)
				nw = s + np;
			if (nw + nl >
			    WPAGES) { /* can't place after; place at 0 if free of overlap */
				if (nl <= s)
					nw = 0;
				else
					nl = 1, nw = s >= 1 ? 0 : s + np;
			}
			emit("mremap p%d 0x%llx %s %s 0x%llx", p->id, paddr(s),
			     lenstr(np * PAGE, b1), lenstr(nl * PAGE, b2), paddr(nw));
		} else { /* unaligned old or new address -> EINVAL */
			unsigned np = rr(1, 4);
			unsigned nw = pg >= 8 ? pg - 8 : pg + 8;
			if (chance(500))
				emit("mremap p%d 0x%llx %s %s 0x%llx", p->id,
				     paddr(pg) + rr(1, 4095), lenstr(np * PAGE, b1),
				     lenstr(np * PAGE, b2), paddr(nw));
			else
				emit("mremap p%d 0x%llx %s %s 0x%llx", p->id, paddr(pg),
				     lenstr(np * PAGE, b1), lenstr(np * PAGE, b2),
				     paddr(nw) + rr(1, 4095));
		}
		return;
	}
	/* a valid one: old range inside one (modelled) VMA */
	unsigned s = (unsigned)m, e = (unsigned)m + 1;
	while (s > 0 && p->mapped[s - 1] && p->vid[s - 1] == p->vid[m])
		s--;
	while (e < WPAGES && p->mapped[e] && p->vid[e] == p->vid[m])
		e++;
	unsigned os = chance(600) ? s : rr(s, e - 1);
	unsigned onp = chance(600) ? e - os : rr(1, e - os);
	unsigned nnp;
	unsigned k = rn(10);
	if (k < 4)
		nnp = onp;
	else if (k < 7)
		nnp = onp + rr(1, 8);
	else
		nnp = rr(1, onp);
	/* a non-overlapping destination inside the window */
	int cand[WPAGES], nc = 0;
	for (unsigned d = 0; d + nnp <= WPAGES; d++)
		if (d + nnp <= os || d >= os + onp)
			cand[nc++] = (int)d;
	if (!nc)
		return;
	unsigned d = (unsigned)cand[rn((unsigned)nc)];
	emit("mremap p%d 0x%llx %s %s 0x%llx", p->id, paddr(os), lenstr(onp * PAGE, b1),
	     lenstr(nnp * PAGE, b2), paddr(d));
	int prot = p->prot[os], sh = p->shared[os];
	model_unmap(p, os, onp);
	model_map(p, d, nnp, prot, sh, g_vid++);
	for (unsigned i = 0; i < 16; i++) /* moved data: follow it */
		if (p->wa[i] >= paddr(os) && p->wa[i] < paddr(os + (onp < nnp ? onp : nnp)))
			p->wa[i] = p->wa[i] - paddr(os) + paddr(d);
	if (chance(600))
		gen_probe_range(p, d, nnp);
}

/* ~3% deliberately odd cases: unaligned, zero length, out of window */
static void gen_odd(struct gproc *p)
{
	char b[32];
	unsigned pg = start_page(p);
	unsigned np = npages_at(pg);
	static const char *ops[] = {"munmap", "mprotect", "madvise"};
	unsigned k = rn(8);
	unsigned op = rn(4); /* 0 mmap, 1 munmap, 2 mprotect, 3 madvise */
	char tail[32];
	tail[0] = 0;
	if (op == 2)
		sprintf(tail, " %s", protname[rn(5)]);
	else if (op == 3)
		strcpy(tail, " dontneed");
	if (k < 2) { /* unaligned address */
		unsigned long long a = paddr(pg) + rr(1, 4095);
		if (op == 0)
			emit("mmap p%d 0x%llx %s %s %s", p->id, a, lenstr(np * PAGE, b),
			     protname[rn(5)], chance(500) ? "shared" : "private");
		else
			emit("%s p%d 0x%llx %s%s", ops[op - 1], p->id, a, lenstr(np * PAGE, b),
			     tail);
	} else if (k < 4) { /* zero length */
		if (op == 0)
			emit("mmap p%d 0x%llx 0 %s private", p->id, paddr(pg), protname[rn(5)]);
		else
			emit("%s p%d 0x%llx 0%s", ops[op - 1], p->id, paddr(pg), tail);
	} else if (k < 6) { /* unaligned length: rounded up by the kernel */
		unsigned long long len = (np - 1) * PAGE + rr(1, 4095);
		if (op == 0) {
			int prot = (int)rn(5), sh = chance(500);
			emit("mmap p%d 0x%llx %llu %s %s", p->id, paddr(pg), len, protname[prot],
			     sh ? "shared" : "private");
			model_map(p, pg, np, prot, sh, g_vid++);
		} else {
			emit("%s p%d 0x%llx %llu%s", ops[op - 1], p->id, paddr(pg), len, tail);
			if (op == 1)
				model_unmap(p, pg, np);
		}
	} else { /* outside the 64-page window (harmless) */
		unsigned long long a = paddr(WPAGES + rn(1000));
		unsigned sub = rn(4);
		if (sub == 0)
			emit("mmap p%d 0x%llx 0x1000 rw private", p->id, a);
		else if (sub == 1)
			emit("munmap p%d 0x%llx 0x2000", p->id, a);
		else if (sub == 2)
			emit("read p%d 0x%llx 8", p->id, a);
		else
			emit("write p%d 0x%llx 0x01020304", p->id, a);
	}
}

/* madvise advice the generator uses, by mix */
static const char *const advice_basic[] = {"dontneed"};
/*
 * populate_read: on a pvm_no_zero_page kernel `difftest linux` runs it page
 * by page and leaves never-written private pages alone (mainline maps the
 * zero page there, which pagemap is compared around).
 */
static const char *const advice_all[] = {
	"dontneed",   "mergeable", "unmergeable", "dontfork",	    "dofork", "wipeonfork",
	"keeponfork", "free",	   "remove",	  "populate_write", "cold",   "populate_read"};

/*
 * mlock, munlock, mlockall, munlockall. A populating mlock prefers
 * writable memory: on a pvm_no_zero_page kernel a read populate of
 * never-written private memory is not comparable (the seed is skipped).
 */
static void gen_mlock(struct gproc *p)
{
	static const char *const mcl[] = {"current,onfault",
					  "future,onfault",
					  "current,future,onfault",
					  "onfault",
					  "0",
					  "current",
					  "current,future",
					  "future",
					  "8"};
	char b[32];
	unsigned k = rn(100);
	int w = pick_mapped(p, 1);
	unsigned pg = k < 35 && w >= 0 ? (unsigned)w : start_page(p), np = npages_at(pg);

	if (k < 35)
		emit("mlock p%d 0x%llx %s", p->id, paddr(pg), lenstr(np * PAGE, b));
	else if (k < 50)
		emit("mlock p%d 0x%llx %s %s", p->id, paddr(pg), lenstr(np * PAGE, b),
		     chance(900) ? "onfault" : "2");
	else if (k < 70)
		emit("munlock p%d 0x%llx %s", p->id, paddr(pg), lenstr(np * PAGE, b));
	else if (k < 85)
		emit("mlockall p%d %s", p->id, mcl[rn(sizeof mcl / sizeof mcl[0])]);
	else
		emit("munlockall p%d", p->id);
	emit_proc(p->id);
	if (chance(300))
		emit("mem p%d", p->id);
}

static void gen_madvise(struct gproc *p)
{
	char b[32];
	if (chance(g_mix == MIX_ADVICE			       ? 250
		   : g_mix == MIX_BASIC || g_mix == MIX_SHARED ? 0
							       : 60)) {
		gen_mlock(p);
		return;
	}
	unsigned pg = start_page(p), np = npages_at(pg);
	const char *adv = g_mix == MIX_ADVICE || chance(100)
				  ? advice_all[rn(sizeof advice_all / sizeof advice_all[0])]
				  : advice_basic[0];
	emit("madvise p%d 0x%llx %s %s", p->id, paddr(pg), lenstr(np * PAGE, b), adv);
	if (strcmp(adv, "dontneed")) {
		unsigned v = (unsigned)g_vid++; /* a flag change splits the VMA */
		for (unsigned i = pg; i < pg + np && i < WPAGES && p->mapped[i]; i++)
			p->vid[i] = v;
		emit_proc(p->id);
	} else if (chance(600)) {
		gen_probe_range(p, pg, np);
	}
	if (chance(200))
		emit("pagemap p%d 0x%llx %u", p->id, paddr(pg), np * (unsigned)PAGE);
}

/* Per-mix weights (per mille, cumulative order below) of each kind of command. */
struct weights {
	unsigned mmap, munmap, mprotect, madvise, mremap, write, read, fork, mm, exit;
	unsigned shared; /* per mille of new mappings that are shared */
};

static const struct weights mix_weights[NR_MIX] = {
	[MIX_BASIC] = {100, 70, 90, 60, 80, 270, 240, 40, 10, 10, 300},
	[MIX_REMAP] = {90, 50, 50, 30, 300, 200, 200, 40, 10, 10, 350},
	[MIX_FORK] = {80, 50, 60, 40, 60, 230, 230, 150, 30, 50, 300},
	[MIX_SHARED] = {120, 70, 80, 60, 90, 230, 220, 60, 10, 10, 800},
	[MIX_ADVICE] = {90, 50, 60, 250, 60, 200, 200, 40, 10, 10, 300},
};

static int gen_main(uint64_t seed, int n, int mix)
{
	const struct weights *w = &mix_weights[mix];
	char b[32];
	g_mix = mix;
	rng_s = seed * 0x9E3779B97F4A7C15ULL + 0x1234567ULL + (uint64_t)mix * 0x51ED27ULL;
	if (!rng_s)
		rng_s = 1;
	for (int i = 0; i < 8; i++)
		rnd();
	g_n = n;
	if (mix == MIX_BASIC)
		printf("# difftest gen seed=%llu n=%d\n", (unsigned long long)seed, n);
	else
		printf("# difftest gen seed=%llu n=%d mix=%s\n", (unsigned long long)seed, n,
		       mixname[mix]);
	struct gproc *p0 = new_slot();
	emit("mm p%d", p0->id);
	gen_populate(p0);
	while (g_emitted < g_n) {
		struct gproc *p = pick_proc();
		unsigned r = rn(1000), c;
		if (nmapped(p) == 0 && chance(600))
			r = 0;		 /* empty process: map something */
		if (r < (c = w->mmap)) { /* mmap */
			int u = pick_unmapped(p);
			unsigned pg = u >= 0 && chance(600) ? (unsigned)u
				      : chance(500)	    ? rn(WPAGES)
							    : start_page(p);
			unsigned np = npages_at(pg);
			int prot = chance(500) ? P_RW : (int)rn(5);
			gen_mmap(p, prot, chance(w->shared), pg, np);
		} else if (r < (c += w->munmap)) { /* munmap */
			unsigned pg = start_page(p), np = npages_at(pg);
			emit("munmap p%d 0x%llx %s", p->id, paddr(pg), lenstr(np * PAGE, b));
			model_unmap(p, pg, np);
			emit_proc(p->id);
		} else if (r < (c += w->mprotect)) { /* mprotect */
			unsigned pg = start_page(p), np = npages_at(pg);
			int prot = (int)rn(5);
			emit("mprotect p%d 0x%llx %s %s", p->id, paddr(pg), lenstr(np * PAGE, b),
			     protname[prot]);
			unsigned v = (unsigned)g_vid++;
			for (unsigned i = pg; i < pg + np && p->mapped[i];
			     i++) /* applied up to the first hole */
				p->prot[i] = (unsigned char)prot, p->vid[i] = v;
			emit_proc(p->id);
		} else if (r < (c += w->madvise)) {
			gen_madvise(p);
		} else if (r < (c += w->mremap)) {
			gen_mremap(p);
		} else if (r < (c += w->write)) {
			gen_write(p);
		} else if (r < (c += w->read)) {
			gen_read(p);
		} else if (r < (c += w->fork)) {
			if (nalive() < GMAX)
				gen_fork(p);
			else
				gen_read(p);
		} else if (r < (c += w->mm)) {
			if (nalive() < GMAX) {
				struct gproc *c2 = new_slot();
				emit("mm p%d", c2->id);
			}
		} else if (r < (c += w->exit)) {
			if (nalive() > 1) {
				emit("exit p%d", p->id);
				p->alive = 0;
			}
		} else {
			gen_odd(p);
		}
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* THP generator                                                       */

#define TBASE  0x14000000ULL /* 2 MiB-aligned script address (and real: BASE - WBASE is) */
#define HUGE   (2ULL << 20)
#define TSPAN  8 /* huge ranges in the window */
#define TPAGES (TSPAN * 512)

static int t_alive[3], t_n;

/* a page offset inside the window: often 2 MiB-aligned, else anywhere */
static unsigned t_page(void)
{
	return chance(500) ? rn(TSPAN) * 512 : rn(TPAGES);
}

/* a length from @pg: whole huge ranges, a few pages, or up to the window end */
static unsigned t_len(unsigned pg)
{
	unsigned np = chance(400) ? rr(1, 3) * 512 : chance(600) ? rr(1, 8) : rr(1, 1024);
	if (pg + np > TPAGES)
		np = TPAGES - pg;
	return np;
}

static int t_pick(void)
{
	int k;
	do
		k = (int)rn(3);
	while (!t_alive[k]);
	return k;
}

static int detect_no_zero_page(void);

static int gen_thp_main(uint64_t seed, int n)
{
	static const char *adv[] = {"hugepage", "hugepage", "nohugepage", "dontneed", "collapse"};
	rng_s = seed * 0x9E3779B97F4A7C15ULL + 0x7654321ULL;
	if (!rng_s)
		rng_s = 1;
	for (int i = 0; i < 8; i++)
		rnd();
	g_n = n;
	printf("# difftest gen-thp seed=%llu n=%d\n", (unsigned long long)seed, n);
	emit("phys 256M");
	/*
	 * A kernel booted with pvm_no_zero_page=1 allocates a THP where a read
	 * faults first (the read of a page whose write failed: -EFAULT in a
	 * read-only range); stock Linux maps the huge zero page, which a later
	 * write splits to copy 4 KiB. No emulation on the Linux side can make
	 * the two agree after that write, so secmmu is set to the kernel's
	 * actual configuration, Linux's own knob use_zero_page=0 (secmmu's
	 * default stays 1, as Linux's).
	 */
	if (detect_no_zero_page())
		emit("thp use_zero_page 0");
	emit("mm p0");
	t_alive[0] = 1;
	emit("mmap p0 0x%llx 0x%llx rw private", TBASE, TSPAN * HUGE);
	emit("madvise p0 0x%llx 0x%llx hugepage", TBASE, TSPAN * HUGE);
	while (g_emitted < g_n) {
		int k = t_pick();
		unsigned r = rn(1000), pg = t_page(), np = t_len(pg);
		unsigned long long a = TBASE + (unsigned long long)pg * PAGE;
		unsigned long long len = (unsigned long long)np * PAGE;

		if (r < 420) {
			/*
			 * Reads only of what was just written: the reference kernel
			 * (6.18 here) maps no zero page on a read fault (it allocates),
			 * secmmu does, and rss would differ for pages only read.
			 */
			unsigned long long wa = a + rn(PAGE - 2);
			emit("write p%d 0x%llx 0x%02x%02x", k, wa, rn(256), rn(256));
			if (chance(300))
				emit("read p%d 0x%llx 2", k, wa);
			continue;
		} else if (r < 560) {
			emit("madvise p%d 0x%llx 0x%llx %s", k, a, len, adv[rn(5)]);
		} else if (r < 660) {
			emit("mprotect p%d 0x%llx 0x%llx %s", k, a, len, chance(500) ? "r" : "rw");
		} else if (r < 720) {
			emit("munmap p%d 0x%llx 0x%llx", k, a, len);
		} else if (r < 760) {
			emit("mmap p%d 0x%llx 0x%llx rw private", k, a, len);
		} else if (r < 820) {
			unsigned to = t_page();
			unsigned long long na = TBASE + (unsigned long long)to * PAGE;
			if (na < a + len && a < na + len)
				continue; /* overlapping moves are invalid anyway */
			if (to + np > TPAGES)
				continue;
			emit("mremap p%d 0x%llx 0x%llx 0x%llx 0x%llx", k, a, len, len, na);
		} else if (r < 860) {
			int c = -1;
			for (int i = 0; i < 3; i++)
				if (!t_alive[i])
					c = i;
			if (c < 0)
				continue;
			emit("fork p%d p%d", k, c);
			t_alive[c] = 1;
			emit("mem p%d", c);
		} else if (r < 880) {
			if (t_alive[0] + t_alive[1] + t_alive[2] < 2)
				continue;
			emit("exit p%d", k);
			t_alive[k] = 0;
			continue;
		} else {
			/* a write in every live process at one address: COW of shared huge pages */
			for (int i = 0; i < 3; i++)
				if (t_alive[i])
					emit("write p%d 0x%llx 0x%02x", i, a, i + 1);
			for (int i = 0; i < 3; i++)
				if (t_alive[i])
					emit("read p%d 0x%llx 1", i, a);
			(void)0;
		}
		emit("mem p%d", k);
	}
	(void)t_n;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Linux side: workers                                                 */

enum {
	OP_SPAWN = 1,
	OP_EXIT,
	OP_MMAP,
	OP_MUNMAP,
	OP_MPROTECT,
	OP_MADVISE,
	OP_MREMAP,
	OP_WRITE,
	OP_READ,
	OP_MAPS,
	OP_PAGEMAP,
	OP_MEM,
	OP_MLOCK,
	OP_MUNLOCK,
	OP_MLOCKALL,
	OP_MUNLOCKALL,
	OP_POPULATE_READ
};

/*
 * A call whose result on a pvm_no_zero_page kernel cannot be made to look
 * like mainline's: it would fault in (populate) never-written private
 * anonymous memory for reading, where mainline maps the zero page and this
 * kernel allocates pages (and an anon_vma, which changes later merges). The
 * worker answers it with NZP_CONFLICT without making the call; the run
 * stops with exit status 4 and run.sh counts the seed as skipped.
 */
#define NZP_CONFLICT (-100000)

/* The kernel boots with pvm_no_zero_page=1: see linux_read_page(). */
static int no_zero_page;

struct req {
	uint32_t op, prot, flags, pad;
	uint64_t a, b, c, d;
	uint64_t datalen;
};

struct rep {
	int64_t res;
	uint64_t datalen;
};

static int read_full(int fd, void *buf, size_t n)
{
	char *p = buf;
	while (n) {
		ssize_t r = read(fd, p, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

static int write_full(int fd, const void *buf, size_t n)
{
	const char *p = buf;
	while (n) {
		ssize_t r = write(fd, p, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

/* receive a request header, collecting a passed fd if any */
static int recv_req(int fd, struct req *q, int *passed)
{
	char *p = (char *)q;
	size_t got = 0;
	*passed = -1;
	while (got < sizeof *q) {
		union {
			struct cmsghdr h;
			char buf[CMSG_SPACE(sizeof(int))];
		} cm;
		struct iovec iov = {p + got, sizeof *q - got};
		struct msghdr mh = {0};
		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		mh.msg_control = cm.buf;
		mh.msg_controllen = sizeof cm.buf;
		ssize_t r = recvmsg(fd, &mh, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
			if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
				memcpy(passed, CMSG_DATA(c), sizeof(int));
		got += (size_t)r;
	}
	return 0;
}

static int send_req(int fd, const struct req *q, int passfd)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} cm;
	struct iovec iov = {(void *)q, sizeof *q};
	struct msghdr mh = {0};
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	if (passfd >= 0) {
		memset(&cm, 0, sizeof cm);
		mh.msg_control = cm.buf;
		mh.msg_controllen = sizeof cm.buf;
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &passfd, sizeof(int));
	}
	for (;;) {
		ssize_t r = sendmsg(fd, &mh, MSG_NOSIGNAL);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if ((size_t)r < sizeof *q)
			return write_full(fd, (const char *)q + r, sizeof *q - (size_t)r);
		return 0;
	}
}

static sigjmp_buf fault_jb;
static volatile sig_atomic_t fault_armed;

static void on_fault(int sig)
{
	if (fault_armed) {
		fault_armed = 0;
		siglongjmp(fault_jb, 1);
	}
	signal(sig, SIG_DFL);
	raise(sig);
}

static unsigned char *volatile acc_buf;
static volatile size_t acc_i, acc_n;
static volatile uintptr_t acc_addr;

static int emulate_zero_read(uintptr_t addr, size_t n, unsigned char *buf);
static int vma_lock_flags(uint64_t addr);

/* byte-by-byte access in address order; returns 0 or -EFAULT */
static int access_bytes(int wr)
{
	acc_i = 0;
	if (sigsetjmp(fault_jb, 1))
		return -EFAULT;
	fault_armed = 1;
	for (; acc_i < acc_n; acc_i++) {
		uintptr_t a = acc_addr + acc_i;

		if (!wr && (acc_i == 0 || a % PAGE == 0)) {
			size_t chunk = PAGE - a % PAGE;

			if (chunk > acc_n - acc_i)
				chunk = acc_n - acc_i;
			fault_armed = 0;
			if (emulate_zero_read(a, chunk, acc_buf + acc_i)) {
				acc_i += chunk - 1;
				fault_armed = 1;
				continue;
			}
			fault_armed = 1;
		}
		volatile unsigned char *p = (volatile unsigned char *)(acc_addr + acc_i);
		if (wr)
			*p = acc_buf[acc_i];
		else
			acc_buf[acc_i] = *p;
	}
	fault_armed = 0;
	return 0;
}

/* ---- what /proc shows, in script addresses ---- */

#define SCRIPT(real)	  ((real)-BASE + WBASE)
#define PM_PRESENT	  (1ULL << 63)
#define PM_SWAP		  (1ULL << 62)
#define PM_MMAP_EXCLUSIVE (1ULL << 56)
#define PM_PFN_MASK	  ((1ULL << 55) - 1)
#define KPF_ZERO_PAGE	  24

struct lvma {
	uint64_t start, end;
	char perms[5];
	int anon; /* no file behind it */
};

/* The VMAs of this process inside the test region, in address order. */
static int read_maps(struct lvma *v, int max)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	int n = 0;

	if (!f)
		return -1;
	while (fgets(line, sizeof line, f)) {
		unsigned long long a, b, off, ino;
		char perms[8], dev[16];
		int pos = 0;

		if (sscanf(line, "%llx-%llx %7s %llx %15s %llu%n", &a, &b, perms, &off, dev, &ino,
			   &pos) < 6)
			continue;
		if (b <= BASE - WBASE + SAFE_LO || a >= BASE - WBASE + SAFE_HI)
			continue;
		if (n < max) {
			v[n].start = a;
			v[n].end = b;
			memcpy(v[n].perms, perms, 4);
			v[n].perms[4] = 0;
			v[n].anon = ino == 0 && !strstr(line + pos, "memfd:");
		}
		n++;
	}
	fclose(f);
	return n;
}

#define MAXVMA 256

static int64_t linux_maps(uint64_t a, uint64_t len, char **out, uint64_t *outlen)
{
	struct lvma v[MAXVMA];
	int n = read_maps(v, MAXVMA);
	uint64_t end = len > UINT64_MAX - a ? UINT64_MAX : a + len;
	char *buf, *o;

	if (n < 0 || n > MAXVMA)
		return -EIO;
	buf = malloc((size_t)n * 48 + 8);
	if (!buf)
		return -ENOMEM;
	o = buf;
	for (int i = 0; i < n; i++) {
		if (v[i].end <= a || v[i].start >= end || !len)
			continue;
		if (o != buf)
			*o++ = ',';
		o += sprintf(o, "%llx-%llx %s", (unsigned long long)SCRIPT(v[i].start),
			     (unsigned long long)SCRIPT(v[i].end), v[i].perms);
	}
	if (o == buf)
		o += sprintf(o, "none");
	*out = buf;
	*outlen = (uint64_t)(o - buf);
	return 0;
}

static uint64_t pagemap_entry(int fd, uint64_t addr)
{
	uint64_t e = 0;

	if (pread(fd, &e, sizeof e, (off_t)(addr / PAGE * 8)) != (ssize_t)sizeof e)
		return 0;
	return e;
}

static char page_letter(int pm, int kpf, uint64_t addr)
{
	uint64_t e = pagemap_entry(pm, addr), flags = 0;

	if (e & PM_PRESENT) {
		if (kpf >= 0 &&
		    pread(kpf, &flags, sizeof flags, (off_t)((e & PM_PFN_MASK) * 8)) ==
			    (ssize_t)sizeof flags &&
		    (flags >> KPF_ZERO_PAGE) & 1)
			return 'z';
		return e & PM_MMAP_EXCLUSIVE ? 'x' : 'p';
	}
	return e & PM_SWAP ? 's' : '.';
}

/* As secmmu's pagemap: -EINVAL if unaligned, empty or over 256M. */
static int64_t linux_pagemap(uint64_t a, uint64_t len, char **out, uint64_t *outlen)
{
	uint64_t n;
	int pm, kpf;
	char *buf;

	if (a % PAGE || !len || len > (256ULL << 20))
		return -EINVAL;
	n = (len + PAGE - 1) / PAGE;
	pm = open("/proc/self/pagemap", O_RDONLY);
	kpf = open("/proc/kpageflags", O_RDONLY);
	buf = malloc(n + 1);
	if (pm < 0 || !buf)
		die("pagemap: %s (run as root)", strerror(errno));
	for (uint64_t i = 0; i < n; i++)
		buf[i] = page_letter(pm, kpf, a + i * PAGE);
	close(pm);
	if (kpf >= 0)
		close(kpf);
	*out = buf;
	*outlen = n;
	return 0;
}

/* "rss=R swap=S locked_vm=L pinned=0" over the test region (the zero page is no rss). */
/*
 * The present pages of [lo, hi) whose frame has KPF_THP, and (in *@zero)
 * those mapping the zero page (KPF_ZERO_PAGE): smaps' Rss counts them since
 * Linux 6.x, secmmu's rss does not. -1 if unreadable (not root).
 */
static long kpage_thp_pages(uint64_t lo, uint64_t hi, long *zero)
{
	FILE *pm = fopen("/proc/self/pagemap", "r"), *kf = fopen("/proc/kpageflags", "r");
	long n = 0;

	if (!pm || !kf) {
		n = -1;
		goto out;
	}
	for (uint64_t a = lo; a < hi; a += PAGE) {
		uint64_t e, flags;

		if (fseeko(pm, (off_t)(a / PAGE * 8), SEEK_SET) || fread(&e, 8, 1, pm) != 1) {
			n = -1;
			goto out;
		}
		if (!(e >> 63) || !(e & ((1ULL << 55) - 1)))
			continue; /* not present, or no pfn shown (not root) */
		if (fseeko(kf, (off_t)((e & ((1ULL << 55) - 1)) * 8), SEEK_SET) ||
		    fread(&flags, 8, 1, kf) != 1) {
			n = -1;
			goto out;
		}
		if (flags & (1ULL << 22)) /* KPF_THP */
			n++;
		if (flags & (1ULL << 24)) /* KPF_ZERO_PAGE */
			(*zero)++;
	}
out:
	if (pm)
		fclose(pm);
	if (kf)
		fclose(kf);
	return n;
}

static int64_t linux_mem(char **out, uint64_t *outlen)
{
	struct lvma v[MAXVMA];
	int n = read_maps(v, MAXVMA), pm = open("/proc/self/pagemap", O_RDONLY);
	int kpf = open("/proc/kpageflags", O_RDONLY);
	unsigned long rss = 0, swp = 0, lck = 0, ahp = 0, ahp_region = 0, kthp = 0;
	char line[256], *buf = malloc(128);
	int in = 0;
	FILE *f;

	if (n < 0 || n > MAXVMA || pm < 0 || !buf)
		die("mem: cannot read /proc/self");
	for (int i = 0; i < n; i++)
		for (uint64_t a = v[i].start; a < v[i].end; a += PAGE) {
			char c = page_letter(pm, kpf, a);

			swp += c == 's';
			rss += c == 'x' || c == 'p';
		}
	close(pm);
	if (kpf >= 0)
		close(kpf);
	/*
	 * locked_vm of the test region: its VM_LOCKED VMAs (smaps VmFlags `lo`),
	 * not VmLck, which mlockall(MCL_CURRENT) makes count the whole worker.
	 */
	for (int i = 0; i < n; i++)
		if (vma_lock_flags(v[i].start) & 1)
			lck += (v[i].end - v[i].start) / PAGE;
	/*
	 * thp: PMD-mapped huge pages, AnonHugePages / 2 MiB; the whole process's
	 * (smaps_rollup) must be the test region's. As root, the frames of the
	 * region with KPF_THP must cover them.
	 */
	for (int i = 0; i < n; i++) {
		long zero = 0, thp_pages;

		if (!v[i].anon)
			continue;
		thp_pages = geteuid() == 0 ? kpage_thp_pages(v[i].start, v[i].end, &zero) : -1;
		if (thp_pages > 0)
			kthp += (unsigned long)thp_pages;
	}
	f = fopen("/proc/self/smaps_rollup", "r");
	while (f && fgets(line, sizeof line, f))
		if (!strncmp(line, "AnonHugePages:", 14))
			ahp = strtoul(line + 14, NULL, 10) / 2048;
	if (f)
		fclose(f);
	f = fopen("/proc/self/smaps", "r");
	while (f && fgets(line, sizeof line, f)) {
		unsigned long long s0, e0;

		if (sscanf(line, "%llx-%llx ", &s0, &e0) == 2 &&
		    strchr(line, '-') < strchr(line, ' '))
			in = s0 >= BASE - WBASE + SAFE_LO && e0 <= BASE - WBASE + SAFE_HI;
		else if (in && !strncmp(line, "AnonHugePages:", 14))
			ahp_region += strtoul(line + 14, NULL, 10) / 2048;
	}
	if (f)
		fclose(f);
	if (ahp != ahp_region)
		die("mem: AnonHugePages outside the test region (%lu of %lu)", ahp - ahp_region,
		    ahp);
	if (geteuid() == 0 && kthp < ahp * 512)
		die("mem: kpageflags: %lu PMD-mapped huge pages but %lu KPF_THP pages", ahp, kthp);
	*outlen = (uint64_t)sprintf(buf, "rss=%lu swap=%lu locked_vm=%lu pinned=0 thp=%lu", rss,
				    swp, lck, ahp);
	*out = buf;
	return 0;
}

/*
 * On a kernel booted with pvm_no_zero_page=1 a read fault on never-written
 * private anonymous memory maps a fresh page instead of the zero page, which
 * changes later VMA merges, fork copies and rss. secmmu models mainline, so
 * such a read is answered with zeroes without touching the page (it is not
 * present and would read as zeroes); the zero page it would have mapped
 * shows as `.` instead of `z`, and run.sh compares pagemap modulo z/. there.
 * Return: 1 if [addr, addr+n) (within one page) was answered so.
 */
static int emulate_zero_read(uintptr_t addr, size_t n, unsigned char *buf)
{
	struct lvma v[MAXVMA];
	int nv, pm;
	uint64_t e;

	if (!no_zero_page)
		return 0;
	nv = read_maps(v, MAXVMA);
	for (int i = 0; i < nv && i < MAXVMA; i++) {
		if (addr < v[i].start || addr >= v[i].end)
			continue;
		if (!v[i].anon || v[i].perms[0] != 'r' || v[i].perms[3] != 'p')
			return 0;
		pm = open("/proc/self/pagemap", O_RDONLY);
		if (pm < 0)
			return 0;
		e = pagemap_entry(pm, addr);
		close(pm);
		if (e & (PM_PRESENT | PM_SWAP))
			return 0;
		memset(buf, 0, n);
		return 1;
	}
	return 0;
}

/*
 * The reference kernel here (6.18 in a VM) maps no zero page on a read fault
 * of private anonymous memory: it allocates one. secmmu maps the zero page,
 * as Linux normally does, which rss does not count. For `mem` to compare, the
 * THP scripts (q.c set on reads) make Linux look the same: a 4 KiB page that
 * a read brought in is dropped again (MADV_DONTNEED: reads back as zero, as
 * the zero page). Huge pages (KPF_THP) stay. Needs root (kpageflags).
 */
static unsigned char zp_before[64];

static void zero_page_emulation(uint64_t addr, uint64_t len, int after)
{
	FILE *pm = fopen("/proc/self/pagemap", "r"), *kf = fopen("/proc/kpageflags", "r");
	uint64_t first = addr / PAGE, last = (addr + len - 1) / PAGE;

	if (!pm || !kf || last - first >= sizeof zp_before)
		goto out;
	for (uint64_t pg = first; pg <= last; pg++) {
		uint64_t e = 0, flags = 0, pfn;

		if (fseeko(pm, (off_t)(pg * 8), SEEK_SET) || fread(&e, 8, 1, pm) != 1)
			break;
		if (!after) {
			zp_before[pg - first] = (unsigned char)(e >> 63);
			continue;
		}
		pfn = e & ((1ULL << 55) - 1);
		if (zp_before[pg - first] || !(e >> 63) || !pfn)
			continue;
		if (fseeko(kf, (off_t)(pfn * 8), SEEK_SET) || fread(&flags, 8, 1, kf) != 1)
			break;
		if (!(flags & (1ULL << 22)) && !(flags & (1ULL << 24)))
			madvise((void *)(uintptr_t)(pg * PAGE), PAGE, MADV_DONTNEED);
	}
out:
	if (pm)
		fclose(pm);
	if (kf)
		fclose(kf);
}

/* mlockall(MCL_FUTURE) state of this worker (not inherited by fork). */
static int mcl_future, mcl_future_onfault;

/* Is some page of [a, e) none in a readable or exec-only private anonymous VMA without write? */
static int nzp_read_populate_conflict(uint64_t a, uint64_t e)
{
	struct lvma v[MAXVMA];
	int nv, pm, hit = 0;

	if (!no_zero_page)
		return 0;
	nv = read_maps(v, MAXVMA);
	pm = open("/proc/self/pagemap", O_RDONLY);
	if (pm < 0)
		return 1;
	for (int i = 0; i < nv && i < MAXVMA && !hit; i++) {
		if (v[i].end <= a || v[i].start >= e || !v[i].anon || v[i].perms[3] != 'p' ||
		    v[i].perms[1] == 'w' || !strncmp(v[i].perms, "---", 3))
			continue;
		for (uint64_t pg = v[i].start > a ? v[i].start : a; pg < v[i].end && pg < e;
		     pg += PAGE)
			if (!(pagemap_entry(pm, pg) & (PM_PRESENT | PM_SWAP))) {
				hit = 1;
				break;
			}
	}
	close(pm);
	return hit;
}

/* Is the VMA at @addr private anonymous, accessible and not writable (populated by reads)? */
static int read_populated_vma(uint64_t addr)
{
	struct lvma v[MAXVMA];
	int nv = read_maps(v, MAXVMA);

	for (int i = 0; i < nv && i < MAXVMA; i++)
		if (addr >= v[i].start && addr < v[i].end)
			return v[i].anon && v[i].perms[3] == 'p' && v[i].perms[1] != 'w' &&
			       strncmp(v[i].perms, "---", 3);
	return 0;
}

/* /proc/self/smaps VmFlags of the VMA at @addr: 1 locked, 2 lock-on-fault; 0 if none. */
static int vma_lock_flags(uint64_t addr)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[512];
	int in = 0, r = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof line, f)) {
		unsigned long long a, b;

		if (sscanf(line, "%llx-%llx ", &a, &b) == 2 &&
		    strchr(line, '-') < strchr(line, ' ')) {
			in = addr >= a && addr < b;
			continue;
		}
		if (in && !strncmp(line, "VmFlags:", 8)) {
			r = (strstr(line, " lo") ? 1 : 0) | (strstr(line, " lf") ? 2 : 0);
			break;
		}
	}
	fclose(f);
	return r;
}

/*
 * MADV_POPULATE_READ as mainline does it on this kernel: page by page in
 * address order, stopping at the first error; a never-written page of a
 * readable private anonymous VMA (mainline: the zero page, which pagemap is
 * compared around) is left alone.
 */
static int64_t populate_read_mainline(uint64_t a, uint64_t len)
{
	uint64_t e;

	if (!no_zero_page || a % PAGE || !len || a + len < a)
		return madvise((void *)(uintptr_t)a, len, MADV_POPULATE_READ) ? -errno : 0;
	e = (a + len + PAGE - 1) / PAGE * PAGE;
	for (uint64_t pg = a; pg < e; pg += PAGE) {
		struct lvma v[MAXVMA];
		int nv = read_maps(v, MAXVMA), skip = 0;

		for (int i = 0; i < nv && i < MAXVMA; i++)
			if (pg >= v[i].start && pg < v[i].end && v[i].anon &&
			    v[i].perms[0] == 'r' && v[i].perms[3] == 'p') {
				int pm = open("/proc/self/pagemap", O_RDONLY);

				skip = pm >= 0 && !(pagemap_entry(pm, pg) & (PM_PRESENT | PM_SWAP));
				if (pm >= 0)
					close(pm);
			}
		if (!skip && madvise((void *)(uintptr_t)pg, PAGE, MADV_POPULATE_READ))
			return -errno;
	}
	return 0;
}

static void worker_loop(int ch) __attribute__((noreturn));
static void worker_loop(int ch)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_fault;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
	signal(SIGCHLD, SIG_IGN); /* children we fork are reaped automatically */

	for (;;) {
		struct req q;
		struct rep r = {0, 0};
		int fd;
		unsigned char *data = NULL;
		if (recv_req(ch, &q, &fd) < 0)
			_exit(0);
		if (q.datalen) {
			data = malloc(q.datalen);
			if (!data || read_full(ch, data, q.datalen) < 0)
				_exit(1);
		}
		void *p;
		switch (q.op) {
		case OP_SPAWN: {
			if (fd < 0)
				_exit(1);
			pid_t pid = fork();
			if (pid == 0) {
				close(ch);
				ch = fd;
				free(data);
				mcl_future = mcl_future_onfault =
					0; /* def_flags are not inherited */
				continue;  /* the new worker: serve the new channel, no reply */
			}
			close(fd);
			r.res = pid < 0 ? -errno : 0;
			break;
		}
		case OP_EXIT:
			_exit(0);
		case OP_MMAP:
			if (no_zero_page && mcl_future && !mcl_future_onfault &&
			    (q.flags & MAP_PRIVATE) && !(q.prot & PROT_WRITE) && q.prot) {
				r.res = NZP_CONFLICT; /* it would be populated for reading */
				break;
			}
			p = mmap((void *)(uintptr_t)q.a, q.b, (int)q.prot,
				 MAP_FIXED | MAP_ANONYMOUS | (int)q.flags, -1, 0);
			r.res = p == MAP_FAILED ? -errno : 0;
			break;
		case OP_MLOCK:
			if (!q.flags && q.b &&
			    nzp_read_populate_conflict(q.a / PAGE * PAGE, q.a + q.b + PAGE - 1)) {
				r.res = NZP_CONFLICT;
				break;
			}
			r.res = syscall(SYS_mlock2, (void *)(uintptr_t)q.a, q.b, (unsigned)q.flags)
					? -errno
					: 0;
			break;
		case OP_MUNLOCK:
			r.res = munlock((void *)(uintptr_t)q.a, q.b) ? -errno : 0;
			break;
		case OP_MLOCKALL: {
			int fl = (int)q.flags;
			int valid = fl && !(fl & ~(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT)) &&
				    fl != MCL_ONFAULT;

			if (valid && (fl & MCL_CURRENT) && !(fl & MCL_ONFAULT) &&
			    nzp_read_populate_conflict(0, UINT64_MAX)) {
				r.res = NZP_CONFLICT;
				break;
			}
			r.res = mlockall(fl) ? -errno : 0;
			if (!r.res) {
				mcl_future = !!(fl & MCL_FUTURE);
				mcl_future_onfault = mcl_future && (fl & MCL_ONFAULT);
			}
			break;
		}
		case OP_MUNLOCKALL:
			r.res = munlockall() ? -errno : 0;
			if (!r.res)
				mcl_future = mcl_future_onfault = 0;
			break;
		case OP_POPULATE_READ:
			r.res = populate_read_mainline(q.a, q.b);
			break;
		case OP_MUNMAP:
			r.res = munmap((void *)(uintptr_t)q.a, q.b) ? -errno : 0;
			break;
		case OP_MPROTECT:
			r.res = mprotect((void *)(uintptr_t)q.a, q.b, (int)q.prot) ? -errno : 0;
			break;
		case OP_MADVISE:
			r.res = madvise((void *)(uintptr_t)q.a, q.b, (int)q.c) ? -errno : 0;
			break;
		case OP_MREMAP:
			if (no_zero_page && q.c > q.b && vma_lock_flags(q.a) == 1 &&
			    read_populated_vma(q.a)) {
				r.res = NZP_CONFLICT; /* the grown part would be populated by reads */
				break;
			}
			p = mremap((void *)(uintptr_t)q.a, q.b, q.c, (int)q.flags,
				   (void *)(uintptr_t)q.d);
			r.res = p == MAP_FAILED ? -errno : 0;
			break;
		case OP_WRITE:
			acc_buf = data;
			acc_n = q.datalen;
			acc_addr = (uintptr_t)q.a;
			r.res = access_bytes(1);
			break;
		case OP_MAPS:
		case OP_PAGEMAP:
		case OP_MEM: {
			char *txt = NULL;
			uint64_t tl = 0;

			r.res = q.op == OP_MAPS	     ? linux_maps(q.a, q.b, &txt, &tl)
				: q.op == OP_PAGEMAP ? linux_pagemap(q.a, q.b, &txt, &tl)
						     : linux_mem(&txt, &tl);
			free(data);
			data = (unsigned char *)txt;
			r.datalen = r.res ? 0 : tl;
			break;
		}
		case OP_READ:
			free(data);
			data = malloc(q.b ? q.b : 1);
			if (!data)
				_exit(1);
			acc_buf = data;
			acc_n = q.b;
			acc_addr = (uintptr_t)q.a;
			if (q.c)
				zero_page_emulation(q.a, q.b, 0);
			r.res = access_bytes(0);
			if (q.c)
				zero_page_emulation(q.a, q.b, 1);
			if (r.res == 0)
				r.datalen = q.b;
			break;
		default:
			_exit(1);
		}
		if (q.pad) {
			/*
			 * THP scripts: forget every accessed bit, so that the real
			 * khugepaged finds no referenced page to collapse around
			 * (SCAN_LACK_REFERENCED_PAGE) and the results stay the script's.
			 */
			int cr = open("/proc/self/clear_refs", O_WRONLY);

			if (cr >= 0) {
				if (write(cr, "1", 1) != 1)
					_exit(1);
				close(cr);
			}
		}
		if (write_full(ch, &r, sizeof r) < 0 ||
		    (r.datalen && write_full(ch, data, r.datalen) < 0))
			_exit(1);
		free(data);
	}
}

/* ------------------------------------------------------------------ */
/* Linux side: driver                                                  */

#define MAXPROC 1024
static struct {
	char name[64];
	int fd;
} procs[MAXPROC];
static int nprocs;
static int zygote_fd = -1;

static int find_proc(const char *name)
{
	for (int i = 0; i < nprocs; i++)
		if (procs[i].fd >= 0 && !strcmp(procs[i].name, name))
			return i;
	return -1;
}

static void reap(int block)
{
	while (waitpid(-1, NULL, block ? 0 : WNOHANG) > 0)
		;
}

/* ask the process on channel `fd` to fork a new worker; returns its channel */
static int spawn_from(int fd, int64_t *res)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		die("socketpair: %s", strerror(errno));
	struct req q;
	memset(&q, 0, sizeof q);
	q.op = OP_SPAWN;
	if (send_req(fd, &q, sv[1]) < 0)
		die("send to worker failed");
	close(sv[1]);
	struct rep r;
	if (read_full(fd, &r, sizeof r) < 0)
		die("worker died");
	*res = r.res;
	if (r.res) {
		close(sv[0]);
		return -1;
	}
	return sv[0];
}

static int g_thp_script; /* set for `# difftest gen-thp` scripts: workers clear accessed bits */

static int64_t call(int fd, struct req *q, const void *data, unsigned char **out, uint64_t *outlen)
{
	q->pad = (uint32_t)g_thp_script;
	if (send_req(fd, q, -1) < 0 || (q->datalen && write_full(fd, data, q->datalen) < 0))
		die("send to worker failed");
	struct rep r;
	if (read_full(fd, &r, sizeof r) < 0)
		die("worker died unexpectedly");
	if (r.datalen) {
		*out = malloc(r.datalen);
		if (!*out || read_full(fd, *out, r.datalen) < 0)
			die("worker died unexpectedly");
	}
	*outlen = r.datalen;
	return r.res;
}

/* tokenizer: whitespace separated, a "..." token may contain anything but '"' */
#define MAXTOK 16
static int tokenize(char *s, char **tok)
{
	int n = 0;
	while (*s) {
		while (*s == ' ' || *s == '\t')
			s++;
		if (!*s)
			break;
		if (n == MAXTOK)
			return -1;
		tok[n++] = s;
		if (*s == '"') {
			char *e = strchr(s + 1, '"');
			if (!e)
				return -1;
			s = e + 1;
		}
		while (*s && *s != ' ' && *s != '\t')
			s++;
		if (*s)
			*s++ = 0;
	}
	return n;
}

/* strip comment and "=> EXPECTED", trim, collapse whitespace */
static void normalize(const char *in, char *out, size_t outsz)
{
	size_t o = 0;
	int inq = 0, sp = 0;
	for (const char *p = in; *p && *p != '\n' && *p != '\r'; p++) {
		char c = *p;
		if (c == '"')
			inq = !inq;
		if (!inq && (c == '#' || (c == '=' && p[1] == '>')))
			break;
		if (c == ' ' || c == '\t' || c == '\v' || c == '\f') {
			sp = 1;
			continue;
		}
		if (sp && o && o + 1 < outsz)
			out[o++] = ' ';
		sp = 0;
		if (o + 1 < outsz)
			out[o++] = c;
	}
	out[o] = 0;
}

static int parse_num(const char *s, uint64_t *v)
{
	uint64_t x = 0;
	const char *p = s;
	if (!*p)
		return -1;
	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
		p += 2;
		if (!*p)
			return -1;
		for (; *p; p++) {
			int d;
			if (*p >= '0' && *p <= '9')
				d = *p - '0';
			else if (*p >= 'a' && *p <= 'f')
				d = *p - 'a' + 10;
			else if (*p >= 'A' && *p <= 'F')
				d = *p - 'A' + 10;
			else
				break;
			if (x >> 60)
				return -1;
			x = x * 16 + (uint64_t)d;
		}
	} else {
		if (*p < '0' || *p > '9')
			return -1;
		for (; *p >= '0' && *p <= '9'; p++) {
			if (x > (UINT64_MAX - 9) / 10)
				return -1;
			x = x * 10 + (uint64_t)(*p - '0');
		}
	}
	unsigned sh = 0;
	if (*p == 'K' || *p == 'k')
		sh = 10, p++;
	else if (*p == 'M' || *p == 'm')
		sh = 20, p++;
	else if (*p == 'G' || *p == 'g')
		sh = 30, p++;
	if (*p)
		return -1;
	if (sh && (x >> (64 - sh)))
		return -1;
	*v = x << sh;
	return 0;
}

static int parse_prot(const char *s)
{
	if (!strcmp(s, "none"))
		return PROT_NONE;
	if (!strcmp(s, "r"))
		return PROT_READ;
	if (!strcmp(s, "rw"))
		return PROT_READ | PROT_WRITE;
	if (!strcmp(s, "rx"))
		return PROT_READ | PROT_EXEC;
	if (!strcmp(s, "rwx"))
		return PROT_READ | PROT_WRITE | PROT_EXEC;
	return -1;
}

/* DATA: 0x0011ff | "text" | fill:BYTE:LEN */
static unsigned char *parse_data(const char *s, uint64_t *len)
{
	unsigned char *b;
	if (s[0] == '"') {
		size_t n = strlen(s);
		if (n < 2 || s[n - 1] != '"')
			return NULL;
		*len = n - 2;
		b = malloc(n);
		if (b)
			memcpy(b, s + 1, n - 2);
		return b;
	}
	if (!strncmp(s, "fill:", 5)) {
		char tmp[64];
		const char *c = strchr(s + 5, ':');
		uint64_t byte, n;
		if (!c || (size_t)(c - (s + 5)) >= sizeof tmp)
			return NULL;
		memcpy(tmp, s + 5, (size_t)(c - (s + 5)));
		tmp[c - (s + 5)] = 0;
		if (parse_num(tmp, &byte) || byte > 255 || parse_num(c + 1, &n) || n == 0 ||
		    n > (256ULL << 20))
			return NULL;
		b = malloc(n);
		if (b)
			memset(b, (int)byte, n);
		*len = n;
		return b;
	}
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		size_t n = strlen(s + 2);
		if (n == 0 || n % 2)
			return NULL;
		b = malloc(n / 2);
		if (!b)
			return NULL;
		for (size_t i = 0; i < n / 2; i++) {
			unsigned v;
			char h[3] = {s[2 + 2 * i], s[3 + 2 * i], 0};
			char *end;
			v = (unsigned)strtoul(h, &end, 16);
			if (*end || !h[0] || h[0] == '+' || h[0] == '-' || h[0] == ' ') {
				free(b);
				return NULL;
			}
			b[i] = (unsigned char)v;
		}
		*len = n / 2;
		return b;
	}
	return NULL;
}

/* translate a script range to a real one; -1 if outside the probed region */
static int xlate(uint64_t a, uint64_t len, uint64_t *real)
{
	uint64_t rlen = (len + PAGE - 1) & ~(PAGE - 1);
	if (len > SAFE_HI || a > SAFE_HI || rlen > SAFE_HI - a)
		return -1;
	*real = BASE + (a - WBASE);
	return 0;
}

static void probe_window(void)
{
	uint64_t lo = BASE + SAFE_LO - WBASE, len = SAFE_HI - SAFE_LO;
	void *p = mmap((void *)(uintptr_t)lo, len, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
	if (p == MAP_FAILED)
		die("test region 0x%llx+0x%llx is not free: %s", (unsigned long long)lo,
		    (unsigned long long)len, strerror(errno));
	if (p != (void *)(uintptr_t)lo)
		die("MAP_FIXED_NOREPLACE not honoured (old kernel?)");
	munmap(p, len);
}

/* pvm_no_zero_page=1 on the kernel command line (DIFF_NO_ZERO_PAGE=0|1 overrides). */
static int detect_no_zero_page(void)
{
	const char *env = getenv("DIFF_NO_ZERO_PAGE");
	char buf[4096];
	FILE *f;
	size_t n;

	if (env && *env)
		return atoi(env) != 0;
	f = fopen("/proc/cmdline", "r");
	if (!f)
		return 0;
	n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = 0;
	for (char *t = strtok(buf, " \n"); t; t = strtok(NULL, " \n"))
		if (!strcmp(t, "pvm_no_zero_page=1"))
			return 1;
	return 0;
}

/* Does the script start with `# difftest gen-thp`? */
static int is_thp_script(const char *path)
{
	char first[64] = "";
	FILE *f;

	if (!strcmp(path, "-"))
		return 0;
	f = fopen(path, "r");
	if (!f)
		return 0;
	if (!fgets(first, sizeof first, f))
		first[0] = 0;
	fclose(f);
	return !strncmp(first, "# difftest gen-thp", 18);
}

/* khugepaged's collapse count: the real khugepaged may collapse our pages behind our back. */
static long khugepaged_collapsed(void)
{
	FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/khugepaged/pages_collapsed", "r");
	long n = -1;

	if (f) {
		if (fscanf(f, "%ld", &n) != 1)
			n = -1;
		fclose(f);
	}
	return n;
}

static int linux_main(const char *path)
{
	long khuge_start = khugepaged_collapsed();
	/* A `# difftest gen-thp` script: THP on, its own zero-page emulation on reads. */
	int thp_script = g_thp_script = is_thp_script(path);

	no_zero_page = detect_no_zero_page() && !thp_script;
	/*
	 * No (m)THP: secmmu has 4 KiB pages only, and a large folio changes
	 * pagemap's exclusivity (a whole folio mapped by two processes is not
	 * PM_MMAP_EXCLUSIVE on any of its pages). Inherited by every worker.
	 */
	if (!thp_script && prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0))
		die("prctl(PR_SET_THP_DISABLE): %s", strerror(errno));
	signal(SIGPIPE, SIG_IGN);
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	probe_window();
	fflush(stdout);

	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		die("socketpair: %s", strerror(errno));
	pid_t z = fork();
	if (z < 0)
		die("fork: %s", strerror(errno));
	if (z == 0) {
		close(sv[0]);
		worker_loop(sv[1]);
	}
	close(sv[1]);
	zygote_fd = sv[0];
	/* opened only after the zygote exists, so no worker shares its offset */
	FILE *f = strcmp(path, "-") ? fopen(path, "r") : stdin;
	if (!f)
		die("%s: %s", path, strerror(errno));

	char *line = NULL;
	size_t cap = 0;
	int lineno = 0, rc = 0, nzp_skip = 0;
	while (getline(&line, &cap, f) >= 0) {
		lineno++;
		size_t L = strlen(line);
		char *cmd = malloc(L + 1), *work = malloc(L + 1);
		char *tok[MAXTOK];
		char res[64];
		unsigned char *out = NULL;
		char *hex = NULL;
		if (!cmd || !work)
			die("out of memory");
		normalize(line, cmd, L + 1);
		if (!cmd[0]) {
			free(cmd);
			free(work);
			continue;
		}
		strcpy(work, cmd);
		int nt = tokenize(work, tok);
		const char *err = NULL;
		struct req q;
		memset(&q, 0, sizeof q);
		strcpy(res, "ok");
		int pi = -1;
		uint64_t a = 0, b = 0, c = 0, d = 0, ra = 0, rd = 0;

		if (nt <= 0) {
			err = "bad syntax";
		} else if (!strcmp(tok[0], "phys") || !strcmp(tok[0], "swap")) {
			if (nt != 2 || parse_num(tok[1], &a))
				err = "usage: phys SIZE";
		} else if (!strcmp(tok[0], "thp")) {
			/* Only what this kernel does: no huge zero page with pvm_no_zero_page=1. */
			if (nt != 3 || strcmp(tok[1], "use_zero_page") || strcmp(tok[2], "0") ||
			    !detect_no_zero_page())
				err = "usage: thp use_zero_page 0 (on a pvm_no_zero_page=1 kernel)";
		} else if (!strcmp(tok[0], "mm")) {
			if (nt != 2)
				err = "usage: mm NAME";
			else if (find_proc(tok[1]) >= 0)
				err = "name already exists";
			else if (nprocs == MAXPROC || strlen(tok[1]) >= sizeof procs[0].name)
				err = "too many processes";
			else {
				int64_t r;
				int fd = spawn_from(zygote_fd, &r);
				if (fd < 0)
					errname((int)-r, res, sizeof res);
				else {
					strcpy(procs[nprocs].name, tok[1]);
					procs[nprocs++].fd = fd;
				}
			}
		} else if (!strcmp(tok[0], "fork")) {
			if (nt != 3)
				err = "usage: fork PARENT CHILD";
			else if ((pi = find_proc(tok[1])) < 0)
				err = "no such process";
			else if (find_proc(tok[2]) >= 0)
				err = "name already exists";
			else if (nprocs == MAXPROC || strlen(tok[2]) >= sizeof procs[0].name)
				err = "too many processes";
			else {
				int64_t r;
				int fd = spawn_from(procs[pi].fd, &r);
				if (fd < 0)
					errname((int)-r, res, sizeof res);
				else {
					strcpy(procs[nprocs].name, tok[2]);
					procs[nprocs++].fd = fd;
				}
			}
		} else if (!strcmp(tok[0], "exit")) {
			if (nt != 2)
				err = "usage: exit NAME";
			else if ((pi = find_proc(tok[1])) < 0)
				err = "no such process";
			else {
				char tmp[64];
				q.op = OP_EXIT;
				if (send_req(procs[pi].fd, &q, -1) < 0)
					die("send failed");
				while (read(procs[pi].fd, tmp, sizeof tmp) >
				       0) /* wait for EOF: the worker is gone */
					;
				close(procs[pi].fd);
				procs[pi].fd = -1;
				reap(0);
			}
		} else {
			/* commands on a process */
			const char *op = tok[0];
			int known = !strcmp(op, "mmap") || !strcmp(op, "munmap") ||
				    !strcmp(op, "mprotect") || !strcmp(op, "madvise") ||
				    !strcmp(op, "mremap") || !strcmp(op, "write") ||
				    !strcmp(op, "read") || !strcmp(op, "maps") ||
				    !strcmp(op, "pagemap") || !strcmp(op, "mem") ||
				    !strcmp(op, "mlock") || !strcmp(op, "munlock") ||
				    !strcmp(op, "mlockall") || !strcmp(op, "munlockall");
			if (!known)
				err = "unsupported command";
			else if (nt < 2 || (pi = find_proc(tok[1])) < 0)
				err = "no such process";
			else if (!strcmp(op, "mmap")) {
				int prot;
				if (nt != 6 || parse_num(tok[2], &a) || parse_num(tok[3], &b) ||
				    (prot = parse_prot(tok[4])) < 0 ||
				    (strcmp(tok[5], "private") && strcmp(tok[5], "shared")))
					err = "usage: mmap NAME ADDR LEN PROT private|shared";
				else if (xlate(a, b, &ra))
					err = "address outside the test region";
				else {
					q.op = OP_MMAP;
					q.a = ra, q.b = b, q.prot = (uint32_t)prot;
					q.flags =
						strcmp(tok[5], "shared") ? MAP_PRIVATE : MAP_SHARED;
				}
			} else if (!strcmp(op, "munmap")) {
				if (nt != 4 || parse_num(tok[2], &a) || parse_num(tok[3], &b))
					err = "usage: munmap NAME ADDR LEN";
				else if (xlate(a, b, &ra))
					err = "address outside the test region";
				else
					q.op = OP_MUNMAP, q.a = ra, q.b = b;
			} else if (!strcmp(op, "mprotect")) {
				int prot;
				if (nt != 5 || parse_num(tok[2], &a) || parse_num(tok[3], &b) ||
				    (prot = parse_prot(tok[4])) < 0)
					err = "usage: mprotect NAME ADDR LEN PROT";
				else if (xlate(a, b, &ra))
					err = "address outside the test region";
				else
					q.op = OP_MPROTECT, q.a = ra, q.b = b,
					q.prot = (uint32_t)prot;
			} else if (!strcmp(op, "madvise")) {
				static const struct {
					const char *name;
					int adv;
				} advs[] = {
					{"dontneed", MADV_DONTNEED},
					{"pageout", MADV_PAGEOUT},
					{"mergeable", MADV_MERGEABLE},
					{"unmergeable", MADV_UNMERGEABLE},
					{"dontfork", MADV_DONTFORK},
					{"dofork", MADV_DOFORK},
					{"wipeonfork", MADV_WIPEONFORK},
					{"keeponfork", MADV_KEEPONFORK},
					{"free", MADV_FREE},
					{"remove", MADV_REMOVE},
					{"populate_read", MADV_POPULATE_READ},
					{"populate_write", MADV_POPULATE_WRITE},
					{"cold", MADV_COLD},
					{"hugepage", MADV_HUGEPAGE},
					{"nohugepage", MADV_NOHUGEPAGE},
					{"collapse", 25 /* MADV_COLLAPSE */},
				};
				int adv = -1;
				for (size_t i = 0; nt == 5 && i < sizeof advs / sizeof advs[0]; i++)
					if (!strcmp(tok[4], advs[i].name))
						adv = advs[i].adv;
				if (adv < 0 || parse_num(tok[2], &a) || parse_num(tok[3], &b))
					err = "usage: madvise NAME ADDR LEN ADVICE";
				else if (xlate(a, b, &ra))
					err = "address outside the test region";
				else if (adv == MADV_POPULATE_READ)
					q.op = OP_POPULATE_READ, q.a = ra, q.b = b;
				else
					q.op = OP_MADVISE, q.a = ra, q.b = b, q.c = (uint64_t)adv;
			} else if (!strcmp(op, "mlock") || !strcmp(op, "munlock")) {
				int ml = !strcmp(op, "mlock");
				uint64_t fl = 0;

				if ((nt != 4 && !(ml && nt == 5)) || parse_num(tok[2], &a) ||
				    parse_num(tok[3], &b) ||
				    (nt == 5 && strcmp(tok[4], "onfault") &&
				     parse_num(tok[4], &fl)))
					err = "usage: mlock NAME ADDR LEN [onfault] | munlock NAME "
					      "ADDR LEN";
				else if (xlate(a, b, &ra))
					err = "address outside the test region";
				else
					q.op = ml ? OP_MLOCK : OP_MUNLOCK, q.a = ra, q.b = b,
					q.flags = nt == 5 && !strcmp(tok[4], "onfault")
							  ? MLOCK_ONFAULT
							  : (uint32_t)fl;
			} else if (!strcmp(op, "mlockall")) {
				uint64_t fl = 0;
				char *s = tok[2], *save = NULL;

				if (nt != 3)
					err = "usage: mlockall NAME FLAGS";
				else if (*s >= '0' && *s <= '9') {
					if (parse_num(s, &fl))
						err = "usage: mlockall NAME FLAGS";
				} else {
					for (char *w = strtok_r(s, ",", &save); w && !err;
					     w = strtok_r(NULL, ",", &save))
						if (!strcmp(w, "current"))
							fl |= MCL_CURRENT;
						else if (!strcmp(w, "future"))
							fl |= MCL_FUTURE;
						else if (!strcmp(w, "onfault"))
							fl |= MCL_ONFAULT;
						else
							err = "usage: mlockall NAME "
							      "current,future,onfault";
				}
				if (!err)
					q.op = OP_MLOCKALL, q.flags = (uint32_t)fl;
			} else if (!strcmp(op, "munlockall")) {
				if (nt != 2)
					err = "usage: munlockall NAME";
				else
					q.op = OP_MUNLOCKALL;
			} else if (!strcmp(op, "mremap")) {
				/* A last word FLAGS: maymove,fixed,dontunmap (or 0). */
				int mfl = -1;

				if (nt >= 6 && ((tok[nt - 1][0] >= 'a' && tok[nt - 1][0] <= 'z') ||
						(nt == 7 && !strcmp(tok[6], "0")))) {
					char *save = NULL;

					mfl = 0;
					for (char *w = strtok_r(tok[nt - 1], ",", &save); w;
					     w = strtok_r(NULL, ",", &save))
						mfl |= !strcmp(w, "maymove")	 ? MREMAP_MAYMOVE
						       : !strcmp(w, "fixed")	 ? MREMAP_FIXED
						       : !strcmp(w, "dontunmap") ? MREMAP_DONTUNMAP
						       : !strcmp(w, "0")	 ? 0
										 : 0x40000000;
					nt--;
				}
				if ((nt != 6 && nt != 5) || parse_num(tok[2], &a) ||
				    parse_num(tok[3], &b) || parse_num(tok[4], &c) ||
				    (nt == 6 && parse_num(tok[5], &d)) ||
				    (mfl > 0 && (mfl & 0x40000000)))
					err = "usage: mremap NAME OLDADDR OLDLEN NEWLEN [NEWADDR] "
					      "[FLAGS]";
				else if (xlate(a, b, &ra) || (nt == 6 && xlate(d, c, &rd)) ||
					 (nt == 5 && xlate(a, c, &rd)))
					err = "address outside the test region";
				else
					q.op = OP_MREMAP, q.a = ra, q.b = b, q.c = c,
					q.d = nt == 6 ? rd : 0,
					q.flags = mfl >= 0  ? (uint32_t)mfl
						  : nt == 6 ? MREMAP_MAYMOVE | MREMAP_FIXED
							    : 0;
			} else if (!strcmp(op, "maps") || !strcmp(op, "pagemap") ||
				   !strcmp(op, "mem")) {
				int pg = !strcmp(op, "pagemap"), mem = !strcmp(op, "mem");

				if (mem	 ? nt != 2
				    : pg ? nt != 4 || parse_num(tok[2], &a) || parse_num(tok[3], &b)
					 : (nt != 2 && nt != 4) ||
						    (nt == 4 && (parse_num(tok[2], &a) ||
								 parse_num(tok[3], &b))))
					err = "usage: maps NAME [ADDR LEN] | pagemap NAME ADDR LEN "
					      "| "
					      "mem NAME";
				else if (pg && (a % PAGE || !b || b > (256ULL << 20)))
					strcpy(res,
					       "-EINVAL"); /* as secmmu, before the region check */
				else if (nt == 4 && xlate(a, b, &ra))
					err = "address outside the test region";
				else {
					uint64_t ol = 0;

					q.op = mem ? OP_MEM : pg ? OP_PAGEMAP : OP_MAPS;
					q.a = nt == 4 ? ra : 0;
					q.b = nt == 4 ? b : UINT64_MAX;
					int64_t r = call(procs[pi].fd, &q, NULL, &out, &ol);
					if (r)
						errname((int)-r, res, sizeof res);
					else {
						hex = malloc(ol + 1);
						if (!hex)
							die("out of memory");
						memcpy(hex, out, ol);
						hex[ol] = 0;
					}
					q.op = 0;
				}
			} else if (!strcmp(op, "write")) {
				unsigned char *data;
				uint64_t n = 0;
				if (nt != 4 || parse_num(tok[2], &a) ||
				    !(data = parse_data(tok[3], &n)))
					err = "usage: write NAME ADDR DATA";
				else if (n == 0 || xlate(a, n, &ra)) {
					err = n ? "address outside the test region" : "empty data";
					free(data);
				} else {
					uint64_t ol;
					q.op = OP_WRITE, q.a = ra, q.datalen = n;
					int64_t r = call(procs[pi].fd, &q, data, &out, &ol);
					free(data);
					if (r)
						errname((int)-r, res, sizeof res);
					q.op = 0; /* done */
				}
			} else { /* read */
				if (nt != 4 || parse_num(tok[2], &a) || parse_num(tok[3], &b) ||
				    b > (256ULL << 20))
					err = "usage: read NAME ADDR LEN";
				else if (xlate(a, b, &ra))
					err = "address outside the test region";
				else {
					uint64_t ol = 0;
					q.op = OP_READ, q.a = ra, q.b = b, q.c = thp_script;
					int64_t r = call(procs[pi].fd, &q, NULL, &out, &ol);
					if (r)
						errname((int)-r, res, sizeof res);
					else {
						hex = malloc(2 * ol + 1);
						if (!hex)
							die("out of memory");
						for (uint64_t i = 0; i < ol; i++)
							sprintf(hex + 2 * i, "%02x", out[i]);
						hex[2 * ol] = 0;
					}
					q.op = 0;
				}
			}
			if (!err && q.op) {
				uint64_t ol;
				int64_t r = call(procs[pi].fd, &q, NULL, &out, &ol);
				if (r == NZP_CONFLICT) {
					fprintf(stderr,
						"difftest: line %d populates never-written private "
						"memory for reading (pvm_no_zero_page): not "
						"comparable\n",
						lineno);
					nzp_skip = 1;
					free(cmd);
					free(work);
					break;
				}
				if (r)
					errname((int)-r, res, sizeof res);
			}
		}
		if (err) {
			printf("%d: error: %s\n", lineno, err);
			rc = 2;
			free(cmd);
			free(work);
			break;
		}
		printf("%d: %s -> %s\n", lineno, cmd, hex ? hex : res);
		free(hex);
		free(out);
		free(cmd);
		free(work);
	}
	free(line);
	fflush(stdout);
	/* tear down: all workers and the zygote exit on EOF */
	for (int i = 0; i < nprocs; i++)
		if (procs[i].fd >= 0)
			close(procs[i].fd);
	close(zygote_fd);
	reap(1);
	if (f != stdin)
		fclose(f);
	if (nzp_skip)
		return 4;
	if (thp_script && khugepaged_collapsed() != khuge_start) {
		/* The results may be khugepaged's, not the script's: the caller retries. */
		fprintf(stderr, "difftest: khugepaged collapsed pages during the run\n");
		return 4;
	}
	return rc;
}

int main(int argc, char **argv)
{
	if ((argc == 4 || argc == 5) && !strcmp(argv[1], "gen")) {
		uint64_t seed, n;
		int mix = argc == 5 ? -1 : MIX_BASIC;
		for (int i = 0; argc == 5 && i < NR_MIX; i++)
			if (!strcmp(argv[4], mixname[i]))
				mix = i;
		if (parse_num(argv[2], &seed) || parse_num(argv[3], &n) || n > 10000000 || mix < 0)
			die("usage: difftest gen SEED N [basic|remap|fork|shared|advice]");
		return gen_main(seed, (int)n, mix);
	}
	if (argc == 4 && !strcmp(argv[1], "gen-thp")) {
		uint64_t seed, n;
		if (parse_num(argv[2], &seed) || parse_num(argv[3], &n) || n > 10000000)
			die("usage: difftest gen-thp SEED N");
		return gen_thp_main(seed, (int)n);
	}
	if (argc == 3 && !strcmp(argv[1], "linux"))
		return linux_main(argv[2]);
	fprintf(stderr, "usage: difftest gen|gen-thp SEED N [MIX] | difftest linux FILE|-\n");
	return 2;
}
