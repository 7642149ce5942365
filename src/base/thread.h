/* SPDX-License-Identifier: MIT */
/*
 * Threads: the one way the library starts a thread.
 *
 * Every thread secmmu starts (a device's DMA engine, an IOMMU fault or
 * page-request worker, a KVM vCPU, an XPMEM remote-node thread, a kernel
 * thread, the explorer's RCU callback thread) is a struct sm_thread created by
 * sm_thread_create() and joined by sm_thread_join(). The thread is named: the
 * name is its trace track ("dma mirror0", "vcpu 1") and its OS thread name.
 *
 * Under interleaving exploration (base/sched_explore.h) a thread created by a
 * controlled thread while a run is active is itself controlled: it starts
 * parked at a "start" point and runs only when the explorer chooses it, and
 * sm_thread_join() is a wait the explorer sees (it blocks until the thread
 * finished). Outside exploration these are pthread_create()/pthread_join().
 */
#ifndef SECMMU_BASE_THREAD_H
#define SECMMU_BASE_THREAD_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#define SM_THREAD_NAME_MAX 32

struct ethread;

/*
 * struct sm_thread - a library thread. Owned by its creator, which must
 * join it before freeing it. @ex is the explorer's slot when the thread was
 * created under a run (NULL otherwise); written before the thread starts.
 */
struct sm_thread {
	pthread_t pt;
	char name[SM_THREAD_NAME_MAX];
	void *(*fn)(void *arg);
	void *arg;
	struct ethread *ex;
	bool started;
};

/**
 * sm_thread_create() - start @fn(@arg) on a new thread named @name
 * @t: storage owned by the caller until sm_thread_join() returned
 * @name: printf-style name (truncated to SM_THREAD_NAME_MAX - 1)
 *
 * May sleep. Return: 0, or the negative errno of pthread_create() (nothing
 * started then).
 */
int sm_thread_create(struct sm_thread *t, void *(*fn)(void *arg), void *arg, const char *name, ...)
	__attribute__((format(printf, 4, 5)));

/**
 * sm_thread_join() - wait until @t returned, release it
 *
 * May sleep; must not be called by @t itself or with a lock @t needs held.
 * Return: the value @t's function returned.
 */
void *sm_thread_join(struct sm_thread *t);

/*
 * Library threads alive that the explorer does not control (started outside
 * a run, e.g. a device created before it). While there are any, "every
 * controlled thread is blocked" is not proof of a deadlock: one of them may
 * still wake a controlled thread.
 */
extern _Atomic int sm_threads_uncontrolled;

/* True when the calling thread is @t. */
bool sm_thread_is_current(const struct sm_thread *t);

#endif /* SECMMU_BASE_THREAD_H */
