// SPDX-License-Identifier: MIT
/*
 * Scenario commands for the SVA IOMMU (include/secmmu/iommu.h): iommu,
 * sva_bind, sva_unbind, dma, prq, pasids, iommu_stat, devfile, devfile_mmap.
 *
 * References: a bond holds mm_count (and, on a wrong-mm-users device, also
 * mm_users) under its device (IOMMU_SVA_BOND_HOLDER_KIND), and all bonds of
 * one mm share the SVA notifier, which holds one more mm_count until it is
 * freed a grace period after the last bond goes. The core's tracker counts
 * them; a device object claims its bonds' references while its PASID table
 * has an entry for the mm, and the notifier's while it does. Bonds come from
 * the script's sva_bind and from device files; a device file's release --
 * in exit_files, in the teardown of a VMA mapping it, in the last mmput --
 * unbinds behind the world's back, and the table shows it at once.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "secmmu/err.h"
#include "secmmu/file.h"
#include "secmmu/iommu.h"
#include "secmmu/mmu_notifier.h"
#include "secmmu/sched.h"
#include "sim/sim.h"

#define SIM_IOMMU_MAX_BINDS 64

struct sim_iommu_bind {
	struct sim_proc *proc;
	unsigned int count; /* the script's binds of this device and process */
};

struct sim_iommu {
	struct sim_obj obj;
	struct iommu_device *dev; /* NULL once destroyed */
	bool wrong_users;	  /* bonds hold mm_users (IOMMU_DEV_WRONG_MM_USERS) */
	struct sim_iommu_bind binds[SIM_IOMMU_MAX_BINDS];
};

struct sim_devfile {
	struct sim_obj obj;
	struct file *file; /* owned by the task's file table; valid while it lives */
	struct sim_proc *proc;
};

static void iommu_teardown(struct sim_world *w, struct sim_obj *obj, enum sim_phase phase)
{
	struct sim_iommu *d = (struct sim_iommu *)obj;

	(void)w;
	if (!d->dev)
		return;
	if (phase == SIM_PHASE_DETACH) {
		for (int i = 0; i < SIM_IOMMU_MAX_BINDS; i++) {
			struct sim_iommu_bind *b = &d->binds[i];

			if (!b->count)
				continue;
			for (; b->count; b->count--)
				iommu_sva_unbind_mm(d->dev, b->proc->mm_id);
			b->proc = NULL;
		}
	} else if (phase == SIM_PHASE_FREE) {
		iommu_device_destroy(d->dev); /* -EBUSY: a leaked bond keeps it */
		d->dev = NULL;
	}
}

static void iommu_check(struct sim_ctx *ctx, struct sim_obj *obj)
{
	struct sim_iommu *d = (struct sim_iommu *)obj;
	struct iommu_stats st;

	if (!d->dev)
		return;
	iommu_dev_stats(d->dev, &st);
	if (st.stale)
		sim_check_report(ctx, "iommu %s: %lu DMA through stale IOTLB entries", obj->name,
				 st.stale);
	if (st.perm_fault_loops)
		sim_check_report(ctx,
				 "iommu %s: %lu DMA faulted for ever on read-only IOTLB entries "
				 "(a permission upgrade never reached the IOTLB)",
				 obj->name, st.perm_fault_loops);
}

static bool iommu_holds_ref(struct sim_obj *obj, struct sim_proc *p, const struct mm_holder *h);

static const struct sim_type iommu_type = {
	.name = "iommu device",
	.teardown = iommu_teardown,
	.check = iommu_check,
	.holds_ref = iommu_holds_ref,
};

static const struct sim_type devfile_type = {
	.name = "device file",
};

/* The PASID table of @dev: a malloc()ed array of *n entries, or NULL. */
static struct iommu_pasid_info *dev_table(struct iommu_device *dev, int *n)
{
	struct iommu_pasid_info *info = NULL;
	int max = 0;

