/* SPDX-License-Identifier: MIT */
/*
 * testutil.h - helpers shared by the mm / task unit and stress tests.
 *
 *   MM_TEST_SETUP();        physical memory (16 MiB) plus a teardown that
 *                           checks nothing leaked: no mm struct, no frame, no
 *                           file, no kzalloc'ed object.
 *   fill_pattern(buf, seed) / check_pattern(buf, seed)
 *                           a page-sized, position-dependent pattern
 *   map_anon(mm, addr, npages, prot, shared)
 *                           MAP_FIXED anonymous mmap that must succeed
 */
#ifndef SECMMU_TESTS_TESTUTIL_H
#define SECMMU_TESTS_TESTUTIL_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include "base/alloc.h"
#include "base/rcu.h"
#include "harness.h"
#include "secmmu/err.h"
#include "secmmu/file.h"
#include "secmmu/mm.h"
#include "secmmu/page.h"

#define TEST_PHYS_BYTES (16UL << 20)

/* A convenient, well-aligned base for test mappings. */
#define TBASE 0x10000000UL
#define PG(n) ((unsigned long)(n)*PAGE_SIZE)

static inline void testutil_check_leaks(void)
{
	sm_rcu_barrier();
	ASSERT_UEQ(mm_live_count(), 0);
	ASSERT_UEQ(phys_used_frames(), 0);
	ASSERT_EQ(file_live_count(), 0);
	/* Physical memory's own arrays come from kzalloc too: go first. */
	ASSERT_UEQ(phys_exit(), 0);
	ASSERT_EQ(kzalloc_live(), 0);
}

#define MM_TEST_SETUP_BYTES(bytes)                                                                 \
	do {                                                                                       \
		ASSERT_EQ(phys_init(bytes), 0);                                                    \
		harness_set_teardown(testutil_check_leaks);                                        \
	} while (0)

#define MM_TEST_SETUP() MM_TEST_SETUP_BYTES(TEST_PHYS_BYTES)

/* The byte at offset @i of a page filled with pattern @seed. */
static inline uint8_t pattern_byte(unsigned long seed, size_t i)
{
	uint64_t x = seed * 0x9e3779b97f4a7c15ull + i * 0xbf58476d1ce4e5b9ull;

	x ^= x >> 29;
	return (uint8_t)(x ^ (x >> 8) ^ 0x5a);
}

static inline void fill_pattern(void *buf, size_t len, unsigned long seed)
{
	uint8_t *p = buf;

	for (size_t i = 0; i < len; i++)
		p[i] = pattern_byte(seed, i);
}

/* Offset of the first mismatch, or (size_t)-1. */
static inline size_t pattern_diff(const void *buf, size_t len, unsigned long seed)
{
	const uint8_t *p = buf;

	for (size_t i = 0; i < len; i++)
		if (p[i] != pattern_byte(seed, i))
			return i;
	return (size_t)-1;
}

#define ASSERT_PATTERN(buf, len, seed)                                                             \
	do {                                                                                       \
		size_t tu_off_ = pattern_diff((buf), (len), (seed));                               \
		if (tu_off_ != (size_t)-1)                                                         \
			FAIL("pattern %lu mismatch at offset %zu", (unsigned long)(seed),          \
			     tu_off_);                                                             \
	} while (0)

static inline bool mem_is_byte(const void *buf, size_t len, uint8_t b)
{
	const uint8_t *p = buf;

	for (size_t i = 0; i < len; i++)
		if (p[i] != b)
			return false;
	return true;
}

/* Write the pattern @seed over @npages pages at @addr of @mm (must succeed). */
static inline void write_pages(struct mm_struct *mm, unsigned long addr, unsigned long npages,
			       unsigned long seed)
{
	static uint8_t buf[PAGE_SIZE];

	for (unsigned long i = 0; i < npages; i++) {
		fill_pattern(buf, PAGE_SIZE, seed + i);
		ASSERT_EQ(mm_write(mm, addr + PG(i), buf, PAGE_SIZE), 0);
	}
}

static inline void check_pages(struct mm_struct *mm, unsigned long addr, unsigned long npages,
			       unsigned long seed)
{
	static uint8_t buf[PAGE_SIZE];

	for (unsigned long i = 0; i < npages; i++) {
		ASSERT_EQ(mm_read(mm, addr + PG(i), buf, PAGE_SIZE), 0);
		ASSERT_PATTERN(buf, PAGE_SIZE, seed + i);
	}
}

static inline bool page_reads_zero(struct mm_struct *mm, unsigned long addr)
{
	static uint8_t buf[PAGE_SIZE];

	ASSERT_EQ(mm_read(mm, addr, buf, PAGE_SIZE), 0);
	return mem_is_byte(buf, PAGE_SIZE, 0);
}

static inline void map_anon(struct mm_struct *mm, unsigned long addr, unsigned long npages,
			    int prot, bool shared)
{
	long r = mm_mmap(mm, addr, PG(npages), prot, shared ? MAP_SHARED : MAP_PRIVATE, NULL, 0);

	ASSERT_EQ(r, (long)addr);
}

#define PROT_RW (PROT_READ | PROT_WRITE)

/* A new mm with @npages of anonymous memory mapped at TBASE (must succeed). */
static inline struct mm_struct *mm_new_mapped(unsigned long npages, int prot, bool shared)
{
	struct mm_struct *mm = mm_alloc();

	ASSERT_NOT_NULL(mm);
	map_anon(mm, TBASE, npages, prot, shared);
	return mm;
}

#endif /* SECMMU_TESTS_TESTUTIL_H */
