// SPDX-License-Identifier: MIT
/*
 * The lock-order checker on the mm locks: inversions, recursion, trylock,
 * held assertions.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include "base/thread.h"
#include "mm/internal.h"
#include "testutil.h"

/*
 * expect_abort_with() - the test must die by SIGABRT *and* stderr must
 * contain @msg by then (so an abort for another reason does not pass).
 */
static const char *abort_msg;
static int abort_fd = -1, saved_stderr = -1;

static void abort_handler(int sig)
{
	static char buf[8192];
	ssize_t n;

	(void)sig;
	n = pread(abort_fd, buf, sizeof(buf) - 1, 0);
	buf[n > 0 ? n : 0] = 0;
	if (saved_stderr >= 0 && n > 0)
		(void)!write(saved_stderr, buf, (size_t)n);
	if (!strstr(buf, abort_msg)) {
		static const char m[] = "aborted without the expected message\n";

		(void)!write(saved_stderr, m, sizeof(m) - 1);
		_exit(1);
	}
	/* Returning lets abort() re-raise with the default action. */
}

static void expect_abort_with(const char *msg)
{
	char path[] = "/tmp/lockdep-test-XXXXXX";

	abort_msg = msg;
	abort_fd = mkstemp(path);
	ASSERT_GE(abort_fd, 0);
	unlink(path);
	fflush(stderr);
	saved_stderr = dup(2);
	dup2(abort_fd, 2);
	signal(SIGABRT, abort_handler);
	harness_expect_crash();
}

TEST(mmap_lock_under_ptl_is_an_inversion)
{
	struct mm_struct *mm;

	MM_TEST_SETUP();
	mm = mm_alloc();
	sm_mutex_lock(&mm->page_table_lock);
	expect_abort_with("lock order inversion");
	mmap_read_lock(mm);
	FAIL("lock order inversion not caught");
}

TEST(mmap_write_lock_under_ptl_is_an_inversion)
{
	struct mm_struct *mm;

	MM_TEST_SETUP();
	mm = mm_alloc();
	sm_mutex_lock(&mm->page_table_lock);
	expect_abort_with("lock order inversion");
	mmap_write_lock(mm);
	FAIL("lock order inversion not caught");
}

TEST(inversion_across_two_mms_is_caught)
{
	struct mm_struct *a, *b;

	MM_TEST_SETUP();
	a = mm_alloc();
	b = mm_alloc();
	/* Another mm's mmap_lock under this one's PTL: still ranked. */
	sm_mutex_lock(&a->page_table_lock);
	expect_abort_with("lock order inversion");
	mmap_read_lock(b);
	FAIL("lock order inversion not caught");
}

TEST(right_order_is_fine)
{
	struct mm_struct *mm, *mm2;

	MM_TEST_SETUP();
	mm = mm_alloc();
	mm2 = mm_alloc();
	ASSERT_UEQ(lockdep_depth(), 0);
	mmap_read_lock(mm);
	sm_down_read(&mm->rmap_lock);
	sm_mutex_lock(&mm->page_table_lock);
	ASSERT_UEQ(lockdep_depth(), 3);
	ASSERT_EQ(lockdep_held_mode(&mm->mmap_lock), HELD_READ);
	ASSERT_EQ(lockdep_held_mode(&mm->page_table_lock), HELD_WRITE);
	mmap_assert_locked(mm);
	sm_mutex_unlock(&mm->page_table_lock);
	sm_up_read(&mm->rmap_lock);
	mmap_read_unlock(mm);
	ASSERT_UEQ(lockdep_depth(), 0);
	/* fork's nesting: parent's mmap_lock, then the child's with subclass 1. */
	mmap_write_lock(mm);
	sm_down_write_nested(&mm2->mmap_lock, 1);
	mmap_assert_write_locked(mm);
	sm_mutex_lock(&mm->page_table_lock);
	sm_mutex_lock_nested(&mm2->page_table_lock, 1);
	sm_mutex_unlock(&mm2->page_table_lock);
	sm_mutex_unlock(&mm->page_table_lock);
	sm_up_write(&mm2->mmap_lock);
	mmap_write_unlock(mm);
	ASSERT_UEQ(lockdep_depth(), 0);
	mmput(mm2);
	mmput(mm);
}

TEST(same_rank_same_subclass_is_an_inversion)
{
	struct mm_struct *a, *b;

	MM_TEST_SETUP();
	a = mm_alloc();
	b = mm_alloc();
	mmap_write_lock(a);
	expect_abort_with("lock order inversion");
	mmap_write_lock(b); /* needs the nested annotation */
	FAIL("same-rank locking without a subclass not caught");
}

TEST(recursive_read_lock_is_caught)
{
	struct mm_struct *mm;

	MM_TEST_SETUP();
	mm = mm_alloc();
	mmap_read_lock(mm);
	expect_abort_with("recursive locking");
	mmap_read_lock(mm);
	FAIL("recursive locking not caught");
}

