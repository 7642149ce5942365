/* SPDX-License-Identifier: MIT */
/*
 * secmmu/compiler.h - what every public header includes first: symbol
 * visibility, C++ linkage, and atomics that both C11 and C++ accept.
 *
 * SECMMU_BEGIN_DECLS / SECMMU_END_DECLS bracket the declarations of every
 * public header. They give them C linkage under C++ and default visibility:
 * the library is built with -fvisibility=hidden, so a function is exported
 * from libsecmmu.so exactly when a public header declares it (a new function
 * in a public header is exported with no further edit; internal functions in
 * src/ stay hidden). tests/abi-check.sh holds that with nm -D.
 *
 * SECMMU_ATOMIC(T) declares an atomic field. C sees _Atomic(T). C++ (which
 * has no _Atomic before C++23's <stdatomic.h>) sees a plain T of the same
 * size and alignment (checked below for every type used), and the inline
 * functions of the public headers access such fields only through
 * secmmu_atomic_*(), which map to the GCC/Clang __atomic builtins in C++ and
 * to <stdatomic.h> in C. C++ code must likewise never touch an atomic field
 * directly: use the accessor functions.
 */
#ifndef SECMMU_COMPILER_H
#define SECMMU_COMPILER_H

#ifdef __cplusplus
#define SECMMU_BEGIN_DECLS                                                                         \
	_Pragma("GCC visibility push(default)") extern "C"                                         \
	{
#define SECMMU_END_DECLS                                                                           \
	}                                                                                          \
	_Pragma("GCC visibility pop")

#define SECMMU_ATOMIC(T)		  T
#define SECMMU_MO_RELAXED		  __ATOMIC_RELAXED
#define SECMMU_MO_ACQUIRE		  __ATOMIC_ACQUIRE
#define SECMMU_MO_RELEASE		  __ATOMIC_RELEASE
#define SECMMU_MO_SEQ_CST		  __ATOMIC_SEQ_CST
#define secmmu_atomic_load(p, mo)	  __atomic_load_n((p), (mo))
#define secmmu_atomic_store(p, v, mo)	  __atomic_store_n((p), (v), (mo))
#define secmmu_atomic_fetch_add(p, v, mo) __atomic_fetch_add((p), (v), (mo))
#define secmmu_atomic_fetch_or(p, v, mo)  __atomic_fetch_or((p), (v), (mo))
#define secmmu_atomic_fetch_and(p, v, mo) __atomic_fetch_and((p), (v), (mo))
#else
#include <stdatomic.h>

#define SECMMU_BEGIN_DECLS _Pragma("GCC visibility push(default)")
#define SECMMU_END_DECLS   _Pragma("GCC visibility pop")

#define SECMMU_ATOMIC(T)		  _Atomic(T)
#define SECMMU_MO_RELAXED		  memory_order_relaxed
#define SECMMU_MO_ACQUIRE		  memory_order_acquire
#define SECMMU_MO_RELEASE		  memory_order_release
#define SECMMU_MO_SEQ_CST		  memory_order_seq_cst
#define secmmu_atomic_load(p, mo)	  atomic_load_explicit((p), (mo))
#define secmmu_atomic_store(p, v, mo)	  atomic_store_explicit((p), (v), (mo))
#define secmmu_atomic_fetch_add(p, v, mo) atomic_fetch_add_explicit((p), (v), (mo))
#define secmmu_atomic_fetch_or(p, v, mo)  atomic_fetch_or_explicit((p), (v), (mo))
#define secmmu_atomic_fetch_and(p, v, mo) atomic_fetch_and_explicit((p), (v), (mo))

/* The C++ view (plain T) has the layout of the C view (_Atomic(T)). */
#define SECMMU_ATOMIC_LAYOUT_OK(T)                                                                 \
	_Static_assert(sizeof(_Atomic(T)) == sizeof(T) && _Alignof(_Atomic(T)) == _Alignof(T),     \
		       "_Atomic(" #T ") differs from " #T " in layout")
SECMMU_ATOMIC_LAYOUT_OK(_Bool);
SECMMU_ATOMIC_LAYOUT_OK(int);
SECMMU_ATOMIC_LAYOUT_OK(long);
SECMMU_ATOMIC_LAYOUT_OK(unsigned int);
SECMMU_ATOMIC_LAYOUT_OK(unsigned long);
#endif

#endif /* SECMMU_COMPILER_H */
