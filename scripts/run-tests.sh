#!/bin/sh
# run-tests.sh: runs each test program given, then prints the total as
# "tests: N passed, N failed" (counting programs) and exits non-zero when any
# program failed. Each program's own output stays visible.
passed=0
failed=0
failed_names=""
for t in "$@"; do
    if "$t"; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        failed_names="$failed_names $(basename "$t")"
    fi
done
[ -n "$failed_names" ] && echo "failed programs:$failed_names"
echo "tests: $passed passed, $failed failed"
[ "$failed" = 0 ] && [ "$passed" -gt 0 ]
