// SPDX-License-Identifier: MIT
/*
 * Scenario commands for the mirroring device (include/secmmu/mirror.h):
 * mirror, mirror_read, mirror_write, mirror_migrate, mirror_exclusive,
 * mirror_snapshot, mirror_stat, mirror_close.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "secmmu/err.h"
#include "secmmu/mirror.h"
#include "sim/sim.h"

/* Device memory a scenario may give one mirror. */
#define MIRROR_DEVMEM_MAX (256UL << 20)

struct sim_mirror {
	struct sim_obj obj;
	struct mirror *dev;    /* NULL once closed */
	struct sim_proc *proc; /* the process whose mm the device holds (the core tracks how) */
	unsigned long pins;    /* mirror_lock()'s, counted in proc->pinned_frames */
};

static void mirror_close_dev(struct sim_mirror *m)
{
	if (!m->dev)
		return;
	mirror_destroy(m->dev); /* drops the notifier's mm_count, unlocks */
	m->dev = NULL;
	m->proc->pinned_frames -= m->pins;
	m->pins = 0;
}

/* An open mirror claims every reference its struct mirror holds on its process's mm. */
static bool mirror_holds_ref(struct sim_obj *obj, struct sim_proc *p, const struct mm_holder *h)
{
	struct sim_mirror *m = (struct sim_mirror *)obj;

	return m->dev && m->proc == p && h->owner == m->dev;
}

static void mirror_teardown(struct sim_world *w, struct sim_obj *obj, enum sim_phase phase)
{
	(void)w;
	if (phase == SIM_PHASE_DETACH)
		mirror_close_dev((struct sim_mirror *)obj);
}

static void mirror_check(struct sim_ctx *ctx, struct sim_obj *obj)
{
	struct sim_mirror *m = (struct sim_mirror *)obj;

	if (m->dev && mirror_nr_stale(m->dev))
		sim_check_report(ctx, "mirror %s: %lu DMA through stale translations", obj->name,
				 mirror_nr_stale(m->dev));
	if (m->dev && mirror_nr_locked_faults(m->dev))
		sim_check_report(ctx,
				 "mirror %s: %lu DMA found a locked page unmapped (a fatal device "
				 "fault)",
				 obj->name, mirror_nr_locked_faults(m->dev));
	if (m->dev && mirror_nr_lost_faults(m->dev))
		sim_check_report(
			ctx,
			"mirror %s: %lu CPU faults could not migrate their page back (it was "
			"busy): enough faulting threads livelock",
			obj->name, mirror_nr_lost_faults(m->dev));
}

static const struct sim_type mirror_type = {
	.name = "mirror device",
	.teardown = mirror_teardown,
	.check = mirror_check,
	.holds_ref = mirror_holds_ref,
};

static struct sim_mirror *mirror_lookup(struct sim_ctx *ctx, const char *name)
{
	return sim_obj_lookup(ctx, &mirror_type, name);
}

static int cmd_mirror(struct sim_ctx *ctx, int argc, char **argv)
{
	struct sim_proc *p = sim_proc_lookup(ctx, argv[2]);
	uint64_t devmem = MIRROR_DEVMEM_DEFAULT * PAGE_SIZE;
	unsigned int flags = 0;
	struct sim_mirror *m;
	struct mm_struct *mm;
	struct mirror *dev;

	if (!p)
		return -1;
	for (int i = 3; i < argc; i++) {
		if (!strcmp(argv[i], "broken")) {
			flags |= MIRROR_BROKEN;
		} else if (!strncmp(argv[i], "devmem=", 7)) {
			if (sim_arg_size(ctx, argv[i] + 7, &devmem))
				return -1;
			if (!devmem || devmem % PAGE_SIZE || devmem > MIRROR_DEVMEM_MAX)
				return sim_malformed(ctx,
						     "mirror: devmem=%s: whole pages, at most 256M",
						     argv[i] + 7);
		} else {
			return sim_malformed(ctx,
					     "mirror: unknown option '%s' (known: broken, "
					     "devmem=SIZE)",
					     argv[i]);
		}
	}
	mm = sim_proc_live_mm(p);
	if (!mm)
		return sim_result_errno(ctx, -ESRCH);
	m = sim_obj_new(ctx, &mirror_type, argv[1], sizeof(*m));
	if (!m)
		return -1;
	dev = mirror_create_named(mm, flags, devmem / PAGE_SIZE, argv[1]);
	if (IS_ERR(dev)) {
		sim_obj_discard(ctx->world, &m->obj);
		return sim_result_errno(ctx, PTR_ERR(dev));
	}
	m->dev = dev;
	m->proc = p;
	return sim_result_errno(ctx, 0);
}

static struct mirror *open_dev(struct sim_ctx *ctx, const char *name, int *err)
{
	struct sim_mirror *m = mirror_lookup(ctx, name);

	*err = 0;
	if (!m) {
		*err = -1;
		return NULL;
	}
	if (!m->dev)
		*err = -ENODEV;
	return m->dev;
}

static int dev_mirror_read(void *dev, unsigned long addr, void *buf, size_t len)
{
	return mirror_read(dev, addr, buf, len);
}

