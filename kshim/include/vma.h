/* SPDX-License-Identifier: MIT */
/* mm/vma.h: mmu_notifier.c needs nothing from it here (mm_take_all_locks is in kshim.h). */
