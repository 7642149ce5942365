#!/usr/bin/env bash
# tests/explore/run.sh BUILD_DIR - `secmmu explore` finds a race and replays it exactly.
#
# For every tests/explore/*.scn (each deliberately racy) and each strategy
# (random, pct, dfs with one preemption): explore must exit 1 and print the failing line, the
# schedule and a replay command. Running that command twice, each time with
# --trace, must exit 1 both times, fail at the same line, and write
# byte-identical standard output and byte-identical traces: every thread of
# the run (the block's, the script's, the devices' engines and workers, RCU
# callbacks) is under the explorer's control, so a schedule is the whole run.
set -u
BUILD_DIR=${1:-build}
SECMMU=$BUILD_DIR/secmmu
cd "$(dirname "$0")/../.." || exit 2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
status=0

bad() {
	echo "FAIL: $*"
	status=1
}

for scn in tests/explore/*.scn; do
	for strategy in random pct dfs; do
		name="$scn ($strategy)"
		bound=; [ "$strategy" = dfs ] && bound="--bound 1"
		# shellcheck disable=SC2086 # $bound is empty or two words
		"$SECMMU" explore "$scn" --strategy "$strategy" $bound --runs 200 >"$tmp/find" 2>/dev/null
		st=$?
		if [ "$st" -ne 1 ]; then
			bad "$name: explore exit status $st, expected 1"
			sed 's/^/    /' "$tmp/find"
			continue
		fi
		tail -n 1 "$tmp/find" | grep -Eq '^explore: [0-9]+ runs, [1-9][0-9]* failing, [0-9]+ distinct schedules(, exhausted)?$' ||
			bad "$name: bad summary line: $(tail -n 1 "$tmp/find")"
		sched=$(sed -n 's/^explore: schedule //p' "$tmp/find")
		# The command is shell-quoted: a ' in a point name ("the test's threads") is '\''.
		qsched=$(printf '%s' "$sched" | sed "s/'/'\\\\''/g")
		grep -qxF "explore: replay with: secmmu explore $scn --replay '$qsched'" "$tmp/find" ||
			grep -qxF "explore: replay with: secmmu explore $scn --replay $sched" "$tmp/find" ||
			bad "$name: no replay command for schedule '$sched'"
		failing=$(sed -n 's/^explore: run [0-9]* failed: //p' "$tmp/find")
		[ -n "$failing" ] || bad "$name: no failing line"
		for i in 1 2; do
			"$SECMMU" explore "$scn" --replay "$sched" --trace "$tmp/trace$i.json" \
				>"$tmp/replay$i" 2>/dev/null
			st=$?
			[ "$st" -eq 1 ] || bad "$name: replay $i exit status $st, expected 1"
			[ -s "$tmp/trace$i.json" ] || bad "$name: replay $i wrote no trace"
		done
		cmp -s "$tmp/replay1" "$tmp/replay2" || {
			bad "$name: the output of two replays differs"
			diff "$tmp/replay1" "$tmp/replay2" | head -20 | sed 's/^/    /'
		}
		cmp -s "$tmp/trace1.json" "$tmp/trace2.json" ||
			bad "$name: the traces of two replays differ ($(cmp "$tmp/trace1.json" "$tmp/trace2.json" 2>&1))"
		grep -qF "failed: $failing" "$tmp/replay1" ||
			bad "$name: the replay does not fail at '$failing'"
		tail -n 1 "$tmp/replay1" | grep -qx 'explore: 1 runs, 1 failing, 1 distinct schedules' ||
			bad "$name: replay summary: $(tail -n 1 "$tmp/replay1")"
		[ "$status" -eq 0 ] &&
			echo "ok $name: found ($(tail -n 1 "$tmp/find")), replayed twice: identical output and trace"
	done
done
exit "$status"