	for (;;) {
		*n = iommu_dev_pasids(dev, info, max);
		if (*n <= max)
			return info;
		free(info);
		max = *n;
		info = calloc((size_t)max, sizeof(*info));
		if (!info) {
			*n = 0;
			return NULL;
		}
	}
}

/* Does @dev's PASID table have an entry for the mm with @mm_id? */
static bool dev_has_bond(struct iommu_device *dev, unsigned long mm_id)
{
	struct iommu_pasid_info *info;
	bool found = false;
	int n;

	info = dev_table(dev, &n);
	for (int i = 0; info && i < n && !found; i++)
		found = info[i].mm_id == mm_id;
	free(info);
	return found;
}

/*
 * A live device claims its bonds' references on @p's mm (owner: the device)
 * and the mm's SVA notifier's (owner: the mm) while its table binds the mm.
 */
static bool iommu_holds_ref(struct sim_obj *obj, struct sim_proc *p, const struct mm_holder *h)
{
	struct sim_iommu *d = (struct sim_iommu *)obj;

	if (!d->dev)
		return false;
	if (!(h->owner == d->dev && sim_holder_kind_is(h, IOMMU_SVA_BOND_HOLDER_KIND)) &&
	    !(h->owner == p->mm && sim_holder_kind_is(h, MMU_NOTIFIER_HOLDER_KIND)))
		return false;
	return dev_has_bond(d->dev, p->mm_id);
}

unsigned int sim_iommu_known_pasids(struct sim_world *w)
{
	static unsigned char seen[IOMMU_PASID_MAX];
	unsigned int n = 0;

	memset(seen, 0, sizeof(seen));
	sim_for_each_obj(w, o)
	{
		struct sim_iommu *d = (struct sim_iommu *)o;
		struct iommu_pasid_info *info;
		int nr;

		if (o->type != &iommu_type || !d->dev)
			continue;
		info = dev_table(d->dev, &nr);
		for (int i = 0; info && i < nr; i++)
			if (info[i].pasid < IOMMU_PASID_MAX && !seen[info[i].pasid]++)
				n++;
		free(info);
	}
	return n;
}

static struct sim_iommu *iommu_lookup(struct sim_ctx *ctx, const char *name, int *err)
{
	struct sim_iommu *d = sim_obj_lookup(ctx, &iommu_type, name);

	*err = d ? (d->dev ? 0 : -ENODEV) : -1;
	return d;
}

static struct sim_iommu_bind *bind_slot(struct sim_iommu *d, struct sim_proc *p, bool create)
{
	struct sim_iommu_bind *free_slot = NULL;

	for (int i = 0; i < SIM_IOMMU_MAX_BINDS; i++) {
		if (d->binds[i].count && d->binds[i].proc == p)
			return &d->binds[i];
		if (!d->binds[i].count && !free_slot)
			free_slot = &d->binds[i];
	}
	return create ? free_slot : NULL;
}

static int cmd_iommu(struct sim_ctx *ctx, int argc, char **argv)
{
	unsigned int flags = 0;
	struct iommu_device *dev;
	struct sim_iommu *d;

	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "wrong-mm-users"))
			flags |= IOMMU_DEV_WRONG_MM_USERS;
		else if (!strcmp(argv[i], "broken"))
			flags |= IOMMU_DEV_BROKEN_INVAL;
		else
			return sim_malformed(
				ctx, "iommu: unknown flag '%s' (known: wrong-mm-users, broken)",
				argv[i]);
	}
	if (sim_world_need_phys(ctx->world))
		return sim_malformed(ctx, "no physical memory");
	d = sim_obj_new(ctx, &iommu_type, argv[1], sizeof(*d));
	if (!d)
		return -1;
	dev = iommu_device_create(argv[1], flags);
	if (IS_ERR(dev)) {
		sim_obj_discard(ctx->world, &d->obj);
		return sim_result_errno(ctx, PTR_ERR(dev));
	}
	d->dev = dev;
	d->wrong_users = flags & IOMMU_DEV_WRONG_MM_USERS;
	return sim_result_errno(ctx, 0);
}

