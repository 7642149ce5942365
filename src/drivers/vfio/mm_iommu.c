// SPDX-License-Identifier: MIT
/*
 * The per-mm registry of preregistered memory, after Linux's
 * arch/powerpc/mm/book3s64/iommu_api.c (mm_iommu_get/put/find and the
 * mm->context.iommu_group_mem_list).
 *
 * A region is pinned and charged to locked_vm once per mm, however many
 * containers of that mm register it: its "used" count is the number of
 * containers (or, in the legacy mode, registrations) holding it. The last
 * put unpins the pages and uncharges locked_vm at once, from process context.
 * A container's release that puts the last use of a region other containers
 * still have TCEs into (mm_iommu_put_release) leaves it to the last of those
 * TCEs (mm_iommu_mapped_dec): Linux fails that put (-EBUSY, WARN) and the
 * region stays pinned, with no owner, until the last mmdrop.
 *
 * LOCKING: one global registry mutex, mem_list_lock (LOCK_RANK_LEAF, Linux's
 * mem_list_mutex), protects every mm's list and each region's used/mapped
 * counts. It is taken inside container->lock and NEVER held across a call
 * out (pinning, unpinning, locked_vm accounting all happen outside it), so
 * LEAF is its honest rank.
 *
 * ARCH HOOKS: exit_mmap (last mmput) only observes -- the containers of the
 * mm are still open then and will put their regions when exit_files closes
 * them. destroy_context (last mmdrop) warns about any non-legacy region left,
 * then hands what is left to an RCU callback that unpins and frees it:
 * destroy_context runs under the core's hook-table lock (LOCK_RANK_LEAF), where
 * freeing a frame (phys lock, LOCK_RANK_PHYS) would invert the lock order, and
 * no one can reach the mm's list any more anyway.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "secmmu/kit/alloc.h"
#include "secmmu/kit/debug.h"
#include "secmmu/kit/lock.h"
#include "drivers/vfio/vfio_internal.h"
#include "secmmu/gup.h"
#include "secmmu/mm.h"

/* mm->context.iommu_group_mem_list */
struct mm_iommu_ctx {
	struct list_head regions;
	struct sm_rcu_head rcu;
};

static struct sm_mutex mem_list_lock;
static int mm_iommu_slot = -1;
static int mm_iommu_init_err;
static pthread_once_t mm_iommu_once = PTHREAD_ONCE_INIT;

static _Atomic unsigned long destroy_warnings;
static _Atomic unsigned long exit_mmap_seen;

static void mm_iommu_exit_mmap(struct mm_struct *mm);
static void mm_iommu_destroy_context(struct mm_struct *mm);

static const struct mm_arch_hooks mm_iommu_hooks = {
	.name = "mm_iommu",
	.exit_mmap = mm_iommu_exit_mmap,
	.destroy_context = mm_iommu_destroy_context,
};

static void mm_iommu_do_init(void)
{
	sm_mutex_init(&mem_list_lock, "mm_iommu.mem_list_lock", LOCK_RANK_LEAF);
	mm_iommu_slot = mm_context_slot_alloc();
	if (mm_iommu_slot < 0) {
		mm_iommu_init_err = mm_iommu_slot;
		return;
	}
	mm_iommu_init_err = mm_register_arch_hooks(&mm_iommu_hooks);
}

int mm_iommu_init_once(void)
{
	pthread_once(&mm_iommu_once, mm_iommu_do_init);
	return mm_iommu_init_err;
}

static struct mm_iommu_ctx *mm_iommu_ctx(struct mm_struct *mm)
{
	return mm_iommu_slot < 0 ? NULL : mm_context_get(mm, mm_iommu_slot);
}

/* Unpin every page of @mem (no lock held) and free it. */
static void mm_iommu_do_free(struct mm_iommu_table_group_mem_t *mem)
{
	unpin_user_pages(mem->hpages, mem->entries);
	kfree(mem->hpages);
	kfree(mem);
}

