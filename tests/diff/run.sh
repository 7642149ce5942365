#!/usr/bin/env bash
# Differential test: `secmmu run` versus the real Linux kernel.
#   tests/diff/run.sh BUILD_DIR [SEEDS] [N]
# For each mix and each seed 1..SEEDS (default 8) a scenario of N commands
# (default 100) is generated, run through BUILD_DIR/secmmu and through
# `difftest linux`, and the outputs are compared. Scripts and outputs are kept
# under BUILD_DIR/diff/.
# Environment: CC (default gcc), SECMMU (default BUILD_DIR/secmmu),
#              SEED_FIRST (default 1), DIFF_TIMEOUT seconds per run (default 60),
#              DIFF_MIXES (default "basic remap fork shared advice"),
#              DIFF_JOBS seeds run at once (default 1),
#              DIFF_NO_ZERO_PAGE 0|1 (default: from /proc/cmdline, see below).
set -u
if [ $# -lt 1 ]; then
	echo "usage: $0 BUILD_DIR [SEEDS] [N]" >&2
	exit 2
fi
BUILD=$1
SEEDS=${2:-8}
N=${3:-100}
FIRST=${SEED_FIRST:-1}
TMO=${DIFF_TIMEOUT:-60}
MIXES=${DIFF_MIXES:-basic remap fork shared advice}
JOBS=${DIFF_JOBS:-1}
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$HERE/difftest.c
DT=$BUILD/difftest
SECMMU=${SECMMU:-$BUILD/secmmu}
OUT=$BUILD/diff
CC=${CC:-gcc}

# A kernel booted with pvm_no_zero_page=1 maps no zero page: `difftest linux`
# then answers reads of never-written private memory without faulting them in
# (see emulate_zero_read()), so the zero page secmmu shows as `z` is `.` there;
# pagemap results are compared with z read as `.`.
NZP=${DIFF_NO_ZERO_PAGE:-}
if [ -z "$NZP" ]; then
	NZP=0
	grep -qw 'pvm_no_zero_page=1' /proc/cmdline 2>/dev/null && NZP=1
fi
export DIFF_NO_ZERO_PAGE=$NZP

# one_seed SEED MIX: prints "ok diff-MIX-SEED" or a FAIL report; status 0/1/2
one_seed() {
	local s=$1 mix=$2 base scn lrc src
	base=$OUT/$mix-$s
	scn=$base.scn
	"$DT" gen "$s" "$N" "$mix" >"$scn" || { echo "difftest: gen failed for $mix seed $s" >&2; return 2; }
	"${TO[@]}" "$DT" linux "$scn" >"$base.linux" 2>"$base.linux.err"
	lrc=$?
	if [ $lrc -eq 4 ]; then
		# pvm_no_zero_page: the script populates never-written private
		# memory for reading, which this kernel cannot answer as mainline.
		echo "skip diff-$mix-$s: $(head -n 1 "$base.linux.err")"
		return 0
	fi
	if [ $lrc -ne 0 ] && [ $lrc -ne 1 ]; then
		echo "FAIL diff-$mix-$s: difftest linux exited $lrc (script $scn)"
		cat "$base.linux.err"
		return 1
	fi
	"${TO[@]}" "$SECMMU" run "$scn" >"$base.secmmu.raw" 2>"$base.secmmu.err"
	src=$?
	# The closing summary line of `secmmu run` has no Linux counterpart.
	sed -i '${/^[0-9]* commands, [0-9]* expectations, [0-9]* failed$/d}' "$base.secmmu.raw"
	if [ "$NZP" = 1 ]; then
		awk '{ i = index($0, " -> "); if ($0 ~ /^[0-9]+: pagemap / && i) {
			r = substr($0, i + 4); gsub(/z/, ".", r); print substr($0, 1, i + 3) r
		} else print }' "$base.secmmu.raw" >"$base.secmmu"
	else
		cp "$base.secmmu.raw" "$base.secmmu"
	fi
	if ! cmp -s "$base.linux" "$base.secmmu"; then
		echo "FAIL diff-$mix-$s: outputs differ (script $scn)"
		echo "  replay: $SECMMU run $scn   vs   DIFF_NO_ZERO_PAGE=$NZP $DT linux $scn"
		echo "  first differences (< linux, > secmmu):"
		diff "$base.linux" "$base.secmmu" | head -n 20 | sed 's/^/  /'
		[ $src -ne 0 ] && [ $src -ne 1 ] && echo "  (secmmu exited $src)" && head -n 5 "$base.secmmu.err"
		return 1
	fi
	if [ $src -ne 0 ] && [ $src -ne 1 ]; then
		echo "FAIL diff-$mix-$s: secmmu exited $src with identical output (script $scn)"
		head -n 5 "$base.secmmu.err"
		return 1
	fi
	echo "ok diff-$mix-$s"
	return 0
}

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

rc=0
for mix in $MIXES; do
	if [ "$JOBS" -le 1 ]; then
		for ((s = FIRST; s < FIRST + SEEDS; s++)); do
			one_seed "$s" "$mix" || exit 1
		done
		continue
	fi
	# In parallel: JOBS seeds at a time; stop at the first failing batch.
	for ((s = FIRST; s < FIRST + SEEDS; s += JOBS)); do
		pids=()
		for ((j = s; j < s + JOBS && j < FIRST + SEEDS; j++)); do
			one_seed "$j" "$mix" >"$OUT/$mix-$j.result" 2>&1 &
			pids+=($!)
		done
		for pid in "${pids[@]}"; do wait "$pid" || rc=1; done
		for ((j = s; j < s + JOBS && j < FIRST + SEEDS; j++)); do
			cat "$OUT/$mix-$j.result"
		done
		[ $rc -ne 0 ] && exit 1
	done
done
exit $rc
