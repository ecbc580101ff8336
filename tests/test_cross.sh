#!/bin/sh
# test_cross.sh: the aarch64 cross build of gos_bench_graph (make cross)
# computes what the host build computes. It builds the cross program, writes
# a small graph artifact (build/tests/test_remote --write-graph: a MobileNetV3
# with depthwise, squeeze-and-excitation and hardswish instructions), times it
# with the host build and with the aarch64 build under qemu-aarch64 (one
# thread, batch 2), checks both gos.timings artifacts, that the aarch64 one
# was written by aarch64 code, and that their /output tensors agree (max
# |host - arm| <= 1e-4 x max |host|: the sgemm kernels differ). Timings under
# emulation are not device figures: they are labelled `qemu-aarch64-emulated`
# and only the outputs are compared. (The remote-device path is
# tests/test_remote.c.)
# Without the cross toolchain (scripts/install-deps.sh --cross) this test
# fails, unless GOS_SKIP_CROSS=1. Run from the repository root (make check
# sets GOS_BUILD and GOS_MAKE_ARGS). Prints "test_cross: N passed, N failed".
set -u
build=${GOS_BUILD:-build}
make_args=${GOS_MAKE_ARGS:-}
tmp=$(mktemp -d /tmp/gos_test_cross.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
: > "$tmp/out"

test_name=test_cross
. "$(dirname "$0")/check.sh"

missing=""
for tool in aarch64-linux-gnu-gcc aarch64-linux-gnu-readelf qemu-aarch64; do
    command -v "$tool" > /dev/null 2>&1 || missing="$missing $tool"
done
for lib in /usr/lib/aarch64-linux-gnu/libhdf5_serial.so.103 \
           /usr/lib/aarch64-linux-gnu/openblas-openmp/libopenblas.so \
           /usr/lib/aarch64-linux-gnu/libz.so; do
    [ -e "$lib" ] || missing="$missing $lib"
done
if [ -n "$missing" ]; then
    if [ "${GOS_SKIP_CROSS:-0}" = 1 ]; then
        echo "test_cross: skipped (GOS_SKIP_CROSS=1; missing:$missing)"
        echo "test_cross: 0 passed, 0 failed"
        exit 0
    fi
    echo "cross toolchain missing:$missing" > "$tmp/out"
    echo "run scripts/install-deps.sh --cross, or set GOS_SKIP_CROSS=1 to skip this test" >> "$tmp/out"
    check "the cross toolchain and the arm64 libraries are installed" false
    check_summary
    exit $?
fi

# The programs: the host ones (make check has built them; cheap otherwise)
# and the cross one.
make --no-print-directory $make_args "$build/gos_bench_graph" "$build/check_artifact" \
    "$build/tests/test_remote" > "$tmp/out" 2>&1
check "the host programs build" test $? -eq 0
arm="$build/aarch64/gos_bench_graph"
make --no-print-directory $make_args "$arm" > "$tmp/out" 2>&1
check "the aarch64 gos_bench_graph builds (make cross)" test $? -eq 0
aarch64-linux-gnu-readelf -h "$arm" > "$tmp/out" 2>&1
check "$arm is an AArch64 executable" grep -q "Machine:.*AArch64" "$tmp/out"
aarch64-linux-gnu-readelf -d "$arm" > "$tmp/out" 2>&1
check "$arm needs neither libconfig nor GSL" sh -c "! grep -Eq 'libconfig|libgsl' '$tmp/out'"

# The graph, timed by both builds on the same fixed input.
"$build/tests/test_remote" --write-graph "$tmp/graph.h5" > "$tmp/out" 2>&1
check "the test graph artifact is written" test $? -eq 0
opts="--batch 2 --threads 1 --warmup 0 --runs 1 --min-run-ms 0"
"$build/gos_bench_graph" "$tmp/graph.h5" "$tmp/host.h5" $opts > "$tmp/out" 2>&1
check "the host build times the graph" test $? -eq 0
QEMU_LD_PREFIX=/usr/aarch64-linux-gnu timeout 600 qemu-aarch64 "$arm" "$tmp/graph.h5" \
    "$tmp/arm.h5" $opts --device qemu-aarch64-emulated > "$tmp/out" 2>&1
check "the aarch64 build times the graph under qemu-aarch64" test $? -eq 0
"$build/check_artifact" "$tmp/host.h5" "$tmp/arm.h5" > "$tmp/out" 2>&1
check "both timings artifacts are valid gos.timings" test "$(grep -c 'ok (gos.timings v1)' "$tmp/out")" -eq 2
h5dump -a /latency/build "$tmp/arm.h5" > "$tmp/out" 2>&1
check "the aarch64 timings were taken by aarch64 code" grep -q "target aarch64" "$tmp/out"
h5dump -a /latency/device "$tmp/arm.h5" > "$tmp/out" 2>&1
check "the emulated timings are labelled as such" grep -q "qemu-aarch64-emulated" "$tmp/out"
"$build/gos_bench_graph" --compare "$tmp/host.h5" "$tmp/arm.h5" --tolerance 1e-4 > "$tmp/out" 2>&1
check "host and aarch64 outputs agree (max |diff| <= 1e-4 max |host|)" test $? -eq 0
cat "$tmp/out"

# The comparison refuses outputs of another batch.
"$build/gos_bench_graph" "$tmp/graph.h5" "$tmp/host1.h5" --threads 1 --warmup 0 --runs 1 \
    --min-run-ms 0 > "$tmp/out" 2>&1
"$build/gos_bench_graph" --compare "$tmp/host.h5" "$tmp/host1.h5" > "$tmp/out" 2>&1
check "outputs of another batch are an error, not a comparison" \
    sh -c "[ $? -eq 1 ] && grep -q 'not the same graph and batch' '$tmp/out'"

check_summary
