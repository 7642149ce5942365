#!/usr/bin/env python3
"""tests/tap-check.py [FILE] - validate a TAP version 14 stream (stdin by default).

Checks what TAP 14 consumers (kselftest, KUnit's kunit_parser, prove) rely
on: the first line is "TAP version 14"; exactly one plan "1..N", first or
last; test points "ok|not ok NUM [- DESC]" numbered 1, 2, ... N in order;
YAML diagnostic blocks ("  ---" ... "  ...") only right after a test point;
every other line a comment ("#") or blank. Prints "tap-check: ok (N tests, F
not ok)" and exits 0 if the stream is valid, else says why and exits 1.
"""
import re
import sys


def fail(msg):
    print("tap-check: " + msg)
    sys.exit(1)


def main():
    text = open(sys.argv[1]).read() if len(sys.argv) > 1 else sys.stdin.read()
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if not lines or lines[0] != "TAP version 14":
        fail("first line is not 'TAP version 14'")
    plan = None
    plan_at = None
    num = 0
    bad = 0
    in_yaml = False
    last_was_test = False
    for i, line in enumerate(lines[1:], start=2):
        if in_yaml:
            if line == "  ...":
                in_yaml = False
            elif not line.startswith("  "):
                fail("line %d: YAML block not indented or not closed" % i)
            continue
        if line == "  ---":
            if not last_was_test:
                fail("line %d: YAML block not after a test point" % i)
            in_yaml = True
            last_was_test = False
            continue
        m = re.match(r"^1\.\.(\d+)$", line)
        if m:
            if plan is not None:
                fail("line %d: a second plan" % i)
            plan, plan_at = int(m.group(1)), i
            last_was_test = False
            continue
        m = re.match(r"^(not ok|ok)\b(?: (\d+))?(?: -)?(.*)$", line)
        if m:
            if plan is not None and plan_at != 2:
                fail("line %d: test point after a plan at the end" % i)
            num += 1
            if m.group(2) is None or int(m.group(2)) != num:
                fail("line %d: test point not numbered %d" % (i, num))
            if m.group(1) == "not ok" and "# SKIP" not in line and "# TODO" not in line:
                bad += 1
            last_was_test = True
            continue
        if line.startswith("#") or line.strip() == "":
            continue
        fail("line %d: neither a test point, a plan, YAML nor a comment: %r" % (i, line))
    if in_yaml:
        fail("unterminated YAML block")
    if plan is None:
        fail("no plan")
    if plan != num:
        fail("plan says %d tests, %d ran" % (plan, num))
    print("tap-check: ok (%d tests, %d not ok)" % (num, bad))


main()
