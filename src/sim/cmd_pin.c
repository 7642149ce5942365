// SPDX-License-Identifier: MIT
/*
 * Scenario commands for page pinning: pin and unpin, as a driver that pins
 * user memory for DMA (RDMA, VFIO type1) does.
 *
 * A longterm pin counts its pages in the process's pinned_vm and charges
 * them to locked_vm against RLIMIT_MEMLOCK (over the limit: -ENOMEM and
 * nothing stays pinned), as a driver that keeps pages pinned for DMA does; a
 * short-term pin (the pages are used and released right away, like
 * O_DIRECT) is accounted nowhere, as in Linux, where GUP itself accounts
 * nothing and only long-term pinning drivers charge pinned_vm. A pin handle holds mm_count, so it
 * can be unpinned (and uncharged) after the process has exited.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "secmmu/gup.h"
#include "sim/sim.h"

#define PIN_HOLDER_KIND "pin handle"

struct sim_pin {
	struct sim_obj obj;
	struct sim_proc *proc;
	struct mm_struct *mm; /* mm_count held (tracked: this pin, PIN_HOLDER_KIND) while pinned */
	struct page **pages;  /* NULL once unpinned */
	unsigned long npages;
	unsigned long nr_frames; /* of those, not the zero page (carry a pin) */
	bool longterm;
};

static void pin_release(struct sim_pin *pin)
{
	if (!pin->pages)
		return;
	unpin_user_pages(pin->pages, pin->npages);
	free(pin->pages);
	pin->pages = NULL;
	if (pin->longterm) {
		mm_pinned_vm_add(pin->mm, -(long)pin->npages);
		account_locked_vm(pin->mm, pin->npages, false);
	}
	pin->proc->pinned_pages -= pin->npages;
	pin->proc->pinned_frames -= pin->nr_frames;
	if (pin->longterm)
		pin->proc->locked_pages -= pin->npages;
	mmdrop_tracked(pin->mm, pin, PIN_HOLDER_KIND); /* Pairs with mmgrab() in cmd_pin(). */
}

/* While pinned, the handle holds mm_count on its process's mm. */
static bool pin_holds_ref(struct sim_obj *obj, struct sim_proc *p, const struct mm_holder *h)
{
	struct sim_pin *pin = (struct sim_pin *)obj;

	return pin->pages && pin->proc == p && h->owner == pin &&
	       sim_holder_kind_is(h, PIN_HOLDER_KIND);
}

static void pin_teardown(struct sim_world *w, struct sim_obj *obj, enum sim_phase phase)
{
	(void)w;
	if (phase == SIM_PHASE_DETACH)
		pin_release((struct sim_pin *)obj);
}

static const struct sim_type pin_type = {
	.name = "pin",
	.teardown = pin_teardown,
	.holds_ref = pin_holds_ref,
};

static int parse_pin_flags(struct sim_ctx *ctx, int argc, char **argv, unsigned int *flags)
{
	*flags = 0;
	for (int i = 4; i < argc; i++) {
		if (!strcmp(argv[i], "write"))
			*flags |= FOLL_WRITE;
		else if (!strcmp(argv[i], "longterm"))
			*flags |= FOLL_LONGTERM;
		else
			return sim_malformed(ctx, "pin: unknown flag '%s' (write, longterm)",
					     argv[i]);
	}
	return 0;
}