TEST(recursive_ptl_is_caught)
{
	struct mm_struct *mm;

	MM_TEST_SETUP();
	mm = mm_alloc();
	sm_mutex_lock(&mm->page_table_lock);
	expect_abort_with("recursive locking");
	sm_mutex_lock_nested(&mm->page_table_lock, 1);
	FAIL("recursive locking not caught");
}

TEST(trylock_is_exempt_from_order)
{
	struct mm_struct *mm;

	MM_TEST_SETUP();
	mm = mm_alloc();
	sm_mutex_lock(&mm->page_table_lock);
	ASSERT(mmap_read_trylock(mm));
	ASSERT_EQ(lockdep_held_mode(&mm->mmap_lock), HELD_READ);
	ASSERT_UEQ(lockdep_depth(), 2);
	mmap_read_unlock(mm);
	sm_mutex_unlock(&mm->page_table_lock);
	ASSERT_UEQ(lockdep_depth(), 0);
	mmput(mm);
}

TEST(lockdep_assert_held_fires_when_not_held)
{
	struct mm_struct *mm;

	MM_TEST_SETUP();
	mm = mm_alloc();
	mmap_read_lock(mm);
	mmap_assert_locked(mm);
	mmap_read_unlock(mm);
	expect_abort_with("BUG at");
	mmap_assert_locked(mm);
	FAIL("lockdep_assert_held did not fire");
}

TEST(assert_write_locked_fires_on_read)
{
	struct mm_struct *mm;

	MM_TEST_SETUP();
	mm = mm_alloc();
	mmap_read_lock(mm);
	harness_expect_crash();
	mmap_assert_write_locked(mm);
	FAIL("lockdep_assert_held_write did not fire on a read hold");
}

TEST(unlock_of_unheld_lock_is_caught)
{
	struct mm_struct *mm;

	MM_TEST_SETUP();
	mm = mm_alloc();
	expect_abort_with("does not hold");
	sm_mutex_unlock(&mm->page_table_lock);
	FAIL("unlock of an unheld lock not caught");
}

TEST(syscalls_leave_no_lock_held)
{
	struct mm_struct *mm, *child;

	MM_TEST_SETUP();
	mm = mm_alloc();
	map_anon(mm, TBASE, 4, PROT_RW, false);
	write_pages(mm, TBASE, 4, 1);
	ASSERT_EQ(mm_mprotect(mm, TBASE, PAGE_SIZE, PROT_READ), 0);
	ASSERT_EQ(mm_madvise(mm, TBASE + PG(1), PAGE_SIZE, MADV_DONTNEED), 0);
	ASSERT(mm_mremap(mm, TBASE + PG(2), PG(2), PG(3), MREMAP_MAYMOVE, 0) > 0);
	child = dup_mm(mm);
	ASSERT(!IS_ERR(child));
	write_pages(child, TBASE + PG(1), 1, 3);
	ASSERT_EQ(mm_munmap(mm, TBASE, PG(4)), 0);
	ASSERT_UEQ(lockdep_depth(), 0);
	mmput(child);
	mmput(mm);
	ASSERT_UEQ(lockdep_depth(), 0);
}

/*
 * sm_rwsem_wait_released() (mmap_lock_wait_released(), XPMEM's faults) is a
 * wait for a release, not a yield: it does not return while the writer still
 * holds the lock. (Before issue 12 it returned after one sched_yield(), and
 * its callers spun.) The writer's delay only gives the waiter time to get
 * there; if the waiter is late, the test passes without proving anything.
 */
static struct sm_rwsem wr_sem;
static _Atomic bool wr_released, wr_waiting;
static _Atomic int wr_early;

static void *wr_waiter(void *arg)
{
	(void)arg;
	while (!sm_down_read_trylock(&wr_sem)) {
		atomic_store(&wr_waiting, true);
		sm_rwsem_wait_released(&wr_sem);
		if (!atomic_load(&wr_released))
			atomic_fetch_add(&wr_early, 1);
	}
	sm_up_read(&wr_sem);
	return NULL;
}

TEST(rwsem_wait_released_sleeps_until_the_release)
{
	struct sm_thread t;

	sm_rwsem_init(&wr_sem, "wr_sem", LOCK_RANK_MMAP);
	sm_down_write(&wr_sem);
	ASSERT_EQ(sm_thread_create(&t, wr_waiter, NULL, "waiter"), 0);
	while (!atomic_load(&wr_waiting))
		sm_delay_us(100);
	sm_delay_us(20000);
	atomic_store(&wr_released, true);
	sm_up_write(&wr_sem);
	sm_thread_join(&t);
	int early = atomic_load(&wr_early);

	ASSERT_EQ(early, 0);
	sm_rwsem_destroy(&wr_sem);
}
