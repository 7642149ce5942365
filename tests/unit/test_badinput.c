// SPDX-License-Identifier: MIT
/*
 * Bad arguments to the public C API: unaligned, zero length, overflow past
 * 2^64, out of the user range, unknown flags. No crash, the documented
 * errno (Linux's), and the address space untouched.
 */
#include "harness.h"
#include "secmmu/gup.h"
#include "secmmu/migrate.h"
#include "testutil.h"

TEST(badinput_mm_syscalls)
{
	struct mm_struct *mm;
	struct page *pg[1];
	unsigned char b[8];

	MM_TEST_SETUP();
	mm = mm_alloc();
	map_anon(mm, TBASE, 4, PROT_RW, false);
	write_pages(mm, TBASE, 4, 5);

	/* mmap */
	ASSERT_EQ(mm_mmap(mm, TBASE + 1, PG(1), PROT_RW, MAP_PRIVATE, NULL, 0), -EINVAL);
	ASSERT_EQ(mm_mmap(mm, TBASE, 0, PROT_RW, MAP_PRIVATE, NULL, 0), -EINVAL);
	ASSERT_EQ(mm_mmap(mm, TBASE, PG(1), PROT_RW, 0, NULL, 0), -EINVAL);
	ASSERT(mm_mmap(mm, -PAGE_SIZE, PG(2), PROT_RW, MAP_PRIVATE, NULL, 0) < 0);
	ASSERT(mm_mmap(mm, TBASE, -PAGE_SIZE, PROT_RW, MAP_PRIVATE, NULL, 0) < 0);
	ASSERT(mm_mmap(mm, TASK_SIZE, PG(1), PROT_RW, MAP_PRIVATE, NULL, 0) < 0);
	/* munmap / mprotect / madvise */
	ASSERT_EQ(mm_munmap(mm, TBASE + 1, PG(1)), -EINVAL);
	ASSERT_EQ(mm_munmap(mm, TBASE, 0), -EINVAL);
	ASSERT_EQ(mm_munmap(mm, -PAGE_SIZE, PG(2)), -EINVAL);
	ASSERT_EQ(mm_mprotect(mm, TBASE + 1, PG(1), PROT_READ), -EINVAL);
	ASSERT_EQ(mm_mprotect(mm, -PAGE_SIZE, PG(2), PROT_READ), -ENOMEM);
	ASSERT_EQ(mm_madvise(mm, TBASE + 1, PG(1), MADV_DONTNEED), -EINVAL);
	ASSERT_EQ(mm_madvise(mm, TBASE, PG(1), 12345), -EINVAL);
	ASSERT_EQ(mm_madvise(mm, -PAGE_SIZE, PG(2), MADV_DONTNEED), -EINVAL);
	/* mremap */
	ASSERT_EQ(mm_mremap(mm, TBASE + 1, PG(1), PG(1), MREMAP_MAYMOVE, 0), -EINVAL);
	ASSERT_EQ(mm_mremap(mm, TBASE, PG(1), 0, MREMAP_MAYMOVE, 0), -EINVAL);
	ASSERT_EQ(mm_mremap(mm, TBASE, PG(1), PG(1), 0x80, 0), -EINVAL);
	ASSERT_EQ(mm_mremap(mm, TBASE, PG(1), PG(1), MREMAP_MAYMOVE | MREMAP_FIXED, TBASE + 1),
		  -EINVAL);
	/* read / write outside, wrapping */
	ASSERT_EQ(mm_read(mm, -4UL, b, 8), -EFAULT);
	ASSERT_EQ(mm_write(mm, -4UL, b, 8), -EFAULT);
	ASSERT_EQ(mm_read(mm, 0, b, 8), -EFAULT);
	/* gup / migrate */
	ASSERT_EQ(pin_user_pages_unlocked(mm, TBASE + 1, 1, 0, pg), -EINVAL);
	ASSERT_EQ(pin_user_pages_unlocked(mm, TBASE, 0, 0, pg), -EINVAL);
	ASSERT(pin_user_pages_unlocked(mm, -PAGE_SIZE, 1, 0, pg) < 0);
	ASSERT_EQ(migrate_range(mm, TBASE + 1, PG(1)), -EINVAL);

	check_pages(mm, TBASE, 4, 5); /* untouched */
	ASSERT_UEQ(phys_pinned_frames(), 0);
	mmput(mm);
}