static int dev_mirror_write(void *dev, unsigned long addr, const void *buf, size_t len)
{
	return mirror_write(dev, addr, buf, len);
}

static int cmd_mirror_lock(struct sim_ctx *ctx, int argc, char **argv)
{
	struct sim_mirror *m = sim_obj_lookup(ctx, &mirror_type, argv[1]);
	uint64_t addr, len;
	int ret;

	(void)argc;
	if (!m || sim_arg_range(ctx, argv[2], argv[3], &addr, &len))
		return -1;
	if (!m->dev)
		return sim_result_errno(ctx, -ENODEV);
	ret = mirror_lock(m->dev, addr, len);
	if (!ret) {
		m->pins = mirror_locked_pages(m->dev);
		m->proc->pinned_frames += m->pins;
	}
	return sim_result_errno(ctx, ret);
}

static int cmd_mirror_unlock(struct sim_ctx *ctx, int argc, char **argv)
{
	struct sim_mirror *m = sim_obj_lookup(ctx, &mirror_type, argv[1]);
	int ret;

	(void)argc;
	if (!m)
		return -1;
	if (!m->dev)
		return sim_result_errno(ctx, -ENODEV);
	ret = mirror_unlock(m->dev);
	if (!ret) {
		m->proc->pinned_frames -= m->pins;
		m->pins = 0;
	}
	return sim_result_errno(ctx, ret);
}

static int cmd_mirror_read(struct sim_ctx *ctx, int argc, char **argv)
{
	struct mirror *dev;
	int err;

	(void)argc;
	dev = open_dev(ctx, argv[1], &err);
	if (err == -1)
		return -1;
	return sim_xfer_read(ctx, "mirror_read", argv[2], argv[3], err, dev_mirror_read, dev);
}

static int cmd_mirror_write(struct sim_ctx *ctx, int argc, char **argv)
{
	struct mirror *dev;
	int err;

	(void)argc;
	dev = open_dev(ctx, argv[1], &err);
	if (err == -1)
		return -1;
	return sim_xfer_write(ctx, argv[2], argv[3], err, dev_mirror_write, dev);
}

static int cmd_mirror_stat(struct sim_ctx *ctx, int argc, char **argv)
{
	struct mirror *dev;
	int err;

	(void)argc;
	dev = open_dev(ctx, argv[1], &err);
	if (err == -1)
		return -1;
	if (!dev)
		return sim_result_errno(ctx, err);
	return sim_result(ctx, "entries=%lu invalidations=%lu stale=%lu faults=%lu cpages=%lu",
			  mirror_nr_entries(dev), mirror_nr_invalidations(dev),
			  mirror_nr_stale(dev), mirror_nr_faults(dev), mirror_nr_cpages(dev));
}

static int cmd_mirror_migrate(struct sim_ctx *ctx, int argc, char **argv)
{
	bool to_device = true;
	struct mirror *dev;
	uint64_t addr, len;
	int err;

	dev = open_dev(ctx, argv[1], &err);
	if (err == -1)
		return -1;
	if (sim_arg_range(ctx, argv[2], argv[3], &addr, &len))
		return -1;
	if (argc == 5) {
		if (!strcmp(argv[4], "system"))
			to_device = false;
		else if (strcmp(argv[4], "device"))
			return sim_malformed(
				ctx, "mirror_migrate: '%s' is neither device nor system", argv[4]);
	}
	if (!dev)
		return sim_result_errno(ctx, err);
	return sim_result_errno(ctx, to_device ? mirror_migrate_to_device(dev, addr, len)
					       : mirror_migrate_to_system(dev, addr, len));
}

static int cmd_mirror_exclusive(struct sim_ctx *ctx, int argc, char **argv)
{
	struct mirror *dev;
	uint64_t addr, len;
	int err;

	(void)argc;
	dev = open_dev(ctx, argv[1], &err);
	if (err == -1)
		return -1;
	if (sim_arg_range(ctx, argv[2], argv[3], &addr, &len))
		return -1;
	if (!dev)
		return sim_result_errno(ctx, err);
	return sim_result_errno(ctx, mirror_exclusive(dev, addr, len));
}

/* One letter per page; upper case when the CPU maps it with a huge (order > 0) entry. */
static char snap_letter(const struct mirror_snap *s)
{
	char c;

	if (s->prot == MIRROR_PROT_ERROR)
		return '-';
	if (s->prot & MIRROR_PROT_EXCLUSIVE)
		c = 'e';
	else if ((s->prot & 0xf0) == MIRROR_PROT_DEV_PRIVATE_LOCAL)
		c = s->prot & MIRROR_PROT_WRITE ? 'd' : 'l';
	else if ((s->prot & 0xf0) == MIRROR_PROT_DEV_PRIVATE_REMOTE)
		c = 'o';
	else if (s->prot & MIRROR_PROT_ZERO)
		c = 'z';
	else if (s->prot & MIRROR_PROT_WRITE)
		c = 'w';
	else if (s->prot & MIRROR_PROT_READ)
		c = 'r';
	else
		return '.';
	return s->order ? (char)(c - 'a' + 'A') : c;
}

