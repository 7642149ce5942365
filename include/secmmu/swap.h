/* SPDX-License-Identifier: MIT */
/*
 * The swap device and memory reclaim.
 *
 * Anonymous and shared-anonymous pages can be written to a swap device and
 * their frames freed: every mapping of the frame, in every mm, is found
 * through the reverse map and replaced by a swap entry (or, for shared
 * memory, cleared), each inside an MMU-notifier invalidation, so secondary
 * MMUs drop their translations first. Pinned frames are never reclaimed.
 * Aging consults the PTE young bit and the secondary MMUs' accessed bits
 * (mmu_notifier_clear_flush_young), so a page a device keeps using stays.
 */
#ifndef SECMMU_SWAP_H
#define SECMMU_SWAP_H

#include "secmmu/compiler.h"
#include <stddef.h>

SECMMU_BEGIN_DECLS

/* swap_on_flags() flag: reuse an existing regular file at @path. */
#define SWAP_ON_OVERWRITE 0x1u

/**
 * swap_on() - create the swap device
 * @bytes: size, a multiple of PAGE_SIZE
 * @path:  NULL for an in-memory device; "" for a fresh file with an
 *         unpredictable name (mkstemp) under $TMPDIR (or /tmp), removed at
 *         swap_off; else a file to create (O_EXCL, symlinks not followed),
 *         removed at swap_off. An existing @path is refused with -EEXIST
 *         and left untouched.
 *
 * Every refusal (-EBUSY, -EEXIST, ...) leaves the file system as it was:
 * nothing is created, truncated or removed that this call did not create.
 * Return: 0, -EBUSY (one exists), -EEXIST, -EINVAL, -ENOMEM, or a file error.
 */
int swap_on(size_t bytes, const char *path);

/**
 * swap_on_flags() - swap_on() with @flags
 * @flags: 0 or SWAP_ON_OVERWRITE: an existing regular file at @path is
 *         reused (resized to @bytes, its contents overwritten) and, not
 *         being ours, is not removed at swap_off.
 * Return: as swap_on(); -EINVAL for unknown flags or a non-regular file.
 */
int swap_on_flags(size_t bytes, const char *path, unsigned int flags);

/* Remove the device. Return: 0, -EBUSY (slots in use), -ENOENT (none). */
int swap_off(void);

/* Slots in use on the swap device; 0 when there is none. */
unsigned long swap_slots_used(void);
/* Total slots; 0 when there is no swap device. */
unsigned long swap_slots_total(void);

/**
 * try_to_free_pages() - reclaim up to @nr_pages frames
 *
 * Scans the LRU from its cold end: referenced pages get a second chance,
 * pinned and KSM pages are skipped, the rest are swapped out. Takes no lock
 * the caller may hold other than mmap_lock for read. May sleep.
 * Return: the number of frames freed.
 */
unsigned long try_to_free_pages(unsigned long nr_pages);

/* Pages on the LRU lists (reclaim candidates). */
unsigned long lru_nr_pages(void);

/**
 * swap_inject_write_failure() - make the @nth swap write from now fail with
 * -EIO (1 = the next one), on any thread; 0 disarms. One-shot. Reclaim must
 * then keep the page (mapped or in the swap cache), never lose its data.
 * Injected failures are counted in swap_inject_write_hits().
 */
void swap_inject_write_failure(unsigned long nth);
unsigned long swap_inject_write_hits(void);

SECMMU_END_DECLS

#endif /* SECMMU_SWAP_H */
