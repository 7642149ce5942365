#!/usr/bin/env python3
# tests/trace-check.py BUILD_DIR - the trace of a scenario, read by a real
# JSON parser (issue 17, "Traces"):
#   * thread and track names use the script's names ("vcpu vm0",
#     "iommu nic dma", "mirror m0 dma", "xpmem s0 node"), never an internal
#     mm id ("(mm N)") or a heap pointer (0x...);
#   * the "mm" argument of every span that has one (invalidations, faults)
#     is a process name the counter tracks use ("mm NAME users");
#   * a span's arguments keep the whole command: quoted data with blanks and
#     '=' in it is one "command" value, not extra keys;
#   * a malformed line gets no span.
# Exit 0 if all hold.
import json
import os
import re
import subprocess
import sys
import tempfile

build = sys.argv[1] if len(sys.argv) > 1 else "build"
secmmu = os.path.join(build, "secmmu")
bad = 0


def fail(msg):
    global bad
    print("trace-check: " + msg)
    bad = 1


def trace_of(script, expect_status):
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "s.scn")
        out = os.path.join(d, "t.json")
        with open(path, "w") as f:
            f.write(script)
        r = subprocess.run([secmmu, "run", path, "--trace", out],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if r.returncode != expect_status:
            fail("secmmu run exited %d, expected %d\n%s%s" %
                 (r.returncode, expect_status, r.stdout, r.stderr))
        with open(out) as f:
            return json.load(f)  # must be valid JSON


GOOD = """\
mm p
mmap p 0x10000000 64K rw private
write p 0x10000000 "a=b c=d"
vm vm0 p
vcpu vm0 read 0x10000000 4
iommu nic
sva_bind nic p
dma nic p read 0x10000000 4
mirror m0 p
mirror_read m0 0x10000000 4
xpmem_make s0 p 0x10000000 16K
madvise p 0x10000000 64K dontneed
check
"""

t = trace_of(GOOD, 0)
ev = t["traceEvents"]
names = {}
for e in ev:
    if e.get("ph") == "M" and e.get("name") == "thread_name":
        names[e["tid"]] = e["args"]["name"]  # the last name of each track wins
tracks = set(names.values())
for want in ("vcpu vm0", "iommu nic dma", "iommu nic prq", "mirror m0 dma", "xpmem s0 node"):
    if want not in tracks:
        fail("no track named %r (tracks: %s)" % (want, sorted(tracks)))
for n in tracks:
    if re.search(r"\(mm \d+\)|0x[0-9a-f]{6,}", n):
        fail("track name %r has an internal id or a pointer" % n)

counters = {e["name"] for e in ev if e.get("ph") == "C"}
procs = {m.group(1) for c in counters for m in [re.match(r"mm (\S+) users$", c)] if m}
if "p" not in procs:
    fail("no counter track 'mm p users' (%s)" % sorted(counters))
inval = [e for e in ev if e.get("ph") == "B" and e.get("name") == "invalidate_range"]
if not inval:
    fail("no invalidate_range span")
for e in ev:
    mm = e.get("args", {}).get("mm") if e.get("ph") == "B" else None
    if mm is not None and mm not in procs:
        fail("span %s has mm=%r, not a process name of the counter tracks %s" %
             (e.get("name"), mm, sorted(procs)))

writes = [e for e in ev if e.get("ph") == "B" and e.get("cat") == "sim" and e["name"] == "write"]
if len(writes) != 1:
    fail("%d write spans, expected 1" % len(writes))
else:
    args = writes[0]["args"]
    if args.get("command") != 'write p 0x10000000 "a=b c=d"':
        fail("write span command=%r" % args.get("command"))
    if set(args) != {"line", "command"}:
        fail("write span has extra keys: %s" % sorted(args))

BAD = """\
mm p
mmap p 0x10000000 4K rw private
mmap p nonsense 4K rw private
"""
t = trace_of(BAD, 2)
ev = t["traceEvents"]
spans = [e for e in ev if e.get("ph") == "B" and e.get("cat") == "sim"]
lines = [e["args"].get("line") for e in spans]
if "3" in lines:
    fail("the malformed line 3 got a span")
if lines != ["1", "2"]:
    fail("sim spans for lines %s, expected ['1', '2']" % lines)
depth = {}
for e in ev:
    if e.get("ph") == "B":
        depth[e["tid"]] = depth.get(e["tid"], 0) + 1
    elif e.get("ph") == "E":
        depth[e["tid"]] = depth.get(e["tid"], 0) - 1
        if depth[e["tid"]] < 0:
            fail("an E without its B on track %d" % e["tid"])

print("trace-check: ok" if not bad else "trace-check: FAILED")
sys.exit(bad)
