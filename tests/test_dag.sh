#!/bin/sh
# test_dag.sh: the experiment DAG's staleness rules, end to end through
# `make experiment=NAME` on a tiny experiment with a private store:
#   a first run trains; a second does nothing; a comment or whitespace edit
#   reruns nothing; a key no fingerprint holds (train.progress) reruns
#   nothing; a train key (and threads) reruns train; reverting it reuses the
#   stored result; another experiment with the same train sections reuses it
#   (no baseline is trained twice), also when both run at once; a sweep
#   variant that changes nothing of train reuses it, one that changes
#   train.lr trains; a config error names the file and line; a stage that
#   fails leaves no artifact, and on rerun removes the earlier run's
#   artifacts of it and of every stage after it.
# Run from the repository root (make check sets GOS_BUILD, the build folder,
# and GOS_MAKE_ARGS, e.g. SAN=1). Prints "test_dag: N passed, N failed".
set -u
build=${GOS_BUILD:-build}
make_args=${GOS_MAKE_ARGS:-}
tag="_dagtest_$$"
tmp=$(mktemp -d /tmp/gos_test_dag.XXXXXX)
store="$tmp/store"
exp="experiments/$tag.cfg"
cleanup() {
    rm -rf "$tmp" "results/$tag" "results/${tag}_"* "results/$tag@"* \
        "experiments/$tag"*.cfg "experiments/sweeps/$tag.cfg"
}
trap cleanup EXIT

test_name=test_dag
. "$(dirname "$0")/check.sh"
run() { make --no-print-directory $make_args experiment="$1" STORE="$store" > "$tmp/out" 2>&1; }
trained() { grep -q "^train: epoch" "$tmp/out"; }
reused() { grep -q "^train: .*reusing" "$tmp/out"; }
quiet() { ! grep -q "^train:\|^profile:\|^graphgen:\|^search:\|^finetune:\|^validate:" "$tmp/out"; }
validated() { grep -q "^validate: .* operators replaced" "$tmp/out"; }
finetuned() { grep -q "^finetune: test accuracy" "$tmp/out"; }
searched() { grep -q "^search: .* operators searched" "$tmp/out"; }
search_on() { searched && finetuned && validated && ! grep -q "^train:\|^profile:\|^graphgen:" "$tmp/out"; }
generated() { grep -q "^graphgen: .* operators" "$tmp/out"; }
graphgen_only() { generated && ! grep -q "^train:\|^profile:" "$tmp/out"; }
profiled() { grep -q "^profile: .* on host (measured" "$tmp/out"; }
profile_only() { profiled && ! grep -q "^train:" "$tmp/out"; }

write_exp() { # write_exp FILE LR EXTRA
    cat > "$1" <<CFG
@include "common/defaults.cfg"
@include "common/models/convnet.cfg"
@include "common/data/fashion_mnist.cfg"
@include "common/devices/host.cfg"
model = { width = 0.25; };
data = { train_images = 128; validation_images = 32; test_images = 64; };
train = { epochs = 1; batch_size = 32; lr = $2; progress = "never"; };
graphgen = { top_operators = 1; sample_images = 16; study_samples = 2; seed_candidates = 1;
             fit_steps = 2; fit_batch = 4; };
search = { operators = 1; population = 2; generations = 0; validation_images = 16; };
finetune = { epochs = 1; };
validate = { only_report = true; };
$3
CFG
}

# The shipped tiny experiment, end to end (into a private results folder).
make --no-print-directory $make_args experiment=tiny STORE="$store" RESULTS="$tmp/results" > "$tmp/out" 2>&1
check "make experiment=tiny succeeds" test $? -eq 0
check "tiny trains and reports a test accuracy" grep -q "^train: test accuracy" "$tmp/out"
check "tiny's baseline is a valid artifact" sh -c "$build/check_artifact $tmp/results/tiny/baseline.h5 > /dev/null"
check "tiny is profiled on this host" profiled
check "tiny's profile is a valid artifact" sh -c "$build/check_artifact $tmp/results/tiny/profile.h5 > /dev/null"
check "tiny's operators are generated" generated
check "tiny's graphs are a valid artifact" sh -c "$build/check_artifact $tmp/results/tiny/graphs.h5 > /dev/null"
check "tiny is searched" searched
check "tiny's search is a valid artifact" sh -c "$build/check_artifact $tmp/results/tiny/search.h5 > /dev/null"
check "tiny is fine-tuned and validated" sh -c "grep -q '^finetune: test accuracy' $tmp/out && grep -q '^validate: tiny on host (measured)' $tmp/out"
check "tiny's adapted model and validation are valid artifacts" sh -c "$build/check_artifact $tmp/results/tiny/adapted.h5 $tmp/results/tiny/validate.h5 > /dev/null"

