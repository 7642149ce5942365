#!/bin/sh
# kshim/exhibits/range-end-unpaired.sh IN OUT - put a fixed bug back into
# Linux's mm/mmu_notifier.c (our patch, written from the fix's description;
# see tests/kernel-notifier/exhibit_range_end.c).
#
# Linux 5.13, "mm/mmu_notifiers: ensure range_end() is paired with
# range_start()": after a failed non-blockable start, mn_hlist_invalidate_
# range_start() calls invalidate_range_end on every subscriber that has one,
# and warns if a subscriber that failed has one. Undo both: drop the block
# that starts with "if (ret) {" at one tab after the loop, and the WARN_ON.
# Fails (and writes nothing) unless exactly one such block is found.
set -eu
in=$1
out=$2
n=$(grep -c '^	if (ret) {$' "$in" || true)
[ "$n" -eq 1 ] || { echo "range-end-unpaired: expected 1 block, found $n in $in" >&2; exit 1; }
awk '/^\tif \(ret\) \{$/ { skip = 1 }
     !skip && !/^\t+WARN_ON\(ops->invalidate_range_end\);$/ { print }
     skip && /^\t\}$/ { skip = 0 }' "$in" > "$out.tmp"
mv "$out.tmp" "$out"
