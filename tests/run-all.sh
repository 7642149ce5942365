#!/usr/bin/env bash
# tests/run-all.sh BUILD_DIR - run every test of one build variant.
#
# Runs, in order:
#   BUILD_DIR/tests/unit/* and BUILD_DIR/tests/stress/*   (harness binaries: one case per TEST)
#   tests/scenarios/*.scn via BUILD_DIR/secmmu run FILE    (exit 0, or N if the first line
#                                                           contains "# expect-exit: N";
#                                                           a library WARNING or BUG on
#                                                           stderr fails it)
#   tests/fuzz/corpus/fuzz_scenario/*.scn, the same way    (the scenario fuzzer's seeds:
#                                                           their expectations must hold too;
#                                                           a WARNING only where the seed's
#                                                           header says "# expect-warning")
#   tests/diff/run.sh BUILD_DIR                            (if present; one case)
#   tests/diff/run-thp.sh BUILD_DIR                        (THP against the kernel; one case)
#   BUILD_DIR/examples/*                                   (exit 0; one case each)
#   tests/install-check.sh                                 (BUILD_DIR=build only; one case)
#   BUILD_DIR/secmmu demo, BUILD_DIR/secmmu scenario run --all   (if supported)
#   tests/abi-check.sh, tests/alloc-check.sh, tests/cli-check.sh, tests/trace-check.py BUILD_DIR
#                                                           (one case each)
#   tests/header-check.sh BUILD_DIR                        (BUILD_DIR=build only)
#   scripts/doc-examples BUILD_DIR                         (BUILD_DIR=build only)
#   BUILD_DIR/secmmu explore FILE for every scenarios/*.scn with a threads block
#   (EXPLORE_CHECK_RUNS runs, default 30, from seed EXPLORE_CHECK_SEED), and
#   tests/explore/run.sh (racy scenarios found and replayed identically), and
#   scripts/museum.sh on the exhibits of MUSEUM_CHECK_ONLY (a few quick ones) with
#   MUSEUM_CHECK_RUNS (default 20) clean runs each
# Prints "ok NAME" / "FAIL NAME" (plus the failing output) per case and ends with
# "N passed, N failed".  Exit 1 if anything failed.
#
# TAP=1 (make check TAP=1): the same as TAP version 14 instead: "ok N - NAME" /
# "not ok N - NAME", the output of failures as "# " comments, the plan "1..N"
# at the end, and "# N passed, N failed" as the closing line.
#
# Environment: TEST_TIMEOUT (per harness test, seconds), RUN_TIMEOUT (per
# scenario/example/demo command, seconds, default 300), DIFF_RUN_TIMEOUT (the
# whole tests/diff/run.sh, default 3600), EXPLORE_RUN_TIMEOUT (tests/explore/run.sh
# and the short museum pass, each bounded by runs, default 1200).
set -u

BUILD_DIR=${1:-build}
BUILD_DIR=${BUILD_DIR%/}
RUN_TIMEOUT=${RUN_TIMEOUT:-300}
SRCDIR=$(cd "$(dirname "$0")/.." && pwd)
cd "$SRCDIR" || exit 2

passed=0
failed=0
TAP=${TAP:-}
[ -n "$TAP" ] && [ "$TAP" != 0 ] || TAP=
[ -n "$TAP" ] && echo "TAP version 14"

pass() {
	passed=$((passed + 1))
	if [ -n "$TAP" ]; then
		echo "ok $((passed + failed)) - $1"
	else
		echo "ok $1"
	fi
}

fail() {
	failed=$((failed + 1))
	if [ -n "$TAP" ]; then
		echo "not ok $((passed + failed)) - $1"
	else
		echo "FAIL $1"
	fi
	if [ -n "${2:-}" ]; then
		printf '%s\n' "$2" | tail -n 200 | note
	fi
}

# note: indent stdin as detail lines ("# " comments under TAP).
note() {
	if [ -n "$TAP" ]; then
		sed 's/^/# /'
	else
		sed 's/^/    /'
	fi
}

