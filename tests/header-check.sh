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
	# The driver kit (secmmu/kit/) is GNU C: its WARN_ON() is a statement expression.
	case $h in secmmu/kit*) cstd="-std=gnu11" ;; *) cstd="-std=c11 -pedantic" ;; esac
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
	L(struct mmu_notifier, release_state);
	L(struct mmu_interval_notifier, invalidate_seq);
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

[ $bad -eq 0 ] && echo "header-check: ok ($(echo $headers | wc -w) headers, C11, C++11, C++17)"
exit $bad
