#!/usr/bin/env bash
# scripts/museum.sh [BUILD_DIR] - the bug museum (docs/museum.md): every
# museum/NAME.scn explored with `bug NAME` on (it must fail) and off (it must
# not). One line per exhibit,
#
#   museum NAME found=yes|no strategy=S runs=R secs=T clean_runs=C
#
# (R runs and T seconds to the first failure with the bug on, counting the
# strategies tried before the one that found it; C runs with it off, all clean), then "museum: F/N found, median T s".
#
# Finding: DFS with preemption bound 1, then bound 2 (strategy=dfs2), then
# PCT (depth 3), then random, each within
# MUSEUM_FIND_RUNS runs (default 3000) and MUSEUM_FIND_SECS seconds (60). A
# found failure is replayed twice from its printed schedule: both replays must
# fail on the same line with byte-identical output (DFS finds; a random
# schedule is only checked to fail). The clean pass runs MUSEUM_RUNS random
# schedules (default 200; the full museum wants MUSEUM_RUNS=10000).
# A deadlock (the explorer reports it and aborts) counts as a failure found;
# its replays must deadlock the same way (the same threads blocked on the
# same objects).
# MUSEUM_ONLY="NAME ..." explores only those exhibits.
# An exhibit the explorer cannot find says why in a line
#   # museum: not found: REASON
# it is still explored both ways and listed found=no, but does not fail the
# run (unless it is found after all: then the line is stale and it fails);
# MUSEUM_SKIP_MISSES=1 skips its (long, fruitless) search.
# Exit status 1 if an exhibit is not found, fails with its bug off, or does
# not replay.
set -u
BUILD_DIR=${1:-build}
BUILD_DIR=${BUILD_DIR%/}
SECMMU=$BUILD_DIR/secmmu
cd "$(dirname "$0")/.." || exit 2
FIND_RUNS=${MUSEUM_FIND_RUNS:-3000}
FIND_SECS=${MUSEUM_FIND_SECS:-60}
CLEAN_RUNS=${MUSEUM_RUNS:-200}
# Replays must not see spurious outside-control segments on a loaded machine.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
status=0 found=0 total=0
secs_list=()

now() { date +%s.%N; }