#define SNAPSHOT_MAX_PAGES 4096

static int cmd_mirror_snapshot(struct sim_ctx *ctx, int argc, char **argv)
{
	struct mirror_snap *snap;
	struct mirror *dev;
	uint64_t addr, len;
	unsigned long n;
	char *text;
	int err;

	(void)argc;
	dev = open_dev(ctx, argv[1], &err);
	if (err == -1)
		return -1;
	if (sim_arg_range(ctx, argv[2], argv[3], &addr, &len))
		return -1;
	if (len / PAGE_SIZE > SNAPSHOT_MAX_PAGES)
		return sim_malformed(ctx, "mirror_snapshot: at most %d pages at once",
				     SNAPSHOT_MAX_PAGES);
	if (!dev)
		return sim_result_errno(ctx, err);
	if (!len || len % PAGE_SIZE || addr % PAGE_SIZE)
		return sim_result_errno(ctx, -EINVAL);
	n = len / PAGE_SIZE;
	snap = calloc(n, sizeof(*snap));
	text = calloc(n + 1, 1);
	if (!snap || !text) {
		free(snap);
		free(text);
		return sim_result_errno(ctx, -ENOMEM);
	}
	err = mirror_snapshot(dev, addr, len, snap);
	if (err) {
		free(snap);
		free(text);
		return sim_result_errno(ctx, err);
	}
	for (unsigned long i = 0; i < n; i++)
		text[i] = snap_letter(&snap[i]);
	free(snap);
	return sim_result_take(ctx, text);
}

static int cmd_mirror_close(struct sim_ctx *ctx, int argc, char **argv)
{
	struct sim_mirror *m = mirror_lookup(ctx, argv[1]);

	(void)argc;
	if (!m)
		return -1;
	if (!m->dev)
		return sim_result_errno(ctx, -ENODEV); /* closed twice */
	mirror_close_dev(m);
	return sim_result_errno(ctx, 0);
}

const struct sim_cmd sim_cmds_mirror[] = {
	{"mirror", 2, 4, cmd_mirror, "mirror D NAME [broken] [devmem=SIZE]",
	 "attach a mirroring device (interval notifier, no pins) with SIZE of device-private "
	 "memory (default 16M) to NAME's address space; broken = a driver that ignores "
	 "invalidations",
	 "mirror d1 p1"},
	{"mirror_lock", 3, 3, cmd_mirror_lock, "mirror_lock D ADDR LEN",
	 "a memory lock (hsa_amd_memory_lock): the range is faulted into D and stays mapped until "
	 "mirror_unlock (pinned); D's DMA there takes no retry fault -> ok, -EINVAL, -EBUSY "
	 "(locked already), -ESRCH, -EFAULT, -ENODEV",
	 "mirror_lock d1 0x10000000 8K"},
	{"mirror_unlock", 1, 1, cmd_mirror_unlock, "mirror_unlock D",
	 "undo mirror_lock: unpin -> ok, -ENOENT (nothing locked), -ENODEV", "mirror_unlock d1"},
	{"mirror_read", 3, 3, cmd_mirror_read, "mirror_read D ADDR LEN",
	 "device DMA read through its own page table -> hex, -EFAULT, -ESRCH (exited), "
	 "-EIO (stale translation)",
	 "mirror_read d1 0x10000000 4"},
	{"mirror_write", 3, 3, cmd_mirror_write, "mirror_write D ADDR DATA",
	 "device DMA write through its own page table", "mirror_write d1 0x10000000 \"dma\""},
	{"mirror_migrate", 3, 4, cmd_mirror_migrate, "mirror_migrate D ADDR LEN [device|system]",
	 "move the range into the device's memory (default) or back -> ok, -ENOENT (some page "
	 "could not move), -ENOMEM (device memory exhausted), -EINVAL",
	 "mirror_migrate d1 0x10000000 8K device"},
	{"mirror_exclusive", 3, 3, cmd_mirror_exclusive, "mirror_exclusive D ADDR LEN",
	 "take exclusive access (make_device_exclusive): the CPU loses access until it touches "
	 "a page -> ok, -EFAULT, -EPERM (read-only), -EBUSY",
	 "mirror_exclusive d1 0x10000000 4K"},
	{"mirror_snapshot", 3, 3, cmd_mirror_snapshot, "mirror_snapshot D ADDR LEN",
	 "what the device sees, one letter per page: - error (no VMA / no read), . none, r read, "
	 "w write, z zero page, d/l in this device's memory (writable/read-only), o in another "
	 "device's (never seen: hmm_range_fault hides it), e exclusive; "
	 "upper case for huge mappings",
	 "mirror_snapshot d1 0x10000000 8K => wd"},
	{"mirror_stat", 1, 1, cmd_mirror_stat, "mirror_stat D",
	 "entries=E invalidations=I stale=S faults=F cpages=C of the device",
	 "mirror_stat d1 => entries=1 invalidations=0 stale=0 faults=1 cpages=1"},
	{"mirror_close", 1, 1, cmd_mirror_close, "mirror_close D",
	 "detach the device (-ENODEV if already closed)", "mirror_close d1"},
	{NULL},
};
