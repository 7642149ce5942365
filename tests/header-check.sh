#!/usr/bin/env bash
# tests/header-check.sh - every public header is self-contained and usable
# from C and from C++:
#   * each include/secmmu/*.h compiles alone as C11 (gcc, -Wall -Wextra
#     -Werror -pedantic) and as C++11 and C++17 (g++, same warnings);
#   * all of them together compile with <sys/user.h> included before and
#     after them (libc's PAGE_SHIFT/PAGE_SIZE/PAGE_MASK must not collide);
#   * a C++ program sees every struct with atomic fields at the same size
#     and field offsets as C does, and links against libsecmmu.so.
# Usage: tests/header-check.sh [BUILD_DIR]. Exit 0 if all hold.
set -eu

SRCDIR=$(cd "$(dirname "$0")/.." && pwd)
cd "$SRCDIR"
BUILD_DIR=${1:-build}
CC=${CC:-gcc}
CXX=${CXX:-g++}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/secmmu-headers.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
bad=0
WARN="-Wall -Wextra -Werror"

headers=$(cd include && ls secmmu/*.h secmmu/kit/*.h)
for h in $headers; do
	printf '#include "%s"\n#include "%s"\n' "$h" "$h" >"$tmp/one.c"
	# The driver kit (secmmu/kit/) needs GNU C's statement expressions (its
	# WARN_ON()) and POSIX's pthread_rwlock_t: strict C11 plus the
	# _POSIX_C_SOURCE that `pkg-config --cflags secmmu` gives, as an embedder
	# compiles it.
	case $h in
	secmmu/kit*) cstd="-std=c11 -D_POSIX_C_SOURCE=200809L" ;;
	*) cstd="-std=c11 -pedantic" ;;
	esac
	if ! $CC $cstd $WARN -Iinclude -fsyntax-only "$tmp/one.c" >"$tmp/log" 2>&1; then
		echo "header-check: $h does not compile alone as C ($cstd):"; cat "$tmp/log"; bad=1
	fi
	for std in c++11 c++17; do
		cp "$tmp/one.c" "$tmp/one.cc"
		if ! $CXX -std=$std $WARN -Iinclude -fsyntax-only "$tmp/one.cc" >"$tmp/log" 2>&1; then
			echo "header-check: $h does not compile alone as $std:"; cat "$tmp/log"; bad=1
		fi
	done
done

# Without POSIX, the kit says what is missing (before the unknown type).
printf '#include "secmmu/kit.h"\n' >"$tmp/noposix.c"
if $CC -std=c11 $WARN -Iinclude -fsyntax-only "$tmp/noposix.c" >"$tmp/log" 2>&1 ||
	! grep -q 'needs POSIX.1-2001: compile with `pkg-config --cflags secmmu`' "$tmp/log"; then
	echo "header-check: secmmu/kit.h under strict C11 without POSIX does not say what is missing:"
	cat "$tmp/log"; bad=1
fi

all=$(for h in $headers; do printf '#include "%s"\n' "$h"; done)
for order in before after; do
	{
		[ $order = before ] && echo '#include <sys/user.h>'
		echo "$all"
		[ $order = after ] && echo '#include <sys/user.h>'
		echo 'unsigned long f(unsigned long x) { return x & PAGE_MASK & SECMMU_PAGE_MASK; }'
	} >"$tmp/user.c"
	for lang in c c++; do
		if ! $CC -x $lang $WARN -Iinclude -fsyntax-only "$tmp/user.c" >"$tmp/log" 2>&1; then
			echo "header-check: <sys/user.h> $order the secmmu headers fails as $lang:"
			cat "$tmp/log"; bad=1
		fi
	done
done

# The layout of every struct with atomic fields, as C and as C++ see it.
cat >"$tmp/layout.h" <<'LAYOUT'
/* White-box: the layout of the core-private storage too. */
#define SECMMU_NOTIFIER_CORE
#include <stddef.h>
#include <stdio.h>
#include "secmmu/file.h"
#include "secmmu/mmu_notifier.h"
#include "secmmu/page.h"
#include "secmmu/version.h"
#define L(T, f) printf("%s.%s %zu %zu\n", #T, #f, sizeof(T), offsetof(T, f))
static void layout(void)
{
	L(struct page, _refcount); L(struct page, flags); L(struct page, gen);
	L(struct page, mapping); L(struct page, lru_prev);
	L(struct file, f_count);
	L(struct mmu_notifier, __core.release_state);
	L(struct mmu_interval_notifier, __core.invalidate_seq);
	L(struct mmu_notifier_range, __core.release_gen);
	printf("version %s %s\n", secmmu_version(), SECMMU_VERSION_STRING);
}
LAYOUT
printf '#include "layout.h"\nint main(void) { layout(); return 0; }\n' >"$tmp/layout.c"
cp "$tmp/layout.c" "$tmp/layout.cc"
if $CC -std=c11 $WARN -Iinclude -I"$tmp" -o "$tmp/lc" "$tmp/layout.c" -L"$BUILD_DIR" -lsecmmu \
	>"$tmp/log" 2>&1 &&
	$CXX -std=c++11 $WARN -Iinclude -I"$tmp" -o "$tmp/lcc" "$tmp/layout.cc" -L"$BUILD_DIR" -lsecmmu \
		>>"$tmp/log" 2>&1; then
	LD_LIBRARY_PATH=$BUILD_DIR "$tmp/lc" >"$tmp/c.out"
	LD_LIBRARY_PATH=$BUILD_DIR "$tmp/lcc" >"$tmp/cc.out"
	if ! cmp -s "$tmp/c.out" "$tmp/cc.out"; then
		echo "header-check: C and C++ disagree on layout:"; diff "$tmp/c.out" "$tmp/cc.out"; bad=1
	fi
	read -r _ run hdr < <(grep '^version' "$tmp/c.out")
	[ "$run" = "$hdr" ] || { echo "header-check: secmmu_version() $run != header $hdr"; bad=1; }
else
	echo "header-check: layout programs do not build:"; cat "$tmp/log"; bad=1
fi

# The core-private storage (__core) of the notifier structs: a file that
# names it after including secmmu/mmu_notifier.h does not compile, as C or
# C++, unless it is the core (SECMMU_NOTIFIER_CORE); the structs still embed.
cat >"$tmp/core.c" <<'CORE'
#include "secmmu/mmu_notifier.h"
struct drv { struct mmu_notifier mn; struct mmu_interval_notifier iv; };
unsigned int drv_size(void) { return (unsigned int)sizeof(struct drv); }
#ifdef TOUCH
int drv_peek(struct drv *d) { return (int)d->mn.__core.users; }
#endif
CORE
for lang in c c++; do
	if ! $CC -x $lang $WARN -Iinclude -fsyntax-only "$tmp/core.c" >"$tmp/log" 2>&1; then
		echo "header-check: a driver cannot embed the notifier structs ($lang):"; cat "$tmp/log"; bad=1
	fi
	if $CC -x $lang $WARN -Iinclude -DTOUCH -fsyntax-only "$tmp/core.c" >"$tmp/log" 2>&1; then
		echo "header-check: a driver naming __core compiles ($lang): the core-private storage is not poisoned"
		bad=1
	elif ! grep -q 'poisoned' "$tmp/log"; then
		echo "header-check: naming __core fails, but not as poisoned ($lang):"; cat "$tmp/log"; bad=1
	fi
	if ! $CC -x $lang $WARN -Iinclude -DTOUCH -DSECMMU_NOTIFIER_CORE -fsyntax-only "$tmp/core.c" \
		>"$tmp/log" 2>&1; then
		echo "header-check: the core cannot name __core ($lang):"; cat "$tmp/log"; bad=1
	fi
done

[ $bad -eq 0 ] && echo "header-check: ok ($(echo $headers | wc -w) headers, C11, C++11, C++17)"
exit $bad
