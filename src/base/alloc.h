/* SPDX-License-Identifier: MIT */
/*
 * base/alloc.h - the library's own view of the driver kit's alloc.h
 * (include/secmmu/kit/alloc.h, installed: out-of-tree drivers use the same
 * primitives).
 *
 * Every allocation of src/mm, src/notifier, src/sched and src/drivers goes
 * through kzalloc()/kcalloc()/krealloc_array(), so that
 * tests/unit/test_faultinject.c can fail each one in turn and check that
 * its path returns an error and leaves nothing behind. Three places call
 * the C library directly, on purpose:
 *
 * - src/base/sched_explore.c (the interleaving explorer) and
 *   src/base/trace.c (the trace recorder) are test and diagnostic
 *   infrastructure that runs *inside* the paths under test (at every lock
 *   and sched point, at every traced event). Counting their allocations in
 *   fault_inject_alloc()'s countdown would make "the Nth allocation of this
 *   path" depend on whether a trace or an exploration is running, and fail
 *   the instrument instead of the code it watches. The explorer BUG()s on
 *   out of memory, the tracer drops the thread's events.
 * - src/sim (the scenario runner) is a client of the library: it uses only
 *   include/secmmu/, as a user's program would, and its own memory (parse
 *   buffers, result strings handed to the caller with free(), world
 *   objects) is not library state. It reports running out as a malformed
 *   line ("out of memory", exit 2). Fault injection of the library under a
 *   script is unaffected: every allocation the script's commands make in
 *   the library is still counted.
 *
 * A direct calloc()/malloc()/realloc()/strdup() anywhere else in src/ is a
 * bug: tests/alloc-check.sh (run by make check) fails on one.
 */
#ifndef SECMMU_BASE_ALLOC_H
#define SECMMU_BASE_ALLOC_H

#include "secmmu/kit/alloc.h"

#endif /* SECMMU_BASE_ALLOC_H */
