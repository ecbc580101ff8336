# tests/check.sh: the shell tests' harness, sourced after `test_name` and
# `tmp` are set. `check DESCRIPTION COMMAND...` counts a pass, or prints a
# FAIL line and the captured output ($tmp/out); `check_summary` prints
# "NAME: N passed, N failed" and fails when anything failed or nothing was
# checked.
passed=0
failed=0

check() { # check DESCRIPTION CONDITION...
    what=$1
    shift
    if "$@"; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        echo "FAIL $test_name: $what" >&2
        sed 's/^/    | /' "$tmp/out" >&2
    fi
}

check_summary() {
    echo "$test_name: $passed passed, $failed failed"
    [ "$failed" = 0 ] && [ "$passed" -gt 0 ]
}