# run_cmd NAME EXPECTED_STATUS CMD...: one test case.
run_cmd() {
	local name=$1 want=$2 out st tmo=${RUN_CMD_TIMEOUT:-$RUN_TIMEOUT}
	shift 2
	out=$(timeout -k 5 "$tmo" "$@" 2>&1 </dev/null)
	st=$?
	if [ "$st" -eq "$want" ] && [ -n "${RUN_CMD_NO_WARN:-}" ] &&
		grep -qE '^secmmu: (WARNING|BUG) at ' <<<"$out"; then
		fail "$name (a library WARNING or BUG)" "$out"
	elif [ "$st" -eq "$want" ]; then
		pass "$name"
	elif [ "$st" -eq 124 ]; then
		fail "$name (timeout after ${tmo}s)" "$out"
	else
		fail "$name (exit status $st, expected $want)" "$out"
	fi
}

# Harness test binaries: parse their "ok NAME" / "not ok NAME (why)" lines.
run_harness_binary() {
	local bin=$1 rel out st line seen=0 bad=0
	rel=${bin#"$BUILD_DIR"/tests/}
	out=$("$bin" 2>&1 </dev/null)
	st=$?
	while IFS= read -r line; do
		case $line in
		"ok "*)
			pass "$rel:${line#ok }"
			seen=$((seen + 1))
			;;
		"not ok "*)
			fail "$rel:${line#not ok }"
			seen=$((seen + 1))
			bad=$((bad + 1))
			;;
		"# "* | "#")
			line=${line#\#}
			echo "${line# }" | note
			;;
		[0-9]*" passed, "[0-9]*" failed")
			;;
		*)
			echo "$line" | note
			;;
		esac
	done <<<"$out"
	if [ "$seen" -eq 0 ] && [ "$st" -eq 0 ]; then
		: # a binary with no tests
	elif [ "$st" -ne 0 ] && [ "$bad" -eq 0 ]; then
		fail "$rel (exit status $st)" ""
	fi
}

shopt -s nullglob

for dir in unit stress; do
	for bin in "$BUILD_DIR"/tests/$dir/*; do
		[ -f "$bin" ] && [ -x "$bin" ] || continue
		run_harness_binary "$bin"
	done
done

SECMMU=$BUILD_DIR/secmmu
have_secmmu=0
[ -x "$SECMMU" ] && have_secmmu=1

scns=(tests/scenarios/*.scn tests/fuzz/corpus/fuzz_scenario/*.scn)
if [ "${#scns[@]}" -gt 0 ]; then
	if [ "$have_secmmu" -eq 0 ]; then
		for scn in "${scns[@]}"; do
			fail "$scn (no $SECMMU)" ""
		done
	else
		for scn in "${scns[@]}"; do
			want=0
			first=$(head -n 1 "$scn")
			if [[ $first =~ \#[[:space:]]*expect-exit:[[:space:]]*([0-9]+) ]]; then
				want=${BASH_REMATCH[1]}
			fi
			nowarn=1
			if [[ $scn == tests/fuzz/* ]] && grep -q '^# expect-warning' "$scn"; then
				nowarn= # a seed that shows a legacy driver's warning on purpose
			fi
			RUN_CMD_NO_WARN=$nowarn run_cmd "$scn" "$want" "$SECMMU" run "$scn"
		done
	fi
fi

if [ -f tests/diff/run.sh ]; then
	RUN_CMD_TIMEOUT=${DIFF_RUN_TIMEOUT:-3600} run_cmd "tests/diff/run.sh" 0 bash tests/diff/run.sh "$BUILD_DIR"
fi
if [ -f tests/diff/run-thp.sh ]; then
	RUN_CMD_TIMEOUT=${DIFF_RUN_TIMEOUT:-3600} run_cmd "tests/diff/run-thp.sh" 0 bash tests/diff/run-thp.sh "$BUILD_DIR"
fi

for ex in "$BUILD_DIR"/examples/*; do
	[ -f "$ex" ] && [ -x "$ex" ] || continue
	run_cmd "examples/${ex##*/}" 0 "$ex"
done