write_exp "$exp" 0.1 ""
run "$tag";                       check "a first run trains" trained
check "and profiles" profiled
run "$tag";                       check "a second run does nothing" quiet
write_exp "$exp" 0.1 "# a comment"
printf '\n\n' >> "$exp"
run "$tag";                       check "comments and whitespace rerun nothing" quiet
write_exp "$exp" 0.1 "overrides = { train = { progress = \"auto\"; }; };"
run "$tag";                       check "train.progress reruns nothing" quiet
write_exp "$exp" 0.1 "device = { timed_runs = 3; };"
run "$tag";                       check "a device key reruns profile, not train" profile_only
write_exp "$exp" 0.1 "device = { timed_runs = 3; }; profile = { rank_by = \"latency\"; };"
run "$tag";                       check "a profile key reruns profile, not train" profile_only
check "and graphgen after it" generated
write_exp "$exp" 0.1 "device = { timed_runs = 3; }; profile = { rank_by = \"latency\"; }; overrides = { graphgen = { study_samples = 3; }; };"
run "$tag";                       check "a graphgen key reruns graphgen (and search), not train or profile" graphgen_only
check "and search after it" searched
write_exp "$exp" 0.1 "device = { timed_runs = 3; }; profile = { rank_by = \"latency\"; }; overrides = { graphgen = { study_samples = 3; }; search = { epsilon = 2.0; }; };"
run "$tag";                       check "search.epsilon reruns search, finetune and validate, never train, profile or graphgen" search_on
write_exp "$exp" 0.05 ""
run "$tag";                       check "a train key reruns train" trained
check "and the profile after it" profiled
write_exp "$exp" 0.1 "threads = 1;"
run "$tag";                       check "threads reruns train" trained
write_exp "$exp" 0.1 ""
run "$tag";                       check "reverting reuses the stored result" reused
run "$tag";                       check "and then does nothing" quiet
write_exp "experiments/${tag}_twin.cfg" 0.1 "# same train sections, another name"
run "${tag}_twin";                check "an identical experiment reuses the baseline" reused
check "the twin's baseline is the same file" test "results/${tag}_twin/baseline.h5" -ef "results/$tag/baseline.h5"
check "the artifact is valid" sh -c "$build/check_artifact results/$tag/baseline.h5 > /dev/null"

# Two experiments needing the same new baseline, run at once: one trains,
# the other waits for it and reuses it.
write_exp "experiments/${tag}_p1.cfg" 0.09 ""
write_exp "experiments/${tag}_p2.cfg" 0.09 "# twin"
make --no-print-directory $make_args experiment="${tag}_p1" STORE="$store" RESULTS="$tmp/results" > "$tmp/p1" 2>&1 &
make --no-print-directory $make_args experiment="${tag}_p2" STORE="$store" RESULTS="$tmp/results" > "$tmp/p2" 2>&1
wait
cat "$tmp/p1" "$tmp/p2" > "$tmp/out"
check "concurrent runs succeed" test -e "$tmp/results/${tag}_p1/baseline.h5" -a -e "$tmp/results/${tag}_p2/baseline.h5"
check "concurrent runs train the shared baseline once" test "$(grep -c '^train: test accuracy' "$tmp/out")" = 1

cat > "experiments/sweeps/$tag.cfg" <<CFG
base = "$tag";
variants = (
    { name = "same"; set = [ "train.progress = \"auto\"" ]; },
    { name = "lr";   set = [ "train.lr = 0.07" ]; }
);
CFG
make --no-print-directory $make_args sweep sweep="$tag" STORE="$store" > "$tmp/out" 2>&1
check "the sweep ran" grep -q "sweep $tag: $tag@lr" "$tmp/out"
check "a variant changing nothing of train reuses the baseline" grep -q "^train: .*$tag@same.*reusing" "$tmp/out"
check "a variant changing train.lr trains" grep -q "^train: $tag@lr: " "$tmp/out"

cat > "experiments/sweeps/$tag.cfg" <<CFG
base = "$tag";
variants = (
    { name = "multi"; set = [ "train.lr = 0.05", "seed = 4", "train.epochs = 2" ]; },
    { name = "bad";   set = [ "train.lr = -1" ]; }
);
CFG
$build/gos_config sweep "experiments/sweeps/$tag.cfg" > "$tmp/out" 2>&1
check "a sweep with a bad variant fails" test $? -ne 0
check "the error names the sweep file, line and variant" grep -q "experiments/sweeps/$tag.cfg:4: variant 'bad': .*train.lr: must be > 0" "$tmp/out"
check "no file is left for the bad variant" test ! -e "experiments/$tag@bad.cfg"
check "a variant setting several keys of one section is valid" sh -c "$build/gos_config resolve experiments/$tag@multi.cfg | grep -q 'train.epochs = 2;'"

write_exp "$exp" 0.1 "overrides = { train = { epochs = 0; }; };"
run "$tag"
check "a config error fails the run" test $? -ne 0
check "a config error names the file and line" grep -q "$exp:[0-9]*: " "$tmp/out"
write_exp "experiments/${tag}_bad.cfg" 0.1 "report = { format = \"md\"; };"
run "${tag}_bad"
check "an unknown section is an error naming the file and line" grep -q "${tag}_bad.cfg:[0-9]*: .*report" "$tmp/out"
mkdir -p "$tmp/nodata"
write_exp "experiments/${tag}_nodata.cfg" 0.1 "overrides = { data = { path = \"$tmp/nodata\"; }; };"
run "${tag}_nodata"
check "a failing stage fails the run" test $? -ne 0
check "the stage's error names the missing file" grep -q "train-images-idx3-ubyte.gz" "$tmp/out"
check "a failing stage leaves no artifact" test ! -e "results/${tag}_nodata/baseline.h5"
check "nor anything in the store" sh -c "! ls $store/*.h5 2>/dev/null | xargs -r -n1 $build/check_artifact 2>&1 | grep -v ': ok'"
# The same failure in an experiment that has run before: its old artifacts
# go, the failed stage's and those made from it, so none is reported as
# the current result.
check "the experiment has its artifacts" sh -c "cd results/$tag && test -e baseline.h5 -a -e search.h5 -a -e validate.h5"
write_exp "$exp" 0.1 "overrides = { data = { path = \"$tmp/nodata\"; }; };"
run "$tag"
check "a stage failing on rerun fails the run" test $? -ne 0
check "and leaves neither its artifact nor a later stage's" sh -c "cd results/$tag && for a in baseline profile graphs search adapted validate; do test ! -e \$a.h5 -a ! -e \$a.h5.key || exit 1; done"

check_summary
