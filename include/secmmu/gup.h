/* SPDX-License-Identifier: MIT */
/*
 * get_user_pages / pin_user_pages: references on the frames behind user
 * addresses, for devices that cannot take MMU notifications (VFIO, RDMA) or
 * for short-term access.
 *
 *  get_user_pages*: a plain reference (get_page) per page; release with
 *                   put_page(). Does not stop reclaim from unmapping the page.
 *  pin_user_pages*: a pin per page: GUP_PIN_COUNTING_BIAS (1024) added to the
 *                   reference count and one to the exact pin count; pinned
 *                   frames are never reclaimed, migrated or KSM-merged, and
 *                   fork copies them for the child at once. Release with
 *                   unpin_user_page(s).
 *
 * FOLL_WRITE faults for writing (breaking COW first), so the device and the
 * process share the same frame. A pin of a private page that is still
 * COW-shared unshares it first, for the same reason. FOLL_LONGTERM marks a
 * pin that may last indefinitely; the caller accounts it (locked_vm or
 * pinned_vm, see account_locked_vm()).
 *
 * The zero page (a read pin of never-written memory the caller may not
 * write) is returned but, as in Linux, carries no pin and no reference:
 * it is never freed, moved or written; unpinning it gives nothing back.
 */
#ifndef SECMMU_GUP_H
#define SECMMU_GUP_H

#include "secmmu/compiler.h"
#include "secmmu/mm.h"

SECMMU_BEGIN_DECLS

#define FOLL_WRITE    0x01U
#define FOLL_LONGTERM 0x100U

/**
 * get_user_pages_remote() / pin_user_pages_remote()
 * @mm:       the address space; the caller holds mmap_lock for read and an
 *            mm_users reference
 * @start:    page-aligned address
 * @nr_pages: how many
 * @pages:    out, @nr_pages entries
 *
 * Return: the number of pages referenced (from the start; may be fewer than
 * asked if a later page faults), or a negative errno if the first one
 * fails: -EINVAL (unaligned, zero, unknown flags; a NULL @mm or @pages is
 * API misuse: WARN once and -EINVAL), -EFAULT, -ENOMEM.
 */
long get_user_pages_remote(struct mm_struct *mm, unsigned long start, unsigned long nr_pages,
			   unsigned int gup_flags, struct page **pages);
long pin_user_pages_remote(struct mm_struct *mm, unsigned long start, unsigned long nr_pages,
			   unsigned int gup_flags, struct page **pages);
/* As pin_user_pages_remote(), taking mmap_lock itself. All or nothing. */
long pin_user_pages_unlocked(struct mm_struct *mm, unsigned long start, unsigned long nr_pages,
			     unsigned int gup_flags, struct page **pages);

void unpin_user_page(struct page *page);
void unpin_user_pages(struct page **pages, unsigned long npages);
/* Mark dirty first if @make_dirty (the device wrote). */
void unpin_user_pages_dirty_lock(struct page **pages, unsigned long npages, bool make_dirty);

SECMMU_END_DECLS

#endif /* SECMMU_GUP_H */