static int cmd_pin(struct sim_ctx *ctx, int argc, char **argv)
{
	struct sim_proc *p = sim_proc_lookup(ctx, argv[1]);
	char name[SIM_NAME_MAX];
	unsigned long handle, npages;
	unsigned int flags;
	struct page **pages;
	struct mm_struct *mm;
	struct sim_pin *pin;
	uint64_t addr, len;
	long ret;

	if (!p || sim_arg_range(ctx, argv[2], argv[3], &addr, &len) ||
	    parse_pin_flags(ctx, argc, argv, &flags))
		return -1;
	mm = sim_proc_live_mm(p);
	if (!mm)
		return sim_result_errno(ctx, -ESRCH);
	if (!len || (addr & (PAGE_SIZE - 1)) || (len & (PAGE_SIZE - 1)))
		return sim_result_errno(ctx, -EINVAL);
	npages = len >> PAGE_SHIFT;
	if (npages > (SIM_MAX_XFER >> PAGE_SHIFT))
		return sim_malformed(ctx, "pin: length %s is more than 256M", argv[3]);
	if ((flags & FOLL_LONGTERM) && account_locked_vm(mm, npages, true))
		return sim_result_errno(ctx, -ENOMEM);
	pages = calloc(npages, sizeof(*pages));
	ret = pages ? pin_user_pages_unlocked(mm, addr, npages, flags, pages) : -ENOMEM;
	if (ret < 0) {
		free(pages);
		if (flags & FOLL_LONGTERM)
			account_locked_vm(mm, npages, false);
		return sim_result_errno(ctx, ret);
	}
	handle = sim_world_next_pin_handle(ctx->world);
	snprintf(name, sizeof(name), "pin.%lu", handle);
	pin = sim_obj_new_internal(ctx, &pin_type, name, sizeof(*pin));
	if (!pin) {
		unpin_user_pages(pages, npages);
		free(pages);
		if (flags & FOLL_LONGTERM)
			account_locked_vm(mm, npages, false);
		return -1;
	}
	mmgrab_tracked(mm, pin, PIN_HOLDER_KIND); /* the handle outlives the process if need be */
	if (flags & FOLL_LONGTERM)
		mm_pinned_vm_add(mm, (long)npages);
	pin->proc = p;
	pin->mm = mm;
	pin->pages = pages;
	pin->npages = npages;
	/* A pin of the zero page takes no pin count (see pin_user_pages()). */
	for (unsigned long i = 0; i < npages; i++)
		pin->nr_frames += !PageTest(pages[i], PG_reserved);
	pin->longterm = flags & FOLL_LONGTERM;
	p->pinned_pages += npages;
	p->pinned_frames += pin->nr_frames;
	if (pin->longterm)
		p->locked_pages += npages;
	return sim_result(ctx, "handle=%lu", handle);
}

static int cmd_unpin(struct sim_ctx *ctx, int argc, char **argv)
{
	char name[SIM_NAME_MAX];
	struct sim_pin *pin;
	uint64_t handle;

	(void)argc;
	if (sim_arg_num(ctx, argv[1], &handle))
		return -1;
	snprintf(name, sizeof(name), "@pin.%llu", (unsigned long long)handle);
	pin = sim_obj_find(ctx->world, &pin_type, name);
	if (!pin || !pin->pages)
		return sim_result_errno(ctx, -ENOENT); /* unknown, or unpinned twice */
	pin_release(pin);
	return sim_result_errno(ctx, 0);
}

/* A device's DMA read through the pinned pages: the bytes at @off of the pin. */
static int pin_dma_read(void *dev, unsigned long off, void *buf, size_t len)
{
	struct sim_pin *pin = dev;

	if (off > pin->npages * PAGE_SIZE || len > pin->npages * PAGE_SIZE - off)
		return -EINVAL;
	while (len) {
		size_t in = PAGE_SIZE - (off & (PAGE_SIZE - 1)), n = len < in ? len : in;

		copy_frame_data(buf,
				(char *)page_address(pin->pages[off >> PAGE_SHIFT]) +
					(off & (PAGE_SIZE - 1)),
				n);
		buf = (char *)buf + n;
		off += n;
		len -= n;
	}
	return 0;
}

static int cmd_pin_read(struct sim_ctx *ctx, int argc, char **argv)
{
	char name[SIM_NAME_MAX];
	struct sim_pin *pin;
	uint64_t handle;

	(void)argc;
	if (sim_arg_num(ctx, argv[1], &handle))
		return -1;
	snprintf(name, sizeof(name), "@pin.%llu", (unsigned long long)handle);
	pin = sim_obj_find(ctx->world, &pin_type, name);
	return sim_xfer_read(ctx, "pin_read", argv[2], argv[3], !pin || !pin->pages ? -ENOENT : 0,
			     pin_dma_read, pin);
}

const struct sim_cmd sim_cmds_pin[] = {
	{"pin", 3, 5, cmd_pin, "pin NAME ADDR LEN [write] [longterm]",
	 "pin_user_pages: -> handle=H (numbered 1, 2, 3 ...); longterm pins are charged to "
	 "locked_vm against the memlock limit (-ENOMEM over it, nothing pinned)",
	 "pin p1 0x10000000 8K write longterm => handle=1"},
	{"unpin", 1, 1, cmd_unpin, "unpin H",
	 "unpin_user_pages of handle H (-ENOENT if unknown or already unpinned)", "unpin 1"},
	{"pin_read", 3, 3, cmd_pin_read, "pin_read H OFFSET LEN",
	 "a device's DMA read through the pages of pin handle H, OFFSET bytes from the start of "
	 "the pinned range -> hex, -ENOENT (unknown or unpinned), -EINVAL (beyond the range)",
	 "pin_read 1 0 3 => 616263"},
	{NULL},
};
