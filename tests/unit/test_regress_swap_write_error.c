// SPDX-License-Identifier: MIT
/*
 * REGRESSION (found by review while looking for a swap-write injection point):
 * src/mm/vmscan.c pageout_anon() ignores the return value of
 * swap_writepage(). When the write fails, the PTEs have already become swap
 * entries and the page is dropped from the swap cache and freed, so the next
 * access swaps in whatever the slot holds (zeros): silent data loss. Linux
 * keeps the page (dirty, in the swap cache) when writeback fails.
 *
 * The failure is produced without touching src/: a file-backed swap device
 * and RLIMIT_FSIZE = 0 after swap_on(), so every pwrite() fails with EFBIG
 * (SIGXFSZ ignored). Reads still work. Fails until vmscan.c is fixed.
 */
#include <signal.h>
#include <sys/resource.h>

#include "harness.h"
#include "secmmu/swap.h"
#include "testutil.h"

TEST(regress_swap_write_error_loses_data)
{
	struct rlimit rl = {0, RLIM_INFINITY};
	struct mm_struct *mm;

	MM_TEST_SETUP();
	signal(SIGXFSZ, SIG_IGN);
	ASSERT_EQ(swap_on(PG(64), ""), 0);
	ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &rl), 0);
	mm = mm_alloc();
	map_anon(mm, TBASE, 4, PROT_RW, false);
	write_pages(mm, TBASE, 4, 11);
	ASSERT_EQ(mm_madvise(mm, TBASE, PG(4), MADV_PAGEOUT), 0);
	check_pages(mm, TBASE, 4, 11); /* the data must survive a failed swap write */
	mmput(mm);
	ASSERT_EQ(swap_off(), 0);
}