# make install into a temporary prefix, and an example built against it (default build only).
if [ "$BUILD_DIR" = build ] && [ -f tests/install-check.sh ]; then
	run_cmd "tests/install-check.sh" 0 bash tests/install-check.sh
fi

# ABI hygiene of the shared library, the conventions of the command line,
# and (default build only) every public header alone as C and C++.
[ -f tests/abi-check.sh ] && run_cmd "tests/abi-check.sh" 0 bash tests/abi-check.sh "$BUILD_DIR"
# Every allocation of the library through the injectable allocator (src/base/alloc.h).
[ -f tests/alloc-check.sh ] && run_cmd "tests/alloc-check.sh" 0 bash tests/alloc-check.sh
[ -f tests/cli-check.sh ] && [ "$have_secmmu" -eq 1 ] &&
	run_cmd "tests/cli-check.sh" 0 bash tests/cli-check.sh "$BUILD_DIR"
[ -f tests/trace-check.py ] && [ "$have_secmmu" -eq 1 ] &&
	run_cmd "tests/trace-check.py" 0 python3 tests/trace-check.py "$BUILD_DIR"
if [ "$BUILD_DIR" = build ] && [ -f tests/header-check.sh ]; then
	run_cmd "tests/header-check.sh" 0 bash tests/header-check.sh "$BUILD_DIR"
fi
# The examples of README.md, docs/*.md and man/* (default build only).
if [ "$BUILD_DIR" = build ] && [ -f scripts/doc-examples ] && [ "$have_secmmu" -eq 1 ]; then
	run_cmd "scripts/doc-examples" 0 python3 scripts/doc-examples "$BUILD_DIR"
fi

if [ "$have_secmmu" -eq 1 ]; then
	# Run a subcommand only if the command knows it (its usage/help mentions it).
	help=$(timeout -k 2 10 "$SECMMU" --help 2>&1 </dev/null
		timeout -k 2 10 "$SECMMU" 2>&1 </dev/null)
	if grep -qw demo <<<"$help"; then
		run_cmd "secmmu demo" 0 "$SECMMU" demo
	fi
	if grep -qw scenario <<<"$help"; then
		run_cmd "secmmu scenario run --all" 0 "$SECMMU" scenario run --all
	fi
	# Every scenario with a threads block explores clean; the racy ones of
	# tests/explore are found and replay byte for byte.
	if grep -qw explore <<<"$help"; then
		for scn in scenarios/*.scn; do
			grep -q '^threads' "$scn" || continue
			run_cmd "secmmu explore $scn" 0 "$SECMMU" explore "$scn" \
				--runs "${EXPLORE_CHECK_RUNS:-30}" --seed "${EXPLORE_CHECK_SEED:-0}"
		done
		if [ -f tests/explore/run.sh ]; then
			# Bounded by runs, not time: the timeout only guards against a
			# hang (a sanitizer build on a busy 2-core machine needs minutes).
			RUN_CMD_TIMEOUT=${EXPLORE_RUN_TIMEOUT:-1200} \
				run_cmd "tests/explore/run.sh" 0 bash tests/explore/run.sh "$BUILD_DIR"
		fi
		# A short pass of the bug museum, so that its switches cannot rot.
		if [ -f scripts/museum.sh ] && grep -qw bugs <<<"$help"; then
			# A few exhibits (each found within a few DFS runs); make museum
			# is the full table.
			RUN_CMD_TIMEOUT=${EXPLORE_RUN_TIMEOUT:-1200} run_cmd "museum (short pass)" 0 env MUSEUM_RUNS="${MUSEUM_CHECK_RUNS:-20}" \
				MUSEUM_SKIP_MISSES=1 MUSEUM_ONLY="${MUSEUM_CHECK_ONLY:-gru-fault-no-retry \
seed002-sva-mm-users release-unhooked-first unregister-release-twice collapse-no-notifier \
fork-pinned-cow oom-reap-no-notifier empty-tlb-range pasid-freed-at-mmput}" \
				bash scripts/museum.sh "$BUILD_DIR"
		fi
	fi
fi

if [ -n "$TAP" ]; then
	echo "1..$((passed + failed))"
	echo "# $passed passed, $failed failed"
else
	echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ]
