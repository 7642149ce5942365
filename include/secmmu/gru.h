/* SPDX-License-Identifier: MIT */
/*
 * A GRU-style device: a TLB-only secondary MMU (after drivers/misc/sgi-gru).
 *
 * The device has no secondary page table, only a small fully associative TLB
 * (GRU_TLB_ENTRIES entries, round-robin replacement). Every TLB miss raises a
 * fault that the CPU resolves (gru_read()/gru_write() run it in the calling
 * thread, as grufault.c resolves a TFH miss): the primary PTE is faulted in and
 * read with follow_pfn_pte(), no page is pinned, and the entry is installed
 * only if no invalidation started since the lookup began (a sequence count
 * plus an in-progress count, as KVM's mmu_invalidate_seq/in_progress and the
 * GRU's ms_range_active).
 *
 * Invalidations (a classic mmu_notifier with invalidate_range_start/end, as
 * grutlbpurge.c) flush the matching TLB entries; ->clear_flush_young and
 * ->test_young answer aging from the entries' accessed bits; ->release flushes
 * everything when the mm exits. Every access checks the generation of the
 * frame recorded at fault time, so a stale entry is caught (-EIO).
 *
 * GRU_BROKEN makes invalidate_range_start flush nothing: a documented "broken
 * device" (docs/architecture.md, Broken devices), per device, for the
 * stale-translation demos and the tests that prove the stale entry is caught.
 */
#ifndef SECMMU_GRU_H
#define SECMMU_GRU_H

#include "secmmu/compiler.h"
#include <stddef.h>

#include "secmmu/mm.h"

SECMMU_BEGIN_DECLS

struct gru;

#define GRU_TLB_ENTRIES 8
#define GRU_BROKEN	0x1U

struct gru_stats {
	unsigned long tlb;     /* valid TLB entries now */
	unsigned long misses;  /* TLB misses (faults resolved by the CPU) */
	unsigned long flushes; /* TLB entries flushed by invalidations */
	unsigned long young;   /* valid entries with the accessed bit set */
	unsigned long stale;   /* accesses through a stale entry (broken driver) */
};

/**
 * gru_create() - open a GRU context on @mm
 * @flags: 0 or GRU_BROKEN
 *
 * The caller holds an mm_users reference. The context registers a classic
 * MMU notifier, which holds one mm_count reference (never mm_users) until
 * gru_destroy(). May sleep.
 * Return: the context, or ERR_PTR(-EINVAL (bad flags, mm exited) / -ENOMEM /
 * -EINTR).
 */
struct gru *gru_create(struct mm_struct *mm, unsigned int flags);

/**
 * gru_destroy() - close the context: unregister the notifier (waiting for
 * running callbacks, and running ->release if exit has not), drop the TLB,
 * free it. No gru_read()/gru_write() may run concurrently. May sleep.
 */
void gru_destroy(struct gru *g);

/**
 * gru_read() / gru_write() - device access through the TLB
 *
 * Misses are resolved on the calling thread (mmget_not_zero(), mmap_read_lock,
 * get_user_pages_remote() for a reference held until the entry is installed,
 * follow_pfn_pte) with the collision-retry rule: a miss waits for running
 * invalidations and retries only after one hit its range, so it ends under
 * any load. The caller holds no lock. Return: 0, -EFAULT (unmapped or not
 * allowed), -ESRCH (the mm has exited), -ENOMEM, -EIO (an access through a
 * stale entry: the driver is broken).
 */
int gru_read(struct gru *g, unsigned long addr, void *buf, size_t len);
int gru_write(struct gru *g, unsigned long addr, const void *buf, size_t len);

/* A snapshot of the counters. Takes the TLB lock briefly. */
void gru_get_stats(struct gru *g, struct gru_stats *st);

SECMMU_END_DECLS

#endif /* SECMMU_GRU_H */