static int cmd_sva_bind(struct sim_ctx *ctx, int argc, char **argv)
{
	struct sim_iommu_bind *slot;
	struct iommu_sva *handle;
	struct sim_proc *p;
	struct mm_struct *mm;
	struct sim_iommu *d;
	int err;

	(void)argc;
	d = iommu_lookup(ctx, argv[1], &err);
	if (err == -1 || !(p = sim_proc_lookup(ctx, argv[2])))
		return -1;
	if (err)
		return sim_result_errno(ctx, err);
	mm = sim_proc_live_mm(p);
	if (!mm)
		return sim_result_errno(ctx, -ESRCH);
	slot = bind_slot(d, p, true);
	if (!slot)
		return sim_malformed(ctx, "sva_bind: more than %d processes bound to %s",
				     SIM_IOMMU_MAX_BINDS, argv[1]);
	handle = iommu_sva_bind_device(d->dev, mm);
	if (IS_ERR(handle))
		return sim_result_errno(ctx, PTR_ERR(handle));
	if (!slot->count++)
		slot->proc = p;
	return sim_result(ctx, "pasid=%u", iommu_sva_get_pasid(handle));
}

static int cmd_sva_unbind(struct sim_ctx *ctx, int argc, char **argv)
{
	struct sim_iommu_bind *slot;
	struct sim_proc *p;
	struct sim_iommu *d;
	int err;

	(void)argc;
	d = iommu_lookup(ctx, argv[1], &err);
	if (err == -1 || !(p = sim_proc_lookup(ctx, argv[2])))
		return -1;
	if (err)
		return sim_result_errno(ctx, err);
	/* Unbinds the script's bind, or else one a device file made. */
	err = iommu_sva_unbind_mm(d->dev, p->mm_id);
	slot = bind_slot(d, p, false);
	if (!err && slot && !--slot->count)
		slot->proc = NULL;
	return sim_result_errno(ctx, err);
}

/* The PASID @d uses for @p, or a negative errno (-ESRCH: not bound). */
static long proc_pasid(struct sim_iommu *d, struct sim_proc *p)
{
	long pasid = iommu_sva_find_pasid(d->dev, p->mm_id);

	return pasid < 0 ? -ESRCH : pasid;
}

struct dma_target {
	struct iommu_device *dev;
	uint32_t pasid;
};

static int dev_dma_read(void *t, unsigned long addr, void *buf, size_t len)
{
	return iommu_dma_read(((struct dma_target *)t)->dev, ((struct dma_target *)t)->pasid, addr,
			      buf, len);
}

static int dev_dma_write(void *t, unsigned long addr, const void *buf, size_t len)
{
	return iommu_dma_write(((struct dma_target *)t)->dev, ((struct dma_target *)t)->pasid, addr,
			       buf, len);
}

static int cmd_dma(struct sim_ctx *ctx, int argc, char **argv)
{
	struct dma_target t = {0};
	struct sim_proc *p;
	struct sim_iommu *d;
	long pasid;
	int err;

	d = iommu_lookup(ctx, argv[1], &err);
	if (err == -1 || !(p = sim_proc_lookup(ctx, argv[2])))
		return -1;
	if (strcmp(argv[3], "read") && strcmp(argv[3], "write"))
		return sim_malformed(ctx, "dma: '%s' is neither read nor write", argv[3]);
	if (argc != 6)
		return sim_malformed(ctx, "usage: dma DEV NAME %s ADDR %s", argv[3],
				     argv[3][0] == 'r' ? "LEN" : "DATA");
	if (!err) {
		pasid = proc_pasid(d, p);
		err = pasid < 0 ? (int)pasid : 0;
		t.dev = d->dev;
		t.pasid = (uint32_t)pasid;
	}
	if (!strcmp(argv[3], "read"))
		return sim_xfer_read(ctx, "dma", argv[4], argv[5], err, dev_dma_read, &t);
	return sim_xfer_write(ctx, argv[4], argv[5], err, dev_dma_write, &t);
}