static struct mm_iommu_table_group_mem_t *find_locked(struct mm_iommu_ctx *ctx, unsigned long ua,
						      unsigned long entries, bool *overlap)
{
	struct mm_iommu_table_group_mem_t *mem;
	unsigned long end = ua + (entries << PAGE_SHIFT);

	lockdep_assert_held(&mem_list_lock);
	*overlap = false;
	if (!ctx)
		return NULL;
	list_for_each_entry (mem, &ctx->regions, next) {
		unsigned long mend = mem->ua + (mem->entries << PAGE_SHIFT);

		if (mem->ua == ua && mem->entries == entries)
			return mem;
		if (mem->ua < end && ua < mend)
			*overlap = true;
	}
	return NULL;
}

/**
 * mm_iommu_get_mode() - mm_iommu_get(), creating a @legacy region if new
 *
 * See mm_iommu_get(). Pinning is done without the registry lock; if another
 * caller created the same region meanwhile, ours is undone and theirs gains
 * the use (so a region is pinned and charged once per mm).
 */
long mm_iommu_get_mode(struct mm_struct *mm, unsigned long ua, unsigned long entries, bool legacy,
		       struct mm_iommu_table_group_mem_t **pmem)
{
	struct mm_iommu_table_group_mem_t *mem, *found;
	struct mm_iommu_ctx *ctx, *newctx = NULL;
	bool overlap;
	long ret;

	if (mm_iommu_init_once())
		return -ENOMEM;
	if (!entries || !PAGE_ALIGNED(ua) || entries > (TASK_SIZE >> PAGE_SHIFT))
		return -EINVAL;

	/* Fast path (v4: find first): an existing region gains a use. */
	sm_mutex_lock(&mem_list_lock);
	found = find_locked(mm_iommu_ctx(mm), ua, entries, &overlap);
	if (found) {
		found->used++;		    /* Pairs with mm_iommu_put(). */
		found->put_pending = false; /* revived: a use again */
		*pmem = found;
	}
	sm_mutex_unlock(&mem_list_lock);
	if (found)
		return 0;
	if (overlap)
		return -EINVAL;

	ret = account_locked_vm(mm, entries, true);
	if (ret)
		return ret;
	ret = -ENOMEM;
	mem = kzalloc(sizeof(*mem));
	if (!mem)
		goto err_unaccount;
	mem->hpages = kzalloc(entries * sizeof(*mem->hpages));
	if (!mem->hpages)
		goto err_free_mem;
	/* The slot is only read under the registry lock: allocate on spec. */
	newctx = kzalloc(sizeof(*newctx));
	if (!newctx)
		goto err_free_pages;
	INIT_LIST_HEAD(&newctx->regions);
	/* Pairs with unpin_user_pages() in mm_iommu_do_free(). */
	ret = pin_user_pages_unlocked(mm, ua, entries, FOLL_WRITE | FOLL_LONGTERM, mem->hpages);
	if (ret < 0)
		goto err_free_ctx;
	mem->ua = ua;
	mem->entries = entries;
	mem->used = 1;
	mem->mm = mm;
	mem->legacy = legacy;

	sm_mutex_lock(&mem_list_lock);
	ctx = mm_iommu_ctx(mm);
	if (!ctx) {
		ctx = newctx;
		newctx = NULL;
		mm_context_set(mm, mm_iommu_slot, ctx);
	}
	found = find_locked(ctx, ua, entries, &overlap);
	if (found) {
		found->used++; /* lost a race: share the winner's pins */
		found->put_pending = false;
	} else if (!overlap)
		list_add_tail(&mem->next, &ctx->regions);
	sm_mutex_unlock(&mem_list_lock);
	kfree(newctx);
	if (!found && !overlap) {
		*pmem = mem;
		return 0;
	}
	mm_iommu_do_free(mem);
	account_locked_vm(mm, entries, false);
	if (overlap && !found)
		return -EINVAL;
	*pmem = found;
	return 0;

err_free_ctx:
	kfree(newctx);
err_free_pages:
	kfree(mem->hpages);
err_free_mem:
	kfree(mem);
err_unaccount:
	account_locked_vm(mm, entries, false);
	return ret;
}

long mm_iommu_get(struct mm_struct *mm, unsigned long ua, unsigned long entries,
		  struct mm_iommu_table_group_mem_t **pmem)
{
	return mm_iommu_get_mode(mm, ua, entries, false, pmem);
}

