#!/usr/bin/env bash
# tests/abi-check.sh BUILD_DIR - the shared library's ABI hygiene:
#   * BUILD_DIR/libsecmmu.so.VERSION exists, with soname libsecmmu.so.MAJOR
#     (MAJOR and VERSION from include/secmmu/version.h) and the symlinks
#     libsecmmu.so.MAJOR and libsecmmu.so;
#   * it exports only the documented API: no allocator (kzalloc, kfree ...),
#     no sm_ locks, itree_, sim_, lockdep or explorer internals, and every
#     exported function or variable is declared in an include/secmmu/ header;
#   * it exports the entry points an embedding program needs.
# Exit 0 if all hold.
set -eu

SRCDIR=$(cd "$(dirname "$0")/.." && pwd)
cd "$SRCDIR"
BUILD_DIR=${1:-build}
bad=0

version=$(sed -n 's/^#define SECMMU_VERSION_STRING *"\(.*\)"/\1/p' include/secmmu/version.h)
major=$(sed -n 's/^#define SECMMU_VERSION_MAJOR *\([0-9]*\).*/\1/p' include/secmmu/version.h)
so=$BUILD_DIR/libsecmmu.so.$version
[ -f "$so" ] || { echo "abi-check: no $so"; exit 1; }
soname=$(readelf -d "$so" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')
[ "$soname" = "libsecmmu.so.$major" ] || { echo "abi-check: soname '$soname', want libsecmmu.so.$major"; bad=1; }
[ "$(readlink "$BUILD_DIR/libsecmmu.so.$major")" = "libsecmmu.so.$version" ] ||
	{ echo "abi-check: libsecmmu.so.$major is not a link to libsecmmu.so.$version"; bad=1; }
[ "$(readlink "$BUILD_DIR/libsecmmu.so")" = "libsecmmu.so.$major" ] ||
	{ echo "abi-check: libsecmmu.so is not a link to libsecmmu.so.$major"; bad=1; }

# Sanitizer builds export the sanitizer runtime's interceptors: only look at
# our symbols (those not starting with __asan/__ubsan/__tsan/__sanitizer).
syms=$(nm -D --defined-only "$so" | awk '$2 ~ /^[TDBRVW]$/ { print $3 }' |
	grep -Ev '^(__(asan|ubsan|tsan|sanitizer|lsan|odr_asan)|_init$|_fini$|_edata$|_end$|__bss_start$)' | sort)
forbidden=$(grep -E '^(k[mz]alloc|kcalloc|krealloc|kfree|kmemdup|kzalloc_|fault_inject_|sm_|__sm_|itree_|sim_|lockdep|explore_|sched_explore)' <<<"$syms" || true)
if [ -n "$forbidden" ]; then
	echo "abi-check: internal symbols exported from $so:"; sed 's/^/    /' <<<"$forbidden"; bad=1
fi
undeclared=""
for s in $syms; do
	grep -rqw -- "$s" include/secmmu || undeclared="$undeclared $s"
done
if [ -n "$undeclared" ]; then
	echo "abi-check: exported but declared in no include/secmmu/ header:$undeclared"; bad=1
fi
for s in secmmu_version secmmu_run_string secmmu_run_file mmget mmput mmgrab mmdrop \
	mmu_notifier_register mmu_interval_notifier_insert pin_user_pages_remote; do
	grep -qx -- "$s" <<<"$syms" || { echo "abi-check: $s not exported"; bad=1; }
done
[ $bad -eq 0 ] && echo "abi-check: ok ($(wc -l <<<"$syms") symbols, soname $soname)"
exit $bad
