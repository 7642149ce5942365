// SPDX-License-Identifier: MIT
/*
 * The swap device, its slot map and the swap cache.
 *
 * A slot's count (swap_map) is the number of swap PTEs (and shmem objects)
 * referring to it. The swap cache maps a slot to the frame that still holds
 * its data while a reclaim is in flight or was aborted; swap-in takes the
 * frame from there rather than reading the device, so a page that somebody
 * still references is never duplicated. The cache holds one page
 * reference; it is dropped when the slot's count reaches zero or when
 * reclaim frees the page.
 *
 * Lock: swap.lock (LOCK_RANK_SWAP) covers the slot map and the cache.
 * Device I/O happens outside it: a slot being written or read is owned by
 * its caller (allocated and not yet published, or pinned by a count).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "mm/internal.h"
#include "base/alloc.h"
#include "mm/swap_internal.h"
#include "secmmu/swap.h"
#include "secmmu/trace.h"

struct swap_device {
	unsigned long nr_slots;
	unsigned long nr_used;
	unsigned long next_hint;
	unsigned short *map; /* per-slot count */
	struct page **cache; /* per-slot swap-cache page, or NULL */
	unsigned char *mem;  /* in-memory device */
	int fd;		     /* file device */
	bool created;	     /* we created path: swap_off removes it */
	char path[512];
	struct sm_mutex lock;
};

static struct swap_device *swap_dev;
static pthread_once_t swap_once = PTHREAD_ONCE_INIT;
static struct sm_mutex swap_on_lock;

static void swap_init_once(void)
{
	sm_mutex_init(&swap_on_lock, "swap_on_lock", LOCK_RANK_LEAF);
}

/*
 * Open the backing file of a new device. Never touches a file we did not
 * create unless the caller asked to overwrite it: a fresh name comes from
 * mkstemp(), a given one is created with O_EXCL (an existing path is
 * -EEXIST), and symlinks are never followed. Sets dev->created when the
 * file is ours to remove.
 */