static int cmd_prq(struct sim_ctx *ctx, int argc, char **argv)
{
	struct sim_proc *p;
	struct sim_iommu *d;
	uint64_t addr;
	bool write;
	long pasid;
	int err;

	(void)argc;
	d = iommu_lookup(ctx, argv[1], &err);
	if (err == -1 || !(p = sim_proc_lookup(ctx, argv[2])) || sim_arg_num(ctx, argv[3], &addr))
		return -1;
	if (!strcmp(argv[4], "read"))
		write = false;
	else if (!strcmp(argv[4], "write"))
		write = true;
	else
		return sim_malformed(ctx, "prq: '%s' is neither read nor write", argv[4]);
	if (err)
		return sim_result_errno(ctx, err);
	pasid = proc_pasid(d, p);
	if (pasid < 0)
		return sim_result_errno(ctx, pasid);
	return sim_result_errno(ctx, iommu_page_request(d->dev, (uint32_t)pasid, addr, write));
}

static int cmd_pasids(struct sim_ctx *ctx, int argc, char **argv)
{
	struct iommu_pasid_info info[64];
	struct sim_iommu *d;
	char buf[1024];
	size_t off = 0;
	int n, err;

	(void)argc;
	d = iommu_lookup(ctx, argv[1], &err);
	if (err == -1)
		return -1;
	if (err)
		return sim_result_errno(ctx, err);
	/* PASIDs die with their notifier, after a grace period: wait for it. */
	mmu_notifier_synchronize();
	n = iommu_dev_pasids(d->dev, info, 64);
	if (n > 64)
		n = 64;
	for (int i = 0; i < n; i++)
		off += (size_t)snprintf(buf + off, sizeof(buf) - off, "%u%s ", info[i].pasid,
					info[i].present ? "" : ":exited");
	snprintf(buf + off, sizeof(buf) - off, "allocated=%u", iommu_pasid_nr_allocated());
	return sim_result(ctx, "%s", buf);
}

static int cmd_iommu_stat(struct sim_ctx *ctx, int argc, char **argv)
{
	struct iommu_stats st;
	struct sim_iommu *d;
	int err;

	(void)argc;
	d = iommu_lookup(ctx, argv[1], &err);
	if (err == -1)
		return -1;
	if (err)
		return sim_result_errno(ctx, err);
	iommu_dev_stats(d->dev, &st);
	return sim_result(ctx, "iotlb=%lu prq=%lu prq_exited=%lu pasid_faults=%lu stale=%lu",
			  st.iotlb_entries, st.page_requests, st.prq_exited, st.pasid_faults,
			  st.stale);
}

static int cmd_devfile(struct sim_ctx *ctx, int argc, char **argv)
{
	struct sim_devfile *f;
	struct sim_proc *p;
	struct sim_iommu *d;
	struct mm_struct *mm;
	struct file *file;
	uint32_t pasid;
	int err;

	(void)argc;
	d = iommu_lookup(ctx, argv[2], &err);
	if (err == -1 || !(p = sim_proc_lookup(ctx, argv[3])))
		return -1;
	if (err)
		return sim_result_errno(ctx, err);
	mm = sim_proc_live_mm(p);
	if (!mm)
		return sim_result_errno(ctx, -ESRCH);
	f = sim_obj_new(ctx, &devfile_type, argv[1], sizeof(*f));
	if (!f)
		return -1;
	file = iommu_sva_devfile_open(d->dev, mm, &pasid);
	if (IS_ERR(file)) {
		sim_obj_discard(ctx->world, &f->obj);
		return sim_result_errno(ctx, PTR_ERR(file));
	}
	err = task_install_file(p->task, file); /* takes over our reference */
	if (err) {
		fput(file);
		sim_obj_discard(ctx->world, &f->obj);
		return sim_result_errno(ctx, err);
	}
	f->file = file;
	f->proc = p;
	return sim_result(ctx, "pasid=%u", pasid);
}

