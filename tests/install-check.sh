#!/usr/bin/env bash
# tests/install-check.sh - `make install` into a temporary prefix, then check
# that it holds the library (versioned, with its soname links), the headers,
# the command, secmmu.pc, the man pages and the bash completion; that
# examples/mirror_buffer.c builds against the installed copy through
# pkg-config and runs; and that every driver of src/drivers/ builds against
# the installed headers (public API + driver kit) only. Uses the default
# build (build/). Exit 0 if so.
set -eu

SRCDIR=$(cd "$(dirname "$0")/.." && pwd)
cd "$SRCDIR"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/secmmu-install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix

make --no-print-directory -s install PREFIX="$prefix" SANITIZE= >"$tmp/install.log" 2>&1 ||
	{ cat "$tmp/install.log"; exit 1; }
for f in bin/secmmu lib/libsecmmu.a lib/libsecmmu.so lib/pkgconfig/secmmu.pc \
	include/secmmu/mm.h include/secmmu/mmu_notifier.h include/secmmu/trace.h \
	share/man/man1/secmmu.1; do
	[ -f "$prefix/$f" ] || { echo "install-check: $f not installed"; exit 1; }
done
version=$(sed -n 's/^#define SECMMU_VERSION_STRING *"\(.*\)"/\1/p' include/secmmu/version.h)
major=${version%%.*}
[ -f "$prefix/lib/libsecmmu.so.$version" ] &&
	[ "$(readlink "$prefix/lib/libsecmmu.so.$major")" = "libsecmmu.so.$version" ] &&
	[ "$(readlink "$prefix/lib/libsecmmu.so")" = "libsecmmu.so.$major" ] ||
	{ echo "install-check: libsecmmu.so.$version and its symlinks not installed"; exit 1; }
export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
[ "$(pkg-config --variable=prefix secmmu)" = "$prefix" ] ||
	{ echo "install-check: secmmu.pc has the wrong prefix"; exit 1; }
# shellcheck disable=SC2046
${CC:-cc} -std=c11 -Wall -Wextra -Werror -o "$tmp/mirror_buffer" examples/mirror_buffer.c \
	$(pkg-config --cflags --libs secmmu)
LD_LIBRARY_PATH=$prefix/lib "$tmp/mirror_buffer" >"$tmp/run.log" 2>&1 ||
	{ cat "$tmp/run.log"; exit 1; }
"$prefix/bin/secmmu" --help | grep -q -- --trace
[ "$("$prefix/bin/secmmu" --version)" = "secmmu $version" ] ||
	{ echo "install-check: secmmu --version is not $version"; exit 1; }
# The program links against the soname, not the unversioned name.
readelf -d "$tmp/mirror_buffer" | grep -q "NEEDED.*\[libsecmmu.so.$major\]" ||
	{ echo "install-check: mirror_buffer does not need libsecmmu.so.$major"; exit 1; }
if command -v man >/dev/null 2>&1; then
	man -l "$prefix/share/man/man1/secmmu.1" 2>/dev/null | grep -q 'EXIT STATUS'
fi
# The driver kit: every driver of src/drivers/ builds against the installed
# headers only (its own directory aside), and links against the installed
# libsecmmu.so with no undefined symbol: the drivers use the public API and
# the kit, nothing of the library's insides.
# Drivers receive invalidations through their ops; the hooks the primary MMU
# calls (secmmu/mmu_notifier_hooks.h) are not theirs to call.
if grep -rl 'secmmu/mmu_notifier_hooks.h' src/drivers; then
	echo "install-check: a driver includes the primary MMU's notifier hooks"; exit 1
fi
# The notifier structs' __core storage is the core's (secmmu/mmu_notifier.h
# poisons the name; tests/header-check.sh holds that): no driver, tool,
# example or benchmark opts out of the poisoning or names it.
if grep -rlE 'SECMMU_NOTIFIER_CORE|__core\b' src/drivers src/sim examples bench tools; then
	echo "install-check: code outside the notifier core names its private storage (__core)"; exit 1
fi
mkdir -p "$tmp/drv/obj"
ln -s "$SRCDIR/src/drivers" "$tmp/drv/drivers"
for c in src/drivers/*/*.c; do
	o=$tmp/drv/obj/$(basename "$(dirname "$c")")-$(basename "$c" .c).o
	${CC:-cc} -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -fPIC -pthread \
		-I"$prefix/include" -I"$tmp/drv" -c "$c" -o "$o" ||
		{ echo "install-check: $c does not build against the installed headers"; exit 1; }
done
${CC:-cc} -shared -o "$tmp/drv/drivers.so" "$tmp"/drv/obj/*.o -L"$prefix/lib" -lsecmmu -pthread \
	-Wl,--no-undefined ||
	{ echo "install-check: the drivers need symbols libsecmmu.so does not export"; exit 1; }

# Bash completion: installed, and it completes subcommands and scenario names.
comp=$prefix/share/bash-completion/completions/secmmu
[ -f "$comp" ] || { echo "install-check: bash completion not installed"; exit 1; }
got=$(bash -c '. "$1"; COMP_WORDS=("$2" scenario run fork-c); COMP_CWORD=3; _secmmu
	echo "${COMPREPLY[*]}"; COMP_WORDS=("$2" ru); COMP_CWORD=1; _secmmu; echo "${COMPREPLY[*]}"' \
	_ "$comp" "$prefix/bin/secmmu")
[ "$got" = "fork-cow
run" ] || { echo "install-check: bash completion gave '$got'"; exit 1; }
if [ -f man/libsecmmu.3 ]; then
	[ -f "$prefix/share/man/man3/libsecmmu.3" ] || { echo "install-check: libsecmmu.3 not installed"; exit 1; }
fi
echo "install-check: ok ($prefix)"