for scn in museum/*.scn; do
	name=$(basename "$scn" .scn)
	if [ -n "${MUSEUM_ONLY:-}" ] && ! grep -qw -- "$name" <<<"$MUSEUM_ONLY"; then
		continue
	fi
	total=$((total + 1))
	hit=no strategy=- runs=0 secs=- total_runs=0
	miss=$(sed -n 's/^# museum: not found: //p' "$scn" | head -n 1)
	strategies="dfs dfs2 pct random"
	[ -n "$miss" ] && [ "${MUSEUM_SKIP_MISSES:-0}" = 1 ] && strategies=""
	t0=$(now) # the time to the failure includes the strategies that missed it
	for strategy in $strategies; do
		args=(--strategy "${strategy%2}" --runs "$FIND_RUNS" --timeout "$FIND_SECS")
		[ "$strategy" = dfs ] && args+=(--bound 1)
		[ "$strategy" = dfs2 ] && args+=(--bound 2)
		# (The braces keep bash's "Aborted" notice of a deadlock out of the table.)
		{ "$SECMMU" explore "$scn" --bug "$name" "${args[@]}" >"$tmp/find" 2>"$tmp/find.err"; st=$?; } 2>/dev/null
		t1=$(now)
		runs=$(tail -n 1 "$tmp/find" | sed -n 's/^explore: \([0-9]*\) runs.*/\1/p')
		if [ "$st" -ne 0 ] && [ "$st" -ne 1 ] && [ "$st" -ne 2 ] &&
			grep -q '^explore: DEADLOCK' "$tmp/find.err"; then
			# A deadlock aborts the exploration at once: that run is the find.
			runs=$(sed -n 's/^explore: test=.* run=\([0-9]*\) .*/\1/p' "$tmp/find.err")
			runs=$((${runs:-0} + 1))
			st=1
		fi
		total_runs=$((total_runs + ${runs:-0}))
		runs=$total_runs
		if [ "$st" -eq 1 ]; then
			hit=yes
			secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
			break
		fi
	done
	why=""
	if [ "$hit" = yes ]; then
		found=$((found + 1))
		secs_list+=("$secs")
		sched=$(sed -n 's/^explore: schedule //p' "$tmp/find")
		failing=$(sed -n 's/^explore: run [0-9]* failed: //p' "$tmp/find")
		rm -f "$tmp/deadlock"
		if [ -z "$sched" ]; then
			# A deadlock: the schedule and the report (addresses aside) are on stderr.
			sched=$(sed -n 's/^explore: replay with EXPLORE_SCHEDULE=//p' "$tmp/find.err")
			deadlock() { grep '^explore: DEADLOCK\|^  thread ' "$1" | sed 's/ (0x[0-9a-f]*)$//'; }
			deadlock "$tmp/find.err" >"$tmp/deadlock"
		fi
		for i in 1 2; do
			{ "$SECMMU" explore "$scn" --bug "$name" --replay "$sched" >"$tmp/replay$i" \
				2>"$tmp/replay$i.err"; st=$?; } 2>/dev/null
			if [ -s "$tmp/deadlock" ]; then
				[ "$st" -ne 0 ] && [ "$st" -ne 1 ] && [ "$st" -ne 2 ] ||
					why="$why replay $i did not deadlock;"
				deadlock "$tmp/replay$i.err" | cmp -s - "$tmp/deadlock" ||
					why="$why replay $i deadlocked elsewhere;"
				continue
			fi
			[ "$st" -eq 1 ] || why="$why replay $i did not fail;"
			grep -qF "failed: $failing" "$tmp/replay$i" || why="$why replay $i failed elsewhere;"
		done
		if [ "$strategy" != random ] && [ "$strategy" != pct ] && ! cmp -s "$tmp/replay1" "$tmp/replay2"; then
			why="$why the two replays differ;"
		fi
	else
		strategy=-
		why="not found within $FIND_RUNS runs / $FIND_SECS s per strategy;"
		[ -z "$strategies" ] && why="not searched (MUSEUM_SKIP_MISSES);"
	fi
	if [ -n "$miss" ]; then
		if [ "$hit" = yes ]; then
			why="$why found, but its scenario says it cannot be: '$miss';"
		else
			found_note="  $name: not found (expected): $miss"
			why=${why#not found within * per strategy;}
			why=${why#not searched (MUSEUM_SKIP_MISSES);}
		fi
	fi
	"$SECMMU" explore "$scn" --runs "$CLEAN_RUNS" >"$tmp/clean" 2>/dev/null
	st=$?
	clean=$(tail -n 1 "$tmp/clean" | sed -n 's/^explore: \([0-9]*\) runs, 0 failing.*/\1/p')
	if [ "$st" -ne 0 ] || [ -z "$clean" ]; then
		clean=0
		why="$why fails with the bug off: $(grep -m1 '^explore: run' "$tmp/clean");"
	fi
	echo "museum $name found=$hit strategy=$strategy runs=$runs secs=$secs clean_runs=$clean"
	if [ -n "${found_note:-}" ]; then
		echo "$found_note"
		found_note=""
	fi
	if [ -n "$why" ]; then
		echo "  $name:$why"
		status=1
	fi
done
median=$( ((${#secs_list[@]})) && printf '%s\n' "${secs_list[@]}" | sort -n | awk '{ v[NR] = $1 } END {
	if (NR == 0) { print "-"; exit }
	if (NR % 2) printf "%.2f", v[(NR + 1) / 2]; else printf "%.2f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }')
echo "museum: $found/$total found, median $median s"
exit "$status"
