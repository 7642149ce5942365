/* SPDX-License-Identifier: MIT */
/*
 * A mirroring device: the reference secondary MMU (after lib/test_hmm.c).
 *
 * The device has its own page table, filled on device faults through
 * hmm_range_fault() and kept coherent by an interval notifier over the whole
 * user address space: no page is pinned, so everything it maps can be
 * unmapped, swapped, migrated or merged under it. A DMA engine thread per
 * device does the transfers with real memcpy through the device's
 * translations; every access checks the frame generation recorded at fault
 * time, so a translation that outlived its frame is caught
 * (phys_stale_count()).
 *
 * MIRROR_BROKEN makes the invalidate callback ignore invalidations (it only
 * bumps the sequence): a deliberately wrong driver, for tests that prove the
 * checker catches one.
 */
#ifndef SECMMU_MIRROR_H
#define SECMMU_MIRROR_H

#include "secmmu/compiler.h"
#include <stddef.h>

#include "secmmu/mm.h"

SECMMU_BEGIN_DECLS

struct mirror;

#define MIRROR_BROKEN 0x1U

/**
 * mirror_create() - attach a mirroring device to @mm
 *
 * The caller holds an mm_users reference. The device holds two mm_count
 * references (its interval notifier for invalidations, and a classic notifier
 * that answers the aging callbacks from its accessed bits) until
 * mirror_destroy(). Return: the device or
 * ERR_PTR(-ENOMEM / -EINVAL (mm exited) / -EINTR).
 */
struct mirror *mirror_create(struct mm_struct *mm, unsigned int flags);

/**
 * mirror_destroy() - detach: remove the notifier (waiting for callbacks),
 * stop the DMA engine, free the device page table.
 *
 * A second destroy of the same device (or of one never created) is API
 * misuse: WARNed once, nothing done, @m never dereferenced.
 */
void mirror_destroy(struct mirror *m);

/**
 * mirror_read() / mirror_write() - DMA through the device's translations,
 * faulting them in as needed. Runs on the device's DMA engine thread; the
 * caller waits. Return: 0, -EFAULT (not mapped / not allowed), -ESRCH (the
 * mm has exited), -ENOMEM, -EIO (a stale translation was detected: the
 * driver is broken).
 */
int mirror_read(struct mirror *m, unsigned long addr, void *buf, size_t len);
int mirror_write(struct mirror *m, unsigned long addr, const void *buf, size_t len);

/* Translations currently installed in the device page table. */
unsigned long mirror_nr_entries(struct mirror *m);
/* Invalidations received, and stale translations detected. */
unsigned long mirror_nr_invalidations(struct mirror *m);
unsigned long mirror_nr_stale(struct mirror *m);

SECMMU_END_DECLS

#endif /* SECMMU_MIRROR_H */
