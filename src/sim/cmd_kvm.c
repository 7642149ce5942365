// SPDX-License-Identifier: MIT
/*
 * Scenario commands for KVM-style VMs (include/secmmu/kvm.h):
 * vm, vcpu (read, write, run), sptes, vm_stat, vm_pfncache, vm_memslot, vm_close.
 *
 * Each VM gets one vCPU (a real thread) when it is created; `vcpu V ...`
 * drives it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "secmmu/err.h"
#include "secmmu/kvm.h"
#include "sim/sim.h"

struct sim_vm {
	struct sim_obj obj;
	struct kvm *kvm; /* NULL once closed */
	struct kvm_vcpu *vcpu;
	struct sim_proc *proc; /* the process whose mm the VM holds (the core tracks how) */
};

static void vm_close_kvm(struct sim_vm *v)
{
	if (!v->kvm)
		return;
	kvm_destroy_vm(v->kvm); /* stops the vCPU, drops the mm_count references */
	v->kvm = NULL;
	v->vcpu = NULL;
}

/* An open VM claims every reference its struct kvm holds on its process's mm. */
static bool vm_holds_ref(struct sim_obj *obj, struct sim_proc *p, const struct mm_holder *h)
{
	struct sim_vm *v = (struct sim_vm *)obj;

	return v->kvm && v->proc == p && h->owner == v->kvm;
}

static void vm_teardown(struct sim_world *w, struct sim_obj *obj, enum sim_phase phase)
{
	(void)w;
	if (phase == SIM_PHASE_DETACH)
		vm_close_kvm((struct sim_vm *)obj);
}

static void vm_check(struct sim_ctx *ctx, struct sim_obj *obj)
{
	struct sim_vm *v = (struct sim_vm *)obj;
	struct kvm_stats st;

	if (!v->kvm)
		return;
	kvm_get_stats(v->kvm, &st);
	if (st.stale)
		sim_check_report(ctx, "vm %s: %lu guest accesses through stale sptes", obj->name,
				 st.stale);
	/* The dead-callback detector: called, and never changed anything. */
	if (st.change_pte_calls && !st.change_pte_hits)
		sim_check_report(ctx,
				 "vm %s: change_pte called %lu times and never changed an spte "
				 "(a dead callback)",
				 obj->name, st.change_pte_calls);
	/* Nothing runs between two commands: no invalidation may be in progress. */
	if (kvm_mmu_invalidate_in_progress(v->kvm))
		sim_check_report(ctx,
				 "vm %s: mmu_invalidate_in_progress is %ld with no invalidation "
				 "running (unbalanced start/end)",
				 obj->name, kvm_mmu_invalidate_in_progress(v->kvm));
	if (st.mismatches)
		sim_check_report(ctx, "vm %s: %lu guest reads differed from what it wrote",
				 obj->name, st.mismatches);
}

static const struct sim_type vm_type = {
	.name = "vm",
	.teardown = vm_teardown,
	.check = vm_check,
	.holds_ref = vm_holds_ref,
};

static int cmd_vm(struct sim_ctx *ctx, int argc, char **argv)
{
	struct sim_proc *p = sim_proc_lookup(ctx, argv[2]);
	unsigned int flags = 0;
	struct kvm_vcpu *vcpu;
	struct mm_struct *mm;
	struct sim_vm *v;
	struct kvm *kvm;

	if (!p)
		return -1;
	if (argc == 4) {
		if (!strcmp(argv[3], "pin"))
			flags = KVM_VM_PIN;
		else if (!strcmp(argv[3], "broken"))
			flags = KVM_VM_BROKEN;
		else
			return sim_malformed(ctx, "vm: unknown flag '%s' (known: pin, broken)",
					     argv[3]);
	}
	mm = sim_proc_live_mm(p);
	if (!mm)
		return sim_result_errno(ctx, -ESRCH);
	v = sim_obj_new(ctx, &vm_type, argv[1], sizeof(*v));
	if (!v)
		return -1;
	kvm = kvm_create_vm_named(mm, flags, argv[1]);
	if (IS_ERR(kvm)) {
		sim_obj_discard(ctx->world, &v->obj);
		return sim_result_errno(ctx, PTR_ERR(kvm));
	}
	vcpu = kvm_create_vcpu(kvm);
	if (IS_ERR(vcpu)) {
		kvm_destroy_vm(kvm);
		sim_obj_discard(ctx->world, &v->obj);
		return sim_result_errno(ctx, PTR_ERR(vcpu));
	}
	v->kvm = kvm;
	v->vcpu = vcpu;
	v->proc = p;
	return sim_result_errno(ctx, 0);
}

