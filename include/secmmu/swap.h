/* SPDX-License-Identifier: MIT */
/* The swap device. Without one (the default), anonymous memory cannot be reclaimed. */
#ifndef SECMMU_SWAP_H
#define SECMMU_SWAP_H

#include <stddef.h>

/* Slots in use on the swap device; 0 when there is none. */
unsigned long swap_slots_used(void);
/* Total slots; 0 when there is no swap device. */
unsigned long swap_slots_total(void);

#endif /* SECMMU_SWAP_H */
