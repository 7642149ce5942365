/* SPDX-License-Identifier: MIT */
/*
 * XPMEM-style cross-address-space attach (after SGI/HPE XPMEM).
 *
 * xpmem_make() exports [addr, addr+len) of an exporter mm as a segment.
 * xpmem_attach() maps the segment into an importer mm as a MAP_SHARED VMA of
 * the segment's struct file; the importer's faults resolve against the
 * exporter's mm (mmget_not_zero, then get_user_pages_remote under the
 * exporter's mmap_lock) and the importer's PTEs map the exporter's frames.
 * An interval notifier on the exporter's range (it holds mm_count, never
 * mm_users) zaps the importer PTEs (zap_vma_ptes) before the exporter's
 * frames are freed, replaced or write-protected.
 *
 * XPMEM_REMOTE: the importer side is a "remote node" behind a thread that
 * receives every invalidation of the segment as a message and acknowledges
 * it; the invalidation waits for the acknowledgement (it sleeps), so a
 * non-blockable invalidation fails with -EAGAIN. Without it the zaps are
 * done by a local helper thread and a non-blockable invalidation fails only
 * when some importer PTE may need zapping.
 *
 * XPMEM_BROKEN: the invalidation zaps nothing: a documented "broken device"
 * (docs/architecture.md, Broken devices), per segment, for the
 * stale-translation demos and the tests that prove a stale importer mapping
 * is caught.
 *
 * Exporter exit: the importer PTEs are zapped before any exporter frame is
 * freed, and importer faults fail with -EFAULT afterwards.
 */
#ifndef SECMMU_XPMEM_H
#define SECMMU_XPMEM_H

#include "secmmu/compiler.h"
#include "secmmu/mm.h"

SECMMU_BEGIN_DECLS

struct xpmem_segment;

#define XPMEM_REMOTE 0x1U
#define XPMEM_BROKEN 0x2U

struct xpmem_stats {
	unsigned long attached;	     /* attachment VMAs now */
	unsigned long faults;	     /* importer faults resolved */
	unsigned long invalidations; /* exporter invalidations that overlapped the segment */
	unsigned long messages;	     /* zap requests sent to the node thread */
	unsigned long acks;	     /* ... and acknowledged */
	unsigned long eagain;	     /* non-blockable invalidations refused */
};

/**
 * xpmem_make() - export [@addr, @addr+@len) of @mm
 * @flags: XPMEM_REMOTE, XPMEM_BROKEN
 *
 * The caller holds an mm_users reference on @mm and no lock. The segment
 * holds one mm_count reference on @mm (its interval notifier) until
 * xpmem_remove(). Starts the segment's node thread. May sleep.
 * Return: the segment or ERR_PTR(-EINVAL (unaligned, empty, bad flags, mm
 * exited) / -ENOMEM / -EINTR).
 */
struct xpmem_segment *xpmem_make(struct mm_struct *mm, unsigned long addr, unsigned long len,
				 unsigned int flags);

/*
 * xpmem_make_named() - as xpmem_make(); @name (may be NULL) names the
 * segment's node thread in traces: "xpmem NAME node" (default "xpmem node").
 */
struct xpmem_segment *xpmem_make_named(struct mm_struct *mm, unsigned long addr, unsigned long len,
				       unsigned int flags, const char *name);

/**
 * xpmem_attach() - map the whole segment into @mm at @addr (MAP_FIXED,
 * read-write, shared; not inherited by fork)
 *
 * The caller holds an mm_users reference on @mm (not the exporter's) and no
 * lock. Attaching into the exporter's own mm is refused.
 * Return: 0, -EINVAL (unaligned, own mm), -ENODEV (segment removed),
 * -ENOMEM, or mm_mmap()'s error.
 */
int xpmem_attach(struct xpmem_segment *seg, struct mm_struct *mm, unsigned long addr);

/**
 * xpmem_detach() - unmap the attachment VMA that starts at @addr in @mm
 *
 * The caller holds an mm_users reference on @mm and no lock.
 * Return: 0, -EINVAL (no attachment starts at @addr).
 */
int xpmem_detach(struct mm_struct *mm, unsigned long addr);

/**
 * xpmem_remove() - withdraw the segment
 *
 * Semantics with attachments left (as XPMEM's xpmem_remove): they are torn
 * down, not waited for -- their PTEs are zapped and every later importer
 * fault fails with -EFAULT; the VMAs themselves stay until detached,
 * unmapped or their process exits. The interval notifier is removed (its
 * mm_count dropped) and the node thread stopped before this returns. The
 * caller holds no lock and must not use @seg afterwards. May sleep.
 */
void xpmem_remove(struct xpmem_segment *seg);

/* A snapshot of the counters. */
void xpmem_get_stats(struct xpmem_segment *seg, struct xpmem_stats *st);

/* Debug knob: the node thread sleeps @usec before acknowledging each message. */
void xpmem_set_ack_delay(struct xpmem_segment *seg, unsigned int usec);

SECMMU_END_DECLS

#endif /* SECMMU_XPMEM_H */
