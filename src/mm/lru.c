// SPDX-License-Identifier: MIT
/*
 * One LRU list of reclaimable pages (private and shared anonymous), newest at
 * the head. Aging is the second-chance kind: reclaim takes pages from the
 * tail and rotates those that were referenced since the last look.
 *
 * lru_lock (LOCK_RANK_LRU) protects the list and PG_lru. A page on the list
 * holds no reference: a page freed while on it is unlinked by the frame
 * allocator (lru_del_freed), and isolation only succeeds with
 * get_page_unless_zero().
 */
#include "mm/swap_internal.h"
#include "secmmu/swap.h"

static struct page lru_head = {.lru_next = &lru_head, .lru_prev = &lru_head};
static unsigned long lru_count;
static struct sm_mutex lru_lock;
static pthread_once_t lru_once = PTHREAD_ONCE_INIT;

static void lru_init(void)
{
	sm_mutex_init(&lru_lock, "lru_lock", LOCK_RANK_LRU);
}

static void __lru_link_head(struct page *page)
{
	page->lru_next = lru_head.lru_next;
	page->lru_prev = &lru_head;
	lru_head.lru_next->lru_prev = page;
	lru_head.lru_next = page;
	lru_count++;
	SetPageFlag(page, PG_lru);
}

static void __lru_unlink(struct page *page)
{
	page->lru_prev->lru_next = page->lru_next;
	page->lru_next->lru_prev = page->lru_prev;
	page->lru_next = page->lru_prev = NULL;
	lru_count--;
	ClearPageFlag(page, PG_lru);
}

void lru_add(struct page *page)
{
	pthread_once(&lru_once, lru_init);
	sm_mutex_lock(&lru_lock);
	if (!PageTest(page, PG_lru))
		__lru_link_head(page);
	sm_mutex_unlock(&lru_lock);
}

void lru_del_freed(struct page *page)
{
	pthread_once(&lru_once, lru_init);
	sm_mutex_lock(&lru_lock);
	if (PageTest(page, PG_lru))
		__lru_unlink(page);
	sm_mutex_unlock(&lru_lock);
}

struct page *lru_isolate(void)
{
	struct page *page, *found = NULL;

	pthread_once(&lru_once, lru_init);
	sm_mutex_lock(&lru_lock);
	for (page = lru_head.lru_prev; page != &lru_head; page = page->lru_prev) {
		if (get_page_unless_zero(page)) { /* Pairs with put_page() after reclaim. */
			__lru_unlink(page);
			found = page;
			break;
		}
	}
	sm_mutex_unlock(&lru_lock);
	return found;
}

void lru_putback(struct page *page)
{
	lru_add(page);
	put_page(page); /* the isolation reference */
}

unsigned long lru_nr_pages(void)
{
	unsigned long n;

	pthread_once(&lru_once, lru_init);
	sm_mutex_lock(&lru_lock);
	n = lru_count;
	sm_mutex_unlock(&lru_lock);
	return n;
}
