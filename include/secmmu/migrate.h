/* SPDX-License-Identifier: MIT */
/*
 * Page migration and KSM: two ways the primary MMU changes the frame behind
 * a virtual address while the data stays the same. A secondary MMU that
 * holds no pin follows along through its notifier (MMU_NOTIFY_MIGRATE, or
 * the legacy change_pte for KSM); a pinned frame is never moved or merged.
 */
#ifndef SECMMU_MIGRATE_H
#define SECMMU_MIGRATE_H

#include "secmmu/compiler.h"
#include "secmmu/mm.h"

SECMMU_BEGIN_DECLS

/**
 * migrate_range() - move every present page of [start, start+len) to a new
 * frame, content intact, updating every mapping of it (in every mm) under
 * an MMU_NOTIFY_MIGRATE invalidation
 *
 * The caller holds an mm_users reference. KSM pages are left alone.
 * Return: 0; -EBUSY if some page is pinned (or stays busy) -- the others are
 * still moved; -EINVAL (unaligned), -ENOMEM.
 */
int migrate_range(struct mm_struct *mm, unsigned long start, unsigned long len);

/**
 * ksm_scan_all() - one full KSM pass: merge identical private anonymous
 * pages of VM_MERGEABLE areas (MADV_MERGEABLE) of every process into one
 * write-protected frame. Secondary MMUs see the replacement through the
 * legacy change_pte callback inside an MMU_NOTIFY_CLEAR invalidation.
 * A write breaks the sharing by COW. Pinned pages are never merged.
 * Return: the number of frames freed by merging.
 */
unsigned long ksm_scan_all(void);

SECMMU_END_DECLS

#endif /* SECMMU_MIGRATE_H */