static int swap_open_file(struct swap_device *dev, const char *path, size_t bytes,
			  unsigned int flags)
{
	struct stat st;

	if (!*path) {
		const char *tmp = getenv("TMPDIR");
		int n = snprintf(dev->path, sizeof(dev->path), "%s/secmmu-swap-XXXXXX",
				 tmp && *tmp ? tmp : "/tmp");

		if (n < 0 || (size_t)n >= sizeof(dev->path))
			return -ENAMETOOLONG;
		dev->fd = mkostemp(dev->path, O_CLOEXEC);
		if (dev->fd < 0)
			return -errno;
		dev->created = true;
	} else {
		if (strlen(path) >= sizeof(dev->path))
			return -ENAMETOOLONG;
		strcpy(dev->path, path);
		dev->fd = open(dev->path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (dev->fd >= 0) {
			dev->created = true;
		} else if (errno == EEXIST && (flags & SWAP_ON_OVERWRITE)) {
			dev->fd = open(dev->path, O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
			if (dev->fd < 0)
				return -errno;
			/* Only a regular file is ever overwritten. */
			if (fstat(dev->fd, &st))
				return -errno;
			if (!S_ISREG(st.st_mode))
				return -EINVAL;
		} else {
			return -errno;
		}
	}
	if (ftruncate(dev->fd, (off_t)bytes))
		return -errno;
	return 0;
}

int swap_on(size_t bytes, const char *path)
{
	return swap_on_flags(bytes, path, 0);
}

int swap_on_flags(size_t bytes, const char *path, unsigned int flags)
{
	struct swap_device *dev = NULL;
	int ret = -ENOMEM;

	pthread_once(&swap_once, swap_init_once);
	if (!bytes || bytes % PAGE_SIZE || bytes > (16UL << 30) || (flags & ~SWAP_ON_OVERWRITE))
		return -EINVAL;
	/*
	 * swap_on_lock is held from the -EBUSY check to the publication, so
	 * a refused call has opened, truncated or created nothing.
	 */
	sm_mutex_lock(&swap_on_lock);
	if (swap_dev) {
		ret = -EBUSY;
		goto out_unlock;
	}
	dev = kzalloc(sizeof(*dev));
	if (!dev)
		goto out_unlock;
	dev->nr_slots = bytes / PAGE_SIZE;
	dev->fd = -1;
	dev->map = kcalloc(dev->nr_slots, sizeof(*dev->map));
	dev->cache = kcalloc(dev->nr_slots, sizeof(*dev->cache));
	if (!dev->map || !dev->cache)
		goto err;
	if (!path) {
		dev->mem = kzalloc(bytes);
		if (!dev->mem)
			goto err;
	} else {
		ret = swap_open_file(dev, path, bytes, flags);
		if (ret)
			goto err;
	}
	sm_mutex_init(&dev->lock, "swap->lock", LOCK_RANK_SWAP);
	__atomic_store_n(&swap_dev, dev, __ATOMIC_RELEASE);
	sm_mutex_unlock(&swap_on_lock);
	return 0;
err:
	if (dev->fd >= 0)
		close(dev->fd);
	if (dev->created)
		unlink(dev->path);
	kfree(dev->mem);
	kfree(dev->map);
	kfree(dev->cache);
	kfree(dev);
out_unlock:
	sm_mutex_unlock(&swap_on_lock);
	return ret;
}

int swap_off(void)
{
	struct swap_device *dev;

	pthread_once(&swap_once, swap_init_once);
	sm_mutex_lock(&swap_on_lock);
	dev = swap_dev;
	if (!dev || dev->nr_used) {
		sm_mutex_unlock(&swap_on_lock);
		return dev ? -EBUSY : -ENOENT;
	}
	swap_dev = NULL;
	sm_mutex_unlock(&swap_on_lock);
	if (dev->fd >= 0)
		close(dev->fd);
	if (dev->created)
		unlink(dev->path);
	sm_mutex_destroy(&dev->lock);
	kfree(dev->mem);
	kfree(dev->map);
	kfree(dev->cache);
	kfree(dev);
	return 0;
}

bool swap_available(void)
{
	return __atomic_load_n(&swap_dev, __ATOMIC_ACQUIRE) != NULL;
}

unsigned long swap_slots_used(void)
{
	struct swap_device *dev = __atomic_load_n(&swap_dev, __ATOMIC_ACQUIRE);
	unsigned long n;

	if (!dev)
		return 0;
	sm_mutex_lock(&dev->lock);
	n = dev->nr_used;
	sm_mutex_unlock(&dev->lock);
	return n;
}

unsigned long swap_slots_total(void)
{
	struct swap_device *dev = __atomic_load_n(&swap_dev, __ATOMIC_ACQUIRE);

	return dev ? dev->nr_slots : 0;
}

/* A free slot with count 1, or -ENOSPC. Caller holds dev->lock. */
static long __swap_alloc(struct swap_device *dev)
{
	lockdep_assert_held(&dev->lock);
	for (unsigned long i = 0; i < dev->nr_slots; i++) {
		unsigned long s = (dev->next_hint + i) % dev->nr_slots;

		if (!dev->map[s]) {
			dev->map[s] = 1;
			dev->nr_used++;
			dev->next_hint = s + 1;
			return (long)s;
		}
	}
	return -ENOSPC;
}

long swap_alloc(void)
{
	struct swap_device *dev = swap_dev;
	long slot;

	if (!dev)
		return -ENOSPC;
	sm_mutex_lock(&dev->lock);
	slot = __swap_alloc(dev);
	sm_mutex_unlock(&dev->lock);
	return slot;
}

/* Caller holds dev->lock and a reference on @page for the cache. */
static void __swap_cache_add(struct swap_device *dev, unsigned long slot, struct page *page)
{
	lockdep_assert_held(&dev->lock);
	BUG_ON(dev->cache[slot]);
	dev->cache[slot] = page;
	set_page_private(page, slot);
	SetPageFlag(page, PG_swapcache);
}

long swap_alloc_cached(struct page *page)
{
	struct swap_device *dev = swap_dev;
	long slot;

	if (!dev)
		return -ENOSPC;
	DEBUG_BUG_ON(!PageTest(page, PG_locked));
	get_page(page); /* the cache's reference; pairs with swap_cache_del()/swap_free() */
	sm_mutex_lock(&dev->lock);
	slot = __swap_alloc(dev);
	if (slot >= 0)
		__swap_cache_add(dev, (unsigned long)slot, page);
	sm_mutex_unlock(&dev->lock);
	if (slot < 0)
		put_page(page); /* not cached: we still hold ours */
	return slot;
}

void swap_dup(unsigned long slot)
{
	struct swap_device *dev = swap_dev;

	sm_mutex_lock(&dev->lock);
	BUG_ON(slot >= dev->nr_slots || !dev->map[slot] || dev->map[slot] == 0xffff);
	dev->map[slot]++;
	sm_mutex_unlock(&dev->lock);
}

/* Drop one count of @slot; return the cached page whose reference the caller now drops. */
static struct page *__swap_free(struct swap_device *dev, unsigned long slot)
{
	struct page *cached = NULL;

	lockdep_assert_held(&dev->lock);
	BUG_ON(slot >= dev->nr_slots || !dev->map[slot]); /* swap count underflow */
	if (--dev->map[slot] == 0) {
		dev->nr_used--;
		cached = dev->cache[slot];
		dev->cache[slot] = NULL;
		if (cached) {
			ClearPageFlag(cached, PG_swapcache);
			set_page_private(cached, 0);
		}
	}
	return cached;
}

void swap_free(unsigned long slot)
{
	struct swap_device *dev = swap_dev;
	struct page *cached;

	sm_mutex_lock(&dev->lock);
	cached = __swap_free(dev, slot);
	sm_mutex_unlock(&dev->lock);
	if (cached)
		put_page(cached); /* the swap cache's reference */
}

static int swap_io(unsigned long slot, struct page *page, bool write)
{
	struct swap_device *dev = swap_dev;
	off_t off = (off_t)slot * (off_t)PAGE_SIZE;
	ssize_t n;

	if (dev->mem) {
		if (write)
			copy_frame_data(dev->mem + off, page_address(page), PAGE_SIZE);
		else
			copy_frame_data(page_address(page), dev->mem + off, PAGE_SIZE);
		return 0;
	}
	racy_read_begin(); /* the frame's bytes, as copy_frame_data() */
	n = write ? pwrite(dev->fd, page_address(page), PAGE_SIZE, off)
		  : pread(dev->fd, page_address(page), PAGE_SIZE, off);
	racy_read_end();
	return n == (ssize_t)PAGE_SIZE ? 0 : -EIO;
}

/* Write-failure injection: countdown to the failing write (0 = off). */
static _Atomic unsigned long swap_fail_nth;
static _Atomic unsigned long swap_fail_hits;

void swap_inject_write_failure(unsigned long nth)
{
	atomic_store(&swap_fail_nth, nth);
}

unsigned long swap_inject_write_hits(void)
{
	return atomic_load(&swap_fail_hits);
}

static bool swap_write_should_fail(void)
{
	unsigned long n = atomic_load_explicit(&swap_fail_nth, memory_order_relaxed);

	while (n) {
		if (atomic_compare_exchange_weak(&swap_fail_nth, &n, n - 1)) {
			if (n != 1)
				return false;
			atomic_fetch_add(&swap_fail_hits, 1);
			return true;
		}
	}
	return false;
}

/*
 * One write request: @n (at most SWAP_PLUG_MAX) pages of @page to the
 * consecutive slots from @slot; for a file device one pwritev(). Traced
 * as an instant "swap_write" (slot=, pages=). Return: 0, or -EIO if any
 * page may not be on the device (a short write too).
 */
static int swap_write_request(unsigned long slot, struct page *const *page, unsigned int n)
{
	struct swap_device *dev = swap_dev;
	struct iovec iov[SWAP_PLUG_MAX];
	ssize_t ret;

	DEBUG_BUG_ON(!n || n > SWAP_PLUG_MAX);
	trace_instant("mm", "swap_write", "slot=%lu pages=%u", slot, n);
	if (dev->mem || n == 1) {
		for (unsigned int i = 0; i < n; i++)
			if (swap_io(slot + i, page[i], true))
				return -EIO;
		return 0;
	}
	for (unsigned int i = 0; i < n; i++) {
		iov[i].iov_base = page_address(page[i]);
		iov[i].iov_len = PAGE_SIZE;
	}
	racy_read_begin(); /* the frames' bytes, as swap_io() */
	ret = pwritev(dev->fd, iov, (int)n, (off_t)slot * (off_t)PAGE_SIZE);
	racy_read_end();
	return ret == (ssize_t)(n * PAGE_SIZE) ? 0 : -EIO;
}

void swap_writepages(const unsigned long *slot, struct page *const *page, unsigned int n, int *err)
{
	unsigned int i, j;

	/* Injected failures first, in page order: the nth write attempted is the nth page. */
	for (i = 0; i < n; i++)
		err[i] = __builtin_expect(swap_write_should_fail(), 0) ? -EIO : 0;
	for (i = 0; i < n; i = j) {
		for (j = i + 1; j < n && !err[i] && !err[j] && slot[j] == slot[j - 1] + 1; j++)
			;
		if (err[i] || !swap_write_request(slot[i], &page[i], j - i))
			continue;
		/* A merged request failed or fell short: which pages made it? Ask each. */
		if (j - i > 1)
			for (unsigned int k = i; k < j; k++)
				err[k] = swap_write_request(slot[k], &page[k], 1);
		else
			err[i] = -EIO;
	}
}

int swap_writepage(unsigned long slot, struct page *page)
{
	int err;

	swap_writepages(&slot, &page, 1, &err);
	return err;
}

int swap_readpage(unsigned long slot, struct page *page)
{
	return swap_io(slot, page, false);
}

struct page *swap_cache_get(unsigned long slot)
{
	struct swap_device *dev = swap_dev;
	struct page *page;

	sm_mutex_lock(&dev->lock);
	page = dev->cache[slot];
	if (page)
		get_page(page);
	sm_mutex_unlock(&dev->lock);
	return page;
}

bool swap_cache_del_and_free(struct page *page, unsigned long slot, bool del, int expected_refs)
{
	struct swap_device *dev = swap_dev;
	struct page *cached;
	bool ok = false;

	sm_mutex_lock(&dev->lock);
	/* Under the lock nobody can find the page in the cache meanwhile. */
	if (del && dev->cache[slot] == page && page_ref_count(page) == expected_refs &&
	    !page_mapcount(page)) {
		dev->cache[slot] = NULL;
		ClearPageFlag(page, PG_swapcache);
		set_page_private(page, 0);
		ok = true;
	}
	cached = __swap_free(dev, slot);
	sm_mutex_unlock(&dev->lock);
	if (ok)
		put_page(page); /* the cache's reference */
	if (cached)
		put_page(cached); /* the swap cache's reference */
	return ok;
}

unsigned int swap_count(unsigned long slot)
{
	struct swap_device *dev = swap_dev;
	unsigned int n;

	if (!dev || slot >= dev->nr_slots)
		return 0;
	sm_mutex_lock(&dev->lock);
	n = dev->map[slot];
	sm_mutex_unlock(&dev->lock);
	return n;
}

long swap_cache_dup(struct page *page)
{
	struct swap_device *dev = swap_dev;
	long slot = -ENOENT;

	if (!dev)
		return -ENOENT;
	DEBUG_BUG_ON(!PageTest(page, PG_locked));
	/*
	 * PG_swapcache is set only by swap_alloc_cached(), whose caller holds
	 * the page lock, as ours does: a page we find without it cannot gain
	 * it meanwhile, and needs no lock to say so (one lock pair per page
	 * paged out for the first time). Set, it may be cleared meanwhile
	 * (swap_free() of the slot's last count): checked again under the lock.
	 */
	if (!PageTest(page, PG_swapcache))
		return -ENOENT;
	sm_mutex_lock(&dev->lock);
	/* Under the lock, so that the slot cannot be freed between the test and the count. */
	if (PageTest(page, PG_swapcache) && page_private(page) < dev->nr_slots &&
	    dev->cache[page_private(page)] == page) {
		slot = (long)page_private(page);
		BUG_ON(!dev->map[slot] || dev->map[slot] == 0xffff);
		dev->map[slot]++;
	}
	sm_mutex_unlock(&dev->lock);
	return slot;
}
