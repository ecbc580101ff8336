#!/bin/sh
# run-stage.sh: runs one pipeline stage for the DAG (mk/dag.mk), sharing
# results between experiments through a content-keyed store.
#
#   run-stage.sh --build DIR --store DIR --cfg FILE --stage NAME
#                --fingerprint FP --out ARTIFACT [--input ARTIFACT]...
#                [--later ARTIFACT]...
#
# The key of a result is a hash of: the stage's config fingerprint (FP), the
# stage program's code key (BUILD/<stage>.code, written at link time by
# scripts/code-key.sh: its code without the config and artifact-schema
# modules, whose effect is in FP and in check_artifact), the OpenBLAS kernel (OPENBLAS_CORETYPE: kernels sum
# in different orders), and the keys of its input artifacts (ARTIFACT.key).
# If STORE/<stage>-<key>.h5 exists and passes check_artifact, it is reused;
# otherwise the stage writes it there (atomically). ARTIFACT becomes a hard
# link to it and ARTIFACT.key records the key. A lock per key makes
# concurrent runs (make -j, sweeps) wait for each other instead of computing
# the same result twice. ARTIFACT and the --later ones (the artifacts made
# from it) are removed first: a stage that fails leaves its artifact and
# those after it absent, never an older run's to be reported as current.
set -eu

inputs=""
later=""
while [ $# -gt 0 ]; do
    case "$1" in
        --build) build=$2; shift 2 ;;
        --store) store=$2; shift 2 ;;
        --cfg) cfg=$2; shift 2 ;;
        --stage) stage=$2; shift 2 ;;
        --fingerprint) fp=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        --input) inputs="$inputs $2"; shift 2 ;;
        --later) later="$later $2"; shift 2 ;;
        *) echo "run-stage.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done

if [ ! -f "$build/$stage.code" ]; then
    echo "run-stage.sh: $build/$stage.code is missing; rebuild with make" >&2
    exit 1
fi
key=$( {
    cat "$fp"
    cat "$build/$stage.code"
    echo "blas kernel: ${OPENBLAS_CORETYPE:-default}"
    for input in $inputs; do cat "$input.key"; done
} | sha256sum | cut -c1-20)

mkdir -p "$store" "$(dirname "$out")"
stored="$store/$stage-$key.h5"
exec 9>"$store/$stage-$key.lock"
flock 9
for stale in "$out" $later; do rm -f "$stale" "$stale.key"; done
# Stages that train or fit keep OpenMP's idle threads asleep instead of
# spinning: on a shared machine a spinning thread waiting for a descheduled
# one turns every parallel region into a time slice (training ran 3x slower).
# Results do not depend on it. The timing stages keep the default.
case "$stage" in
    train|finetune|graphgen|search) export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-passive}" ;;
esac
if [ -f "$stored" ] && "$build/check_artifact" "$stored" >/dev/null 2>&1; then
    echo "$stage: $cfg: reusing $stored (same config, program and inputs)"
else
    "$build/$stage" "$cfg" "$stored" $inputs
fi
# The key first: a run killed between the two leaves an old artifact that
# make sees as stale, never a new artifact beside an old key.
echo "$key" > "$out.key.new" && mv -f "$out.key.new" "$out.key"
if [ ! "$out" -ef "$stored" ]; then
    ln -f "$stored" "$out.new"
    mv -f "$out.new" "$out"
fi
touch "$out"