/* The VM called @name: NULL with *err = -1 (unknown, malformed) or -ENODEV (closed). */
static struct sim_vm *open_vm(struct sim_ctx *ctx, const char *name, int *err)
{
	struct sim_vm *v = sim_obj_lookup(ctx, &vm_type, name);

	*err = 0;
	if (!v) {
		*err = -1;
		return NULL;
	}
	if (!v->kvm) {
		*err = -ENODEV;
		return NULL;
	}
	return v;
}

static int dev_vcpu_read(void *vcpu, unsigned long gpa, void *buf, size_t len)
{
	return kvm_vcpu_read(vcpu, gpa, buf, len);
}

static int dev_vcpu_write(void *vcpu, unsigned long gpa, const void *buf, size_t len)
{
	return kvm_vcpu_write(vcpu, gpa, buf, len);
}

static int vcpu_read(struct sim_ctx *ctx, struct sim_vm *v, int err, char **argv)
{
	return sim_xfer_read(ctx, "vcpu read", argv[3], argv[4], v ? 0 : err, dev_vcpu_read,
			     v ? v->vcpu : NULL);
}

static int vcpu_write(struct sim_ctx *ctx, struct sim_vm *v, int err, char **argv)
{
	return sim_xfer_write(ctx, argv[3], argv[4], v ? 0 : err, dev_vcpu_write,
			      v ? v->vcpu : NULL);
}

#define VCPU_RUN_CHUNK 10000

static int vcpu_run(struct sim_ctx *ctx, struct sim_vm *v, int err, int argc, char **argv)
{
	uint64_t n, seed = 1;

	if (sim_arg_num(ctx, argv[3], &n))
		return -1;
	if (argc == 5) {
		if (strncmp(argv[4], "seed=", 5))
			return sim_malformed(ctx, "vcpu run: expected seed=S, got '%s'", argv[4]);
		if (sim_arg_num(ctx, argv[4] + 5, &seed))
			return -1;
	}
	if (n > 10000000)
		return sim_malformed(ctx, "vcpu run: %s accesses is more than 10000000", argv[3]);
	if (!v)
		return sim_result_errno(ctx, err);
	/*
	 * In chunks, so that a long run shows progress on a terminal (quiet
	 * otherwise); chunk k runs with seed + k, so the result depends only on
	 * N and the seed.
	 */
	for (uint64_t done = 0, k = 0; done < n; k++) {
		uint64_t chunk = n - done < VCPU_RUN_CHUNK ? n - done : VCPU_RUN_CHUNK;

		err = kvm_vcpu_run(v->vcpu, chunk, seed + k);
		if (err)
			return sim_result_errno(ctx, err);
		done += chunk;
		sim_progress_update(done, n);
	}
	return sim_result_errno(ctx, 0);
}

static int cmd_vcpu(struct sim_ctx *ctx, int argc, char **argv)
{
	int err;
	struct sim_vm *v = open_vm(ctx, argv[1], &err);

	if (err == -1)
		return -1;
	if (!strcmp(argv[2], "read")) {
		if (argc != 5)
			return sim_malformed(ctx, "usage: vcpu V read GPA LEN");
		return vcpu_read(ctx, v, err, argv);
	}
	if (!strcmp(argv[2], "write")) {
		if (argc != 5)
			return sim_malformed(ctx, "usage: vcpu V write GPA DATA");
		return vcpu_write(ctx, v, err, argv);
	}
	if (!strcmp(argv[2], "run"))
		return vcpu_run(ctx, v, err, argc, argv);
	return sim_malformed(ctx, "vcpu: unknown operation '%s' (known: read, write, run)",
			     argv[2]);
}

static int cmd_sptes(struct sim_ctx *ctx, int argc, char **argv)
{
	struct sim_vm *v;
	int err;

	(void)argc;
	v = open_vm(ctx, argv[1], &err);
	if (err == -1)
		return -1;
	if (!v)
		return sim_result_errno(ctx, err);
	return sim_result(ctx, "sptes=%lu", kvm_nr_sptes(v->kvm));
}

