#!/usr/bin/env bash
# Differential test: `secmmu run` versus the real Linux kernel.
#   tests/diff/run.sh BUILD_DIR [SEEDS] [N]
# For each seed 1..SEEDS (default 40) a scenario of N commands (default 100) is
# generated, run through BUILD_DIR/secmmu and through `difftest linux`, and the
# outputs are compared.  Scripts and outputs are kept under BUILD_DIR/diff/.
# Environment: CC (default gcc), SECMMU (default BUILD_DIR/secmmu),
#              SEED_FIRST (default 1), DIFF_TIMEOUT seconds per run (default 60).
set -u
if [ $# -lt 1 ]; then
	echo "usage: $0 BUILD_DIR [SEEDS] [N]" >&2
	exit 2
fi
BUILD=$1
SEEDS=${2:-40}
N=${3:-100}
FIRST=${SEED_FIRST:-1}
TMO=${DIFF_TIMEOUT:-60}
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$HERE/difftest.c
DT=$BUILD/difftest
SECMMU=${SECMMU:-$BUILD/secmmu}
OUT=$BUILD/diff
CC=${CC:-gcc}

mkdir -p "$OUT" || exit 2
if [ ! -x "$DT" ] || [ "$SRC" -nt "$DT" ]; then
	$CC -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -g -O2 -o "$DT" "$SRC" || {
		echo "difftest: build failed" >&2
		exit 2
	}
fi
if [ ! -x "$SECMMU" ]; then
	echo "difftest: $SECMMU not found (build secmmu first)" >&2
	exit 2
fi
TO=()
command -v timeout >/dev/null 2>&1 && TO=(timeout "$TMO")

for ((s = FIRST; s < FIRST + SEEDS; s++)); do
	scn=$OUT/seed-$s.scn
	"$DT" gen "$s" "$N" >"$scn" || { echo "difftest: gen failed for seed $s" >&2; exit 2; }
	"${TO[@]}" "$DT" linux "$scn" >"$OUT/seed-$s.linux" 2>"$OUT/seed-$s.linux.err"
	lrc=$?
	if [ $lrc -ne 0 ] && [ $lrc -ne 1 ]; then
		echo "FAIL diff-seed-$s: difftest linux exited $lrc (script $scn)"
		cat "$OUT/seed-$s.linux.err"
		exit 1
	fi
	"${TO[@]}" "$SECMMU" run "$scn" >"$OUT/seed-$s.secmmu" 2>"$OUT/seed-$s.secmmu.err"
	src=$?
	if ! cmp -s "$OUT/seed-$s.linux" "$OUT/seed-$s.secmmu"; then
		echo "FAIL diff-seed-$s: outputs differ (script $scn)"
		echo "  replay: $SECMMU run $scn   vs   $DT linux $scn"
		echo "  first differences (< linux, > secmmu):"
		diff "$OUT/seed-$s.linux" "$OUT/seed-$s.secmmu" | head -n 20 | sed 's/^/  /'
		[ $src -ne 0 ] && [ $src -ne 1 ] && echo "  (secmmu exited $src)" && head -n 5 "$OUT/seed-$s.secmmu.err"
		exit 1
	fi
	if [ $src -ne 0 ] && [ $src -ne 1 ]; then
		echo "FAIL diff-seed-$s: secmmu exited $src with identical output (script $scn)"
		head -n 5 "$OUT/seed-$s.secmmu.err"
		exit 1
	fi
	echo "ok diff-seed-$s"
done
exit 0
