// SPDX-License-Identifier: MIT
/*
 * libFuzzer harness B: a byte-coded sequence of public API calls on up to
 * four address spaces (mmap/munmap/mprotect/madvise/mremap, read/write,
 * fork, exit, pin/unpin, mirror create/read/destroy, migration to its device
 * memory and back, exclusive access, reclaim, KSM, migrate).
 * Each op is 4 bytes: opcode, mm slot, page, count. Oracle: no crash, errno
 * results only, phys_stale_count() == 0, and at the end nothing is left
 * (frames, mm structs, swap slots, pins, kzalloc objects, files).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/rcu.h"
#include "secmmu/err.h"
#include "secmmu/file.h"
#include "secmmu/gup.h"
#include "secmmu/migrate.h"
#include "secmmu/mirror.h"
#include "secmmu/mm.h"
#include "secmmu/page.h"
#include "secmmu/swap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NMM 4
#define B   0x10000000UL

static void check(int cond)
{
	if (!cond)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int inited;
	struct mm_struct *mm[NMM] = {0};
	struct mirror *mir[NMM] = {0};
	struct page *pins[NMM][8];
	long npins[NMM] = {0};
	static unsigned char buf[4 * PAGE_SIZE];
	long live0;

	if (!inited) {
		check(phys_init(2UL << 20) == 0);
		check(swap_on(4UL << 20, NULL) == 0);
		inited = 1;
	}
	live0 = kzalloc_live();
	for (size_t i = 0; i + 4 <= size && i < 400; i += 4) {
		unsigned op = data[i] % 23, s = data[i + 1] % NMM;
		unsigned long a = B + (unsigned long)(data[i + 2] % 32) * PAGE_SIZE;
		unsigned long n = 1 + data[i + 3] % 4, len = n * PAGE_SIZE;

		if (!mm[s] && op != 0)
			continue;
		switch (op) {
		case 0:
			if (!mm[s])
				mm[s] = mm_alloc();
			break;
		case 1:
			mm_mmap(mm[s], a, len,
				data[i + 3] & 0x10 ? PROT_READ : PROT_READ | PROT_WRITE,
				data[i + 3] & 0x20 ? MAP_SHARED : MAP_PRIVATE, NULL, 0);
			break;
		case 2:
			mm_munmap(mm[s], a, len);
			break;
		case 3:
			mm_mprotect(mm[s], a, len,
				    data[i + 3] & 0x10 ? PROT_READ : PROT_READ | PROT_WRITE);
			break;
		case 4:
			mm_madvise(mm[s], a, len, MADV_DONTNEED);
			break;
		case 5:
			mm_madvise(mm[s], a, len, MADV_PAGEOUT);
			break;
		case 6:
			mm_madvise(mm[s], a, len, MADV_MERGEABLE);
			break;
		case 7:
			mm_mremap(mm[s], a, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, B + 0x1000000);
			break;
		case 8:
			memset(buf, data[i + 3], len);
			mm_write(mm[s], a, buf, len);
			break;
		case 9:
			mm_read(mm[s], a, buf, len);
			break;
		case 10: {
			unsigned d = (s + 1) % NMM;
			if (!mm[d]) {
				struct mm_struct *c = dup_mm(mm[s]);
				if (!IS_ERR_OR_NULL(c))
					mm[d] = c;
			}
			break;
		}
		case 11:
			if (mir[s]) {
				mirror_destroy(mir[s]);
				mir[s] = NULL;
			}
			mmput(mm[s]);
			mm[s] = NULL;
			break;
		case 12:
			if (!npins[s]) {
				long r = pin_user_pages_unlocked(mm[s], a, n, FOLL_WRITE, pins[s]);
				check(r < 0 || r == (long)n);
				npins[s] = r > 0 ? r : 0;
			}
			break;
		case 13:
			if (npins[s]) {
				unpin_user_pages(pins[s], npins[s]);
				npins[s] = 0;
			}
			break;
		case 14:
			if (!mir[s]) {
				struct mirror *m = mirror_create(mm[s], 0);
				if (!IS_ERR(m))
					mir[s] = m;
			}
			break;
		case 15:
			if (mir[s])
				check(mirror_read(mir[s], a, buf, len) != -EIO);
			break;
		case 16:
			if (mir[s])
				check(mirror_write(mir[s], a, buf, len) != -EIO);
			break;
		case 17:
			try_to_free_pages(n * 8);
			break;
		case 18:
			ksm_scan_all();
			break;
		case 19:
			migrate_range(mm[s], a, len);
			break;
		case 20:
			if (mir[s])
				mirror_migrate_to_device(mir[s], a, len);
			break;
		case 21:
			if (mir[s])
				mirror_migrate_to_system(mir[s], a, len);
			break;
		case 22:
			if (mir[s])
				mirror_exclusive(mir[s], a, len);
			break;
		}
		check(phys_stale_count() == 0);
	}
	for (int s = 0; s < NMM; s++) {
		if (mir[s])
			mirror_destroy(mir[s]);
		if (mm[s])
			mmput(mm[s]);
		if (npins[s])
			unpin_user_pages(pins[s], npins[s]);
	}
	sm_rcu_barrier();
	check(mm_live_count() == 0);
	check(phys_used_frames() == 0);
	check(swap_slots_used() == 0);
	check(phys_pinned_frames() == 0);
	check(device_pages_used() == 0);
	check(file_live_count() == 0);
	check(kzalloc_live() == live0);
	return 0;
}