/* The last use and the last TCE are gone: unpin and uncharge now, in process context. */
/* Caller holds the registry lock, which this drops. */
static void mm_iommu_release_locked(struct mm_struct *mm, struct mm_iommu_table_group_mem_t *mem)
{
	lockdep_assert_held(&mem_list_lock);
	mem->used = 0;
	mem->put_pending = false;
	list_del(&mem->next);
	sm_mutex_unlock(&mem_list_lock);
	account_locked_vm(mm, mem->entries, false); /* Pairs with mm_iommu_get_mode(). */
	mm_iommu_do_free(mem);
}

static long __mm_iommu_put(struct mm_struct *mm, struct mm_iommu_table_group_mem_t *mem,
			   bool release)
{
	long ret = 0;

	sm_mutex_lock(&mem_list_lock);
	if (mem->used == 0) {
		ret = -ENOENT;
		goto unlock;
	}
	if (mem->used > 1) {
		mem->used--;
		goto unlock;
	}
	if (mem->mapped && release) {
		/* Another container's TCEs: the last of them frees it. */
		mem->used = 0;
		mem->put_pending = true;
		goto unlock;
	}
	if (mem->mapped) {
		ret = -EBUSY; /* the last use stays */
		goto unlock;
	}
	mm_iommu_release_locked(mm, mem);
	return 0;
unlock:
	sm_mutex_unlock(&mem_list_lock);
	return ret;
}

long mm_iommu_put(struct mm_struct *mm, struct mm_iommu_table_group_mem_t *mem)
{
	return __mm_iommu_put(mm, mem, false);
}

long mm_iommu_put_release(struct mm_struct *mm, struct mm_iommu_table_group_mem_t *mem)
{
	return __mm_iommu_put(mm, mem, true);
}

struct mm_iommu_table_group_mem_t *mm_iommu_find(struct mm_struct *mm, unsigned long ua,
						 unsigned long entries)
{
	struct mm_iommu_table_group_mem_t *mem;
	bool overlap;

	if (mm_iommu_init_once())
		return NULL;
	sm_mutex_lock(&mem_list_lock);
	mem = find_locked(mm_iommu_ctx(mm), ua, entries, &overlap);
	sm_mutex_unlock(&mem_list_lock);
	return mem;
}

struct mm_iommu_table_group_mem_t *mm_iommu_lookup(struct mm_struct *mm, unsigned long ua,
						   unsigned long size)
{
	struct mm_iommu_table_group_mem_t *mem, *ret = NULL;
	struct mm_iommu_ctx *ctx;

	if (mm_iommu_init_once())
		return NULL;
	sm_mutex_lock(&mem_list_lock);
	ctx = mm_iommu_ctx(mm);
	if (ctx) {
		list_for_each_entry (mem, &ctx->regions, next) {
			if (mm_iommu_contains(mem, ua, size)) {
				ret = mem;
				break;
			}
		}
	}
	sm_mutex_unlock(&mem_list_lock);
	return ret;
}

struct mm_iommu_table_group_mem_t *mm_iommu_lookup_mapped_inc(struct mm_struct *mm,
							      unsigned long ua, unsigned long size)
{
	struct mm_iommu_table_group_mem_t *mem, *ret = NULL;
	struct mm_iommu_ctx *ctx;

	if (mm_iommu_init_once())
		return NULL;
	sm_mutex_lock(&mem_list_lock);
	ctx = mm_iommu_ctx(mm);
	if (ctx) {
		list_for_each_entry (mem, &ctx->regions, next) {
			if (mem->used && mm_iommu_contains(mem, ua, size)) {
				mem->mapped++; /* Pairs with mm_iommu_mapped_dec(). */
				ret = mem;
				break;
			}
		}
	}
	sm_mutex_unlock(&mem_list_lock);
	return ret;
}

long mm_iommu_mapped_inc(struct mm_iommu_table_group_mem_t *mem)
{
	long ret = 0;

	sm_mutex_lock(&mem_list_lock);
	if (!mem->used)
		ret = -ENXIO;
	else
		mem->mapped++; /* Pairs with mm_iommu_mapped_dec(). */
	sm_mutex_unlock(&mem_list_lock);
	return ret;
}

