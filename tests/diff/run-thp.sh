#!/usr/bin/env bash
# Differential test with transparent huge pages: `secmmu run` versus the real
# kernel (THP in `madvise` mode, as on this machine).
#   tests/diff/run-thp.sh BUILD_DIR [SEEDS] [N]
# For each seed 1..SEEDS (default 6) a `difftest gen-thp` scenario of N commands
# (default 150) -- 2 MiB-aligned areas, madvise hugepage|nohugepage|collapse|dontneed,
# partial and whole munmap/mprotect/mremap, fork, COW, and `mem NAME` (rss and
# thp = AnonHugePages / 2 MiB) -- runs through both and the outputs are compared.
# A run the real khugepaged interfered with (difftest exits 4) is retried.
# Skipped (exit 0, with a note) if the kernel has THP disabled.
# Environment: as tests/diff/run.sh.
set -u
if [ $# -lt 1 ]; then
	echo "usage: $0 BUILD_DIR [SEEDS] [N]" >&2
	exit 2
fi
BUILD=$1
SEEDS=${2:-6}
N=${3:-150}
FIRST=${SEED_FIRST:-1}
TMO=${DIFF_TIMEOUT:-60}
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$HERE/difftest.c
DT=$BUILD/difftest
SECMMU=${SECMMU:-$BUILD/secmmu}
OUT=$BUILD/diff-thp
CC=${CC:-gcc}

mode=$(cat /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null)
case "$mode" in
*"[madvise]"* | *"[always]"*) ;;
*)
	echo "diff-thp: THP is not enabled on this kernel ($mode): skipped"
	exit 0
	;;
esac
mkdir -p "$OUT" || exit 2
if [ ! -x "$DT" ] || [ "$SRC" -nt "$DT" ]; then
	$CC -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -g -O2 -o "$DT" "$SRC" || {
		echo "difftest: build failed" >&2
		exit 2
	}
fi
TO=()
command -v timeout >/dev/null 2>&1 && TO=(timeout "$TMO")

for ((s = FIRST; s < FIRST + SEEDS; s++)); do
	scn=$OUT/seed-$s.scn
	"$DT" gen-thp "$s" "$N" >"$scn" || { echo "difftest: gen-thp failed for seed $s" >&2; exit 2; }
	for try in 1 2 3 4 5; do
		"${TO[@]}" "$DT" linux "$scn" >"$OUT/seed-$s.linux" 2>"$OUT/seed-$s.linux.err"
		lrc=$?
		[ $lrc -ne 4 ] && break
	done
	if [ $lrc -eq 4 ]; then
		echo "ok diff-thp-seed-$s (skipped: khugepaged kept interfering)"
		continue
	fi
	if [ $lrc -ne 0 ] && [ $lrc -ne 1 ]; then
		echo "FAIL diff-thp-seed-$s: difftest linux exited $lrc (script $scn)"
		cat "$OUT/seed-$s.linux.err"
		exit 1
	fi
	"${TO[@]}" "$SECMMU" run "$scn" >"$OUT/seed-$s.secmmu" 2>"$OUT/seed-$s.secmmu.err"
	src=$?
	# The closing summary line of `secmmu run` has no Linux counterpart.
	sed -i '${/^[0-9]* commands, [0-9]* expectations, [0-9]* failed$/d}' "$OUT/seed-$s.secmmu"
	if ! cmp -s "$OUT/seed-$s.linux" "$OUT/seed-$s.secmmu"; then
		echo "FAIL diff-thp-seed-$s: outputs differ (script $scn)"
		echo "  replay: $SECMMU run $scn   vs   $DT linux $scn"
		echo "  first differences (< linux, > secmmu):"
		diff "$OUT/seed-$s.linux" "$OUT/seed-$s.secmmu" | head -n 20 | sed 's/^/  /'
		exit 1
	fi
	if [ $src -ne 0 ] && [ $src -ne 1 ]; then
		echo "FAIL diff-thp-seed-$s: secmmu exited $src with identical output (script $scn)"
		head -n 5 "$OUT/seed-$s.secmmu.err"
		exit 1
	fi
	echo "ok diff-thp-seed-$s"
done
exit 0