static int cmd_devfile_mmap(struct sim_ctx *ctx, int argc, char **argv)
{
	struct sim_devfile *f = sim_obj_lookup(ctx, &devfile_type, argv[1]);
	struct mm_struct *mm;
	uint64_t addr, len;
	long ret;

	(void)argc;
	if (!f || sim_arg_range(ctx, argv[2], argv[3], &addr, &len))
		return -1;
	/* While the task lives, its file table holds the file. */
	mm = sim_proc_live_mm(f->proc);
	if (!mm)
		return sim_result_errno(ctx, -ESRCH);
	ret = mm_mmap(mm, addr, len, PROT_READ | PROT_WRITE, MAP_SHARED, f->file, 0);
	return sim_result_errno(ctx, ret < 0 ? ret : 0);
}

const struct sim_cmd sim_cmds_iommu[] = {
	{"iommu", 1, 3, cmd_iommu, "iommu DEV [wrong-mm-users] [broken]",
	 "a device behind an SVA IOMMU (PASID table, IOTLB, DMA engine and fault worker "
	 "threads); wrong-mm-users = bonds hold mm_users (seed 002's bug), broken = the IOTLB "
	 "ignores invalidations",
	 "iommu d1"},
	{"sva_bind", 2, 2, cmd_sva_bind, "sva_bind DEV NAME",
	 "bind DEV to NAME's address space -> pasid=N (same device and mm again: same bond)",
	 "sva_bind d1 p1 => pasid=1"},
	{"sva_unbind", 2, 2, cmd_sva_unbind, "sva_unbind DEV NAME",
	 "undo one bind -> ok, -ENOENT when not bound (double unbind)", "sva_unbind d1 p1"},
	{"dma", 5, 5, cmd_dma, "dma DEV NAME read ADDR LEN | dma DEV NAME write ADDR DATA",
	 "DMA in NAME's PASID -> hex / ok, -EFAULT (unresolvable), -ESRCH (PASID not present: "
	 "not bound, or its mm has exited), -EIO (stale IOTLB entry)",
	 "dma d1 p1 read 0x10000000 4"},
	{"prq", 4, 4, cmd_prq, "prq DEV NAME ADDR read|write",
	 "the device sends a page request in NAME's PASID -> ok, -EFAULT, -ESRCH (mm exited: "
	 "mmget_not_zero failed)",
	 "prq d1 p1 0x10000000 write"},
	{"pasids", 1, 1, cmd_pasids, "pasids DEV",
	 "DEV's PASID table (N, or N:exited once release cleared it) and allocated=K, the "
	 "PASIDs allocated system-wide",
	 "pasids d1 => 1 allocated=1"},
	{"iommu_stat", 1, 1, cmd_iommu_stat, "iommu_stat DEV",
	 "iotlb=E prq=P prq_exited=X pasid_faults=F stale=S of the device",
	 "iommu_stat d1 => iotlb=0 prq=0 prq_exited=0 pasid_faults=0 stale=0"},
	{"devfile", 3, 3, cmd_devfile, "devfile F DEV NAME",
	 "NAME opens DEV's device file F (installed in its task): opening binds -> pasid=N, "
	 "the file's release unbinds",
	 "devfile f1 d1 p1 => pasid=1"},
	{"devfile_mmap", 3, 3, cmd_devfile_mmap, "devfile_mmap F ADDR LEN",
	 "mmap the device file into the process that opened it (the VMA holds the file)",
	 "devfile_mmap f1 0x20000000 4K"},
	{NULL},
};