void mm_iommu_mapped_dec(struct mm_iommu_table_group_mem_t *mem)
{
	sm_mutex_lock(&mem_list_lock);
	if (!WARN_ON(mem->mapped == 0))
		mem->mapped--;
	/* The last TCE of a region whose last use went meanwhile (mm_iommu_put_release). */
	if (!mem->mapped && mem->put_pending) {
		mm_iommu_release_locked(mem->mm, mem);
		return;
	}
	sm_mutex_unlock(&mem_list_lock);
}

unsigned long mm_iommu_nr_regions(struct mm_struct *mm)
{
	struct mm_iommu_table_group_mem_t *mem;
	struct mm_iommu_ctx *ctx;
	unsigned long n = 0;

	if (mm_iommu_init_once())
		return 0;
	sm_mutex_lock(&mem_list_lock);
	ctx = mm_iommu_ctx(mm);
	if (ctx)
		list_for_each_entry (mem, &ctx->regions, next)
			n++;
	sm_mutex_unlock(&mem_list_lock);
	return n;
}

unsigned long mm_iommu_pinned_pages(struct mm_struct *mm)
{
	struct mm_iommu_table_group_mem_t *mem;
	struct mm_iommu_ctx *ctx;
	unsigned long n = 0;

	/* No registry yet (no container ever opened): nothing pinned, nothing to set up. */
	if (mm_iommu_slot < 0 || mm_iommu_init_once())
		return 0;
	sm_mutex_lock(&mem_list_lock);
	ctx = mm_iommu_ctx(mm);
	if (ctx)
		list_for_each_entry (mem, &ctx->regions, next)
			n += mem->entries;
	sm_mutex_unlock(&mem_list_lock);
	return n;
}

/*
 * arch_exit_mmap: the last mmput(). v1 (seed 000) put every region here. In
 * the merged design the containers are still open at this point -- exit_mm()
 * runs before exit_files() -- and they put their regions a moment later, so
 * this only counts what is still registered. May sleep; no lock held.
 */
static void mm_iommu_exit_mmap(struct mm_struct *mm)
{
	unsigned long n = mm_iommu_nr_regions(mm);

	atomic_fetch_add(&exit_mmap_seen, n);
}

static void mm_iommu_free_ctx_rcu(struct sm_rcu_head *head)
{
	struct mm_iommu_ctx *ctx = container_of(head, struct mm_iommu_ctx, rcu);
	struct mm_iommu_table_group_mem_t *mem, *tmp;

	list_for_each_entry_safe (mem, tmp, &ctx->regions, next) {
		list_del(&mem->next);
		mm_iommu_do_free(mem); /* the mm is gone: nothing to uncharge */
	}
	kfree(ctx);
}

/*
 * destroy_context: the last mmdrop(). No container holds the mm (each holds
 * mm_count while bound), so nobody else can reach its list and no lock is
 * needed -- and none may be taken: the core calls this under its hook-table
 * lock (LOCK_RANK_LEAF). Seed 001 v7: only a sanity check. A non-legacy region
 * left here is a put that failed; it is WARNed about and counted, then freed
 * from an RCU callback (where frames may be freed) rather than leaked.
 */
static void mm_iommu_destroy_context(struct mm_struct *mm)
{
	struct mm_iommu_ctx *ctx = mm_iommu_ctx(mm);
	struct mm_iommu_table_group_mem_t *mem;

	if (!ctx)
		return;
	mm_context_set(mm, mm_iommu_slot, NULL);
	list_for_each_entry (mem, &ctx->regions, next) {
		if (!mem->legacy) {
			WARN_ON(!mem->legacy); /* WARN_ON_ONCE(!list_empty(...)) upstream */
			atomic_fetch_add(&destroy_warnings, 1);
		}
	}
	sm_call_rcu(&ctx->rcu, mm_iommu_free_ctx_rcu);
}

unsigned long vfio_destroy_context_warnings(void)
{
	return atomic_load(&destroy_warnings);
}

unsigned long vfio_exit_mmap_regions_seen(void)
{
	return atomic_load(&exit_mmap_seen);
}