static int cmd_vm_stat(struct sim_ctx *ctx, int argc, char **argv)
{
	struct kvm_stats st;
	struct sim_vm *v;
	int err;

	(void)argc;
	v = open_vm(ctx, argv[1], &err);
	if (err == -1)
		return -1;
	if (!v)
		return sim_result_errno(ctx, err);
	kvm_get_stats(v->kvm, &st);
	return sim_result(ctx,
			  "sptes=%lu refs=%lu invalidations=%lu change_pte=%lu change_pte_hits=%lu "
			  "stale=%lu mismatches=%lu",
			  st.sptes, st.page_refs, st.invalidations, st.change_pte_calls,
			  st.change_pte_hits, st.stale, st.mismatches);
}

static int cmd_vm_pfncache(struct sim_ctx *ctx, int argc, char **argv)
{
	struct sim_vm *v;
	uint64_t gpa;
	int err;

	(void)argc;
	v = open_vm(ctx, argv[1], &err);
	if (err == -1 || sim_arg_num(ctx, argv[2], &gpa))
		return -1;
	if (!v)
		return sim_result_errno(ctx, err);
	return sim_result_errno(ctx, kvm_pfncache_activate(v->kvm, gpa));
}

static int cmd_vm_memslot(struct sim_ctx *ctx, int argc, char **argv)
{
	uint64_t gpa, len;
	struct sim_vm *v;
	int err;

	(void)argc;
	v = open_vm(ctx, argv[1], &err);
	if (err == -1 || sim_arg_range(ctx, argv[2], argv[3], &gpa, &len))
		return -1;
	if (!v)
		return sim_result_errno(ctx, err);
	return sim_result_errno(ctx, kvm_set_memslot(v->kvm, gpa, len));
}

static int cmd_vm_close(struct sim_ctx *ctx, int argc, char **argv)
{
	struct sim_vm *v = sim_obj_lookup(ctx, &vm_type, argv[1]);

	(void)argc;
	if (!v)
		return -1;
	if (!v->kvm)
		return sim_result_errno(ctx, -ENODEV); /* closed twice */
	vm_close_kvm(v);
	return sim_result_errno(ctx, 0);
}

const struct sim_cmd sim_cmds_kvm[] = {
	{"vm", 2, 3, cmd_vm, "vm V NAME [pin|broken]",
	 "a KVM-style VM on NAME's memory (guest physical = NAME's virtual) with one vCPU; "
	 "default: MMU notifier, no page references; pin = legacy get_user_pages per spte, no "
	 "notifier; broken = ignores invalidations",
	 "vm v1 p1"},
	{"vcpu", 3, 4, cmd_vcpu,
	 "vcpu V read GPA LEN | vcpu V write GPA DATA | vcpu V run N [seed=S]",
	 "guest access through the shadow page table -> hex / ok, -EFAULT, -ESRCH (owner exited), "
	 "-EIO (stale spte, or run: a read differed from what the guest wrote)",
	 "vcpu v1 run 1000 seed=7"},
	{"sptes", 1, 1, cmd_sptes, "sptes V", "installed shadow PTEs of VM V -> sptes=N",
	 "sptes v1 => sptes=3"},
	{"vm_stat", 1, 1, cmd_vm_stat, "vm_stat V",
	 "sptes=N refs=R invalidations=I change_pte=C change_pte_hits=H stale=S mismatches=M",
	 "vm_stat v1"},
	{"vm_pfncache", 2, 2, cmd_vm_pfncache, "vm_pfncache V GPA",
	 "cache the pfn of the guest page at GPA outside the shadow tables (KVM's "
	 "gfn_to_pfn_cache, "
	 "the APIC-access page): guest accesses to it use the cache -> ok, -EINVAL (unaligned), "
	 "-ENODEV (closed)",
	 "vm_pfncache v1 0x10000000"},
	{"vm_memslot", 3, 3, cmd_vm_memslot, "vm_memslot V GPA LEN",
	 "make [GPA, GPA+LEN) VM V's only memslot: sptes outside it are zapped, accesses there "
	 "-EFAULT; waits for running invalidations -> ok, -EINVAL (unaligned, empty), -ENODEV",
	 "vm_memslot v1 0x10000000 64K"},
	{"vm_close", 1, 1, cmd_vm_close, "vm_close V",
	 "destroy the VM: stop its vCPU, zap every spte, drop its page and mm_count references "
	 "(-ENODEV if already closed)",
	 "vm_close v1"},
	{NULL},
};
