#!/usr/bin/env bash
# tests/cli-check.sh BUILD_DIR - the conventions of the secmmu command line:
# --version, grouped --help, help COMMAND, COMMAND --help, usage errors that
# say what was wrong before the usage (exit 2), unknown commands with the
# nearest suggestion, errors on stderr as FILE:LINE: error: WHY (stdout keeps
# the result lines), the run summary line, unreadable input failing the run,
# --format json (every line parsed by a JSON parser) and --tap (validated by
# tests/tap-check.py and, as TAP 13, by prove if installed).
# Prints "cli-check: ok" and exits 0 if every rule holds.
set -u

SRCDIR=$(cd "$(dirname "$0")/.." && pwd)
cd "$SRCDIR" || exit 2
BUILD_DIR=${1:-build}
S=$BUILD_DIR/secmmu
tmp=$(mktemp -d "${TMPDIR:-/tmp}/secmmu-cli.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
bad=0

no() {
	echo "cli-check: $*"
	bad=1
}

# want STATUS CMD...: run CMD, stdout to $tmp/out, stderr to $tmp/err.
want() {
	local st=$1
	shift
	"$@" >"$tmp/out" 2>"$tmp/err" </dev/null
	local got=$?
	[ "$got" -eq "$st" ] || no "'$*' exited $got, expected $st: $(head -c 300 "$tmp/err")"
}

has() { grep -q -- "$2" "$tmp/$1" || no "no '$2' in $1 of the last command: $(head -c 300 "$tmp/$1")"; }
hasnt() { ! grep -q -- "$2" "$tmp/$1" || no "'$2' in $1 of the last command"; }

version=$(sed -n 's/^#define SECMMU_VERSION_STRING *"\(.*\)"/\1/p' include/secmmu/version.h)
want 0 "$S" --version
[ "$(cat "$tmp/out")" = "secmmu $version" ] || no "--version printed '$(cat "$tmp/out")'"

for m in man/*.[0-9]; do
	grep -q "^\.TH .*\"secmmu $version\"" "$m" || no "$m does not say secmmu $version in .TH"
done

want 0 "$S" --help
has out "Run scenarios:"
has out "Learn:"
[ "$(wc -l <"$tmp/out")" -le 30 ] || no "--help is longer than 30 lines"
for c in run scenario demo help; do
	want 0 "$S" help $c
	has out "usage: secmmu $c"
done
want 0 "$S" run --help
has out "usage: secmmu run"
want 0 "$S" scenario --help
want 0 "$S" demo --help
want 0 "$S" help mmap
has out "example:"
want 0 "$S" help commands
has out "vfio_register"

# Usage errors: what was wrong, then the usage, on stderr; exit 2.
want 2 "$S"
has err "no command given"
want 2 "$S" run
[ "$(head -n 1 "$tmp/err")" = "secmmu: run: no scenario FILE given" ] || no "run: first line '$(head -n 1 "$tmp/err")'"
has err "usage: secmmu run"
want 2 "$S" run a b
has err "expected one FILE"
want 2 "$S" run --frobnicate
has err "unknown option"
want 2 "$S" run --format yaml x
has err "unknown format 'yaml'"
want 2 "$S" rnu x
has err "did you mean 'run'"
want 2 "$S" help mmapp
has err "did you mean 'mmap'"
want 2 "$S" scenario run fork-cwo
has err "did you mean 'fork-cow'"
want 2 "$S" scenario frob
has err "unknown subcommand 'frob'"

# Unreadable input fails the run.
want 2 "$S" run /
has err "/: error: cannot read the script"
want 2 "$S" run "$tmp/missing.scn"
has err "missing.scn: No such file"

# Results on stdout, then the summary; errors on stderr as FILE:LINE.
printf 'mm p\nmmap p 0x10000 4K rw private\nread p 0x10000 1 => 00\nread p 0x10000 1 => ff\n' >"$tmp/a.scn"
want 1 "$S" run "$tmp/a.scn"
has out "^4: read p 0x10000 1 -> 00 FAIL (expected ff)$"
[ "$(tail -n 1 "$tmp/out")" = "4 commands, 2 expectations, 1 failed" ] || no "summary '$(tail -n 1 "$tmp/out")'"
printf 'mm p\nmmapp p 0 4K rw private\n' >"$tmp/b.scn"
want 2 "$S" run "$tmp/b.scn"
[ "$(cat "$tmp/err")" = "$tmp/b.scn:2: error: unknown command 'mmapp' (did you mean 'mmap'?)" ] ||
	no "error line '$(cat "$tmp/err")'"
hasnt out "error"
want 0 "$S" run - <<<"mm p"

# --format json: every line a JSON object; one per command, then the summary.
if command -v python3 >/dev/null 2>&1; then
	printf 'mm p\nwrite p 0 "a\\"b c=d" => -EFAULT\nfrob\n' >"$tmp/c.scn"
	want 2 "$S" run --format json "$tmp/c.scn"
	python3 - "$tmp/out" <<'PY' || no "--format json output is not as documented"
import json, sys
objs = [json.loads(l) for l in open(sys.argv[1])]
assert objs[0] == {"line": 1, "command": "mm p", "result": "ok", "ok": True}, objs[0]
assert objs[1]["command"] == 'write p 0 "a\\"b c=d"' and objs[1]["ok"] is True, objs[1]
assert objs[2] == {"line": 3, "error": "unknown command 'frob'"}, objs[2]
assert objs[-1] == {"commands": 2, "expectations": 1, "failed": 0, "status": 2}, objs[-1]
PY
	want 0 "$S" scenario run fork-cow --format json
	python3 -c 'import json,sys; [json.loads(l) for l in open(sys.argv[1])]' "$tmp/out" ||
		no "scenario run --format json is not JSON Lines"
fi

# --tap: TAP version 14.
want 0 "$S" scenario run --all --tap
if command -v python3 >/dev/null 2>&1; then
	python3 tests/tap-check.py "$tmp/out" >"$tmp/tap.log" || no "$(cat "$tmp/tap.log")"
fi
if command -v prove >/dev/null 2>&1; then
	sed '1s/^TAP version 14$/TAP version 13/' "$tmp/out" >"$tmp/t13"
	prove -e cat "$tmp/t13" >"$tmp/prove.log" 2>&1 || no "prove rejects the TAP: $(cat "$tmp/prove.log")"
fi

[ $bad -eq 0 ] && echo "cli-check: ok"
exit $bad
