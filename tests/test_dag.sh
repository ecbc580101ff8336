#!/bin/sh
# test_dag.sh: the experiment DAG's staleness rules, end to end through
# `make experiment=NAME` on a tiny experiment with a private store:
#   a first run trains; a second does nothing; a comment or whitespace edit
#   reruns nothing; a key no fingerprint holds (threads) reruns nothing; a
#   train key reruns train; reverting it reuses the stored result; another
#   experiment with the same train sections reuses it (no baseline is
#   trained twice), and so does a sweep variant that changes nothing of
#   train, while one that changes train.lr trains; a config error names the
#   file and line and leaves no artifact.
# Run from the repository root. Prints "test_dag: N passed, N failed".
set -u
tag="_dagtest_$$"
tmp=$(mktemp -d /tmp/gos_test_dag.XXXXXX)
store="$tmp/store"
exp="experiments/$tag.cfg"
passed=0
failed=0
cleanup() {
    rm -rf "$tmp" "results/$tag" "results/${tag}_twin" "results/$tag@"* \
        "experiments/$tag"*.cfg "experiments/sweeps/$tag.cfg"
}
trap cleanup EXIT

check() { # check DESCRIPTION CONDITION...
    what=$1
    shift
    if "$@"; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        echo "FAIL test_dag: $what" >&2
        sed 's/^/    | /' "$tmp/out" >&2
    fi
}
run() { make --no-print-directory experiment="$1" STORE="$store" > "$tmp/out" 2>&1; }
trained() { grep -q "^train: epoch" "$tmp/out"; }
reused() { grep -q "^train: .*reusing" "$tmp/out"; }
quiet() { ! grep -q "^train:" "$tmp/out"; }

write_exp() { # write_exp FILE LR EXTRA
    cat > "$1" <<CFG
@include "common/defaults.cfg"
@include "common/models/convnet.cfg"
@include "common/data/fashion_mnist.cfg"
model = { width = 0.25; };
data = { train_images = 128; validation_images = 32; test_images = 64; };
train = { epochs = 1; batch_size = 32; lr = $2; progress = "never"; };
$3
CFG
}

# The shipped tiny experiment, end to end (into a private results folder).
make --no-print-directory experiment=tiny STORE="$store" RESULTS="$tmp/results" > "$tmp/out" 2>&1
check "make experiment=tiny succeeds" test $? -eq 0
check "tiny trains and reports a test accuracy" grep -q "^train: test accuracy" "$tmp/out"
check "tiny's baseline is a valid artifact" sh -c "build/check_artifact $tmp/results/tiny/baseline.h5 > /dev/null"

write_exp "$exp" 0.1 ""
run "$tag";                       check "a first run trains" trained
run "$tag";                       check "a second run does nothing" quiet
write_exp "$exp" 0.1 "# a comment"
printf '\n\n' >> "$exp"
run "$tag";                       check "comments and whitespace rerun nothing" quiet
write_exp "$exp" 0.1 "threads = 1;"
run "$tag";                       check "threads reruns nothing" quiet
write_exp "$exp" 0.05 "threads = 1;"
run "$tag";                       check "a train key reruns train" trained
write_exp "$exp" 0.1 "threads = 1;"
run "$tag";                       check "reverting reuses the stored result" reused
run "$tag";                       check "and then does nothing" quiet
write_exp "experiments/${tag}_twin.cfg" 0.1 "# same train sections, another name"
run "${tag}_twin";                check "an identical experiment reuses the baseline" reused
check "the twin's baseline is the same file" test "results/${tag}_twin/baseline.h5" -ef "results/$tag/baseline.h5"
check "the artifact is valid" sh -c "build/check_artifact results/$tag/baseline.h5 > /dev/null"

cat > "experiments/sweeps/$tag.cfg" <<CFG
base = "$tag";
variants = (
    { name = "same"; set = [ "threads = 2" ]; },
    { name = "lr";   set = [ "train.lr = 0.07" ]; }
);
CFG
make --no-print-directory sweep sweep="$tag" STORE="$store" > "$tmp/out" 2>&1
check "the sweep ran" grep -q "sweep $tag: $tag@lr" "$tmp/out"
check "a variant changing nothing of train reuses the baseline" grep -q "^train: .*$tag@same.*reusing" "$tmp/out"
check "a variant changing train.lr trains" grep -q "^train: $tag@lr: " "$tmp/out"

write_exp "$exp" 0.1 "overrides = { train = { epochs = 0; }; };"
run "$tag"
check "a config error fails the run" test $? -ne 0
check "a config error names the file and line" grep -q "$exp:[0-9]*: " "$tmp/out"
write_exp "experiments/${tag}_bad.cfg" 0.1 "search = { epsilon = 1.0; };"
run "${tag}_bad"
check "an unknown section is an error naming the file and line" grep -q "${tag}_bad.cfg:[0-9]*: .*search" "$tmp/out"
check "a failed experiment leaves no artifact" test ! -e "results/${tag}_bad/baseline.h5"

echo "test_dag: $passed passed, $failed failed"
[ "$failed" = 0 ]
