// SPDX-License-Identifier: MIT
/*
 * Swap slot accounting. The swap device itself (reclaim, swap-out/in) is
 * issue 4; until a device is configured there are no slots, which is what
 * Linux reports with no swap enabled.
 */
#include "secmmu/swap.h"

unsigned long swap_slots_used(void)
{
	return 0;
}

unsigned long swap_slots_total(void)
{
	return 0;
}
