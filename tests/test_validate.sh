#!/bin/sh
# test_validate.sh: the validate stage's epsilon check, on a model that
# really loses accuracy. A variant of tiny whose search may spend 100 points
# (search.epsilon 100, no recovery, fine-tuning at a rate too small to win
# anything back) is run end to end into a private results folder and store;
# then build/validate is run by hand on its artifacts, on the first N test
# images, N chosen so that the drop D (exact in decimal) comes out of the
# stage's 100 * (a1 - a0) a rounding error beyond -D, with:
#   epsilon D - 1: fails (non-zero exit), naming the experiment, the drop and
#     search.epsilon, and writes nothing;
#   epsilon D: passes, "within" (100 * (a1 - a0) of two such accuracies
#     rounds a hair past -D, which must not count as beyond);
#   epsilon D - 1 with validate.only_report: writes the artifact, with
#     within_epsilon 0 and the drop;
# and validate refuses an adapted model of another input size, naming it.
# Run from the repository root (make check sets GOS_BUILD and
# GOS_MAKE_ARGS). Prints "test_validate: N passed, N failed".
set -u
build=${GOS_BUILD:-build}
make_args=${GOS_MAKE_ARGS:-}
tmp=$(mktemp -d /tmp/gos_test_validate.XXXXXX)
exp="gos_test_validate_$$"
cleanup() { rm -rf "$tmp" "experiments/$exp"*.cfg; }
trap cleanup EXIT

test_name=test_validate
. "$(dirname "$0")/check.sh"

cat > "experiments/$exp.cfg" <<CFG
@include "tiny.cfg"

overrides = {
    search = { epsilon = 100.0; recovery_steps = 0; };
    finetune = { lr = 1e-6; distill_weight = 0.0; };
    validate = { only_report = true; };
};
CFG
make --no-print-directory $make_args experiment="$exp" RESULTS="$tmp/results" \
    STORE="$tmp/store" > "$tmp/out" 2>&1
check "the damaged variant of tiny runs end to end" test $? -eq 0
res="$tmp/results/$exp"

# validate_with NAME IMAGES EPSILON ONLY_REPORT: build/validate on the
# variant's artifacts with those settings, on the first IMAGES test images;
# output in $tmp/out.
validate_with() {
    cat > "experiments/$exp-$1.cfg" <<CFG
@include "tiny.cfg"

overrides = {
    data = { test_images = $2; };
    search = { epsilon = $3; };
    validate = { only_report = $4; };
};
CFG
    rm -f "$tmp/$1.h5"
    "$build/validate" "experiments/$exp-$1.cfg" "$tmp/$1.h5" "$res/baseline.h5" \
        "$res/adapted.h5" "$res/search.h5" > "$tmp/out" 2>&1
}

# A test-set size whose drop D (in points) comes out of 100 * (a1 - a0) a
# rounding error beyond -D, as the validate stage computes it (awk computes
# in doubles alike): the case a plain comparison gets wrong. Accuracies on
# these sizes print exactly with two decimals.
images=""
for n in 100 200 400 500 250 125 50 20; do
    validate_with probe $n 100.0 true
    # "... test accuracy A% -> B% (-D points, ..."
    acc=$(sed -n 's/.*test accuracy \([0-9.]*\)% -> \([0-9.]*\)% (-\([0-9.]*\) points.*/\1 \2 \3/p' "$tmp/out")
    [ -n "$acc" ] || continue
    if echo "$acc $n" | awk '{ c0 = $1 * $4 / 100; c1 = $2 * $4 / 100;
                               exit !($3 >= 2 && 100 * (c1 / $4 - c0 / $4) < -$3) }'; then
        images=$n
        drop=$(echo "$acc" | cut -d' ' -f3)
        break
    fi
done
check "a test-set size where the drop rounds past itself is found (last: '$acc')" test -n "$images"
images=${images:-100}
drop=${drop:-2.00}
below=$(awk "BEGIN { printf \"%.2f\", $drop - 1 }")
# as validate prints them: %g and %.3g
drop_g=$(awk "BEGIN { printf \"%g\", $drop }")
below_g=$(awk "BEGIN { printf \"%g\", $below }")

validate_with strict $images "$below" false
check "a drop beyond epsilon fails validate" test $? -ne 0
check "naming the experiment, the drop and search.epsilon" grep -q "validate: error: .*$exp-strict: the adapted model loses $drop accuracy points, more than search.epsilon = $below_g " "$tmp/out"
check "and writes nothing" test ! -e "$tmp/strict.h5"

validate_with edge $images "$drop" false
check "a drop of exactly epsilon passes" test $? -eq 0
check "and says within" grep -q "epsilon $drop_g: within)" "$tmp/out"
check "its artifact is written and valid" sh -c "$build/check_artifact $tmp/edge.h5 > /dev/null"

validate_with report $images "$below" true
check "with only_report, a drop beyond epsilon is written" test $? -eq 0
check "and said" grep -q "epsilon $below_g: BROKEN)" "$tmp/out"
check "within_epsilon is 0 in the artifact" sh -c "h5dump -a /summary/within_epsilon $tmp/report.h5 | grep -q '(0): 0'"

# Another experiment's model: InceptionV3-sized inputs are not tiny's.
cat > "experiments/$exp-other.cfg" <<CFG
@include "tiny.cfg"

overrides = { model = { input_size = 32; }; };
CFG
"$build/validate" "experiments/$exp-other.cfg" "$tmp/other.h5" "$res/baseline.h5" \
    "$res/adapted.h5" "$res/search.h5" > "$tmp/out" 2>&1
check "a model of another input size is refused" test $? -ne 0
check "naming the artifact and both shapes" grep -q "validate: error: $res/baseline.h5: the model takes 1x28x28 inputs, the experiment's data are 1x32x32" "$tmp/out"
check "and nothing is written" test ! -e "$tmp/other.h5"

check_summary
