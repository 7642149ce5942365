#!/usr/bin/env bash
# tests/alloc-check.sh - every allocation of the library goes through the
# injectable allocator (src/base/alloc.h says which places are exempt and
# why): no direct malloc/calloc/realloc/strdup/aligned_alloc/posix_memalign
# in src/ outside src/base/alloc.c, the explorer, the tracer and src/sim.
set -u
cd "$(dirname "$0")/.." || exit 2
bad=$(grep -rnE '(^|[^_a-z])(malloc|calloc|realloc|strdup|strndup|aligned_alloc|posix_memalign)\(' \
	--include='*.c' --include='*.h' src |
	grep -vE '^src/(base/alloc\.c|base/sched_explore\.c|base/trace\.c|sim/)' |
	grep -vE '^[^:]*:[0-9]+:\s*(/?\*|//)')
if [ -n "$bad" ]; then
	echo "alloc-check: direct allocation outside the injectable allocator (see src/base/alloc.h):"
	echo "$bad"
	exit 1
fi
echo "alloc-check: ok"
