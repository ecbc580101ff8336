#!/bin/sh
# blas-coretype.sh: prints the OpenBLAS kernel `make bench` should use on this
# CPU, or nothing to let OpenBLAS choose.
#
# The environment of these machines pins OpenBLAS to Haswell kernels
# (OPENBLAS_CORETYPE, OPENBLAS_L2_SIZE) for tests and CI; the benchmark unsets
# both to measure the best kernel. But Debian 12's OpenBLAS 0.3.21 does not
# know recent Xeon models and, left alone, falls back to its SSE-only
# Prescott kernel (measured: sgemm 3-4x slower). So when the CPU has AVX-512
# this prints SkylakeX, with AVX2 Haswell; bench_conv prints the kernel
# OpenBLAS then reports (openblas_get_corename).
if grep -qw avx512f /proc/cpuinfo 2>/dev/null; then
    echo SkylakeX
elif grep -qw avx2 /proc/cpuinfo 2>/dev/null; then
    echo Haswell
fi
