#!/usr/bin/python3
"""bench-torch.py: times the convolution layers of bench/bench_conv.c in PyTorch.

For each layer: torch.nn.functional.conv2d forward (under no_grad) and the
backward alone via autograd (torch.autograd.grad of a retained graph for the
input and the weight, i.e. dinp + dweight), NCHW float32, no bias, on the
given thread count. Prints GFLOP/s with bench_conv's conventions: FLOPs =
2*MACs, forward MACs = N*OC*OH*OW*(C/groups)*KH*KW, backward = 2x forward.
Timing as bench_conv: 2 warm-up calls, then calls timed one by one
(time.perf_counter) until the budget or 200 calls; the median call.

The layer list comes from bench_conv (one source of truth for names and
shapes): tab-separated lines "name N C H W OC KH KW SH SW PH PW groups".

  /usr/bin/python3 scripts/bench-torch.py [--threads N] [--time S] [--filter SUBSTR]
                                          [--layers FILE|-] [--bench PATH] [--tsv]

Without --layers it runs `build/bench/bench_conv --list`. --tsv prints
"name<TAB>fwd GFLOP/s<TAB>bwd GFLOP/s" per layer and '#' info lines (the form
bench_conv reads); otherwise a table. Needs torch (the system python3 has it).
"""
import argparse
import os
import statistics
import subprocess
import sys
import time

import torch
import torch.nn.functional as F

MAX_REPS = 200
MIN_REPS = 3
WARMUP_CALLS = 2


def read_layers(args):
    if args.layers == "-":
        text = sys.stdin.read()
    elif args.layers:
        with open(args.layers) as f:
            text = f.read()
    else:
        text = subprocess.run([args.bench, "--list"], check=True, capture_output=True,
                              text=True).stdout
    layers = []
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        name, dims = fields[0], [int(v) for v in fields[1:13]]
        if args.filter and args.filter not in name:
            continue
        keys = ("N", "C", "H", "W", "OC", "KH", "KW", "SH", "SW", "PH", "PW", "groups")
        layers.append(dict(zip(keys, dims), name=name))
    return layers


def time_median(fn, budget):
    for _ in range(WARMUP_CALLS):
        fn()
    samples = []
    start = time.perf_counter()
    while True:
        t0 = time.perf_counter()
        fn()
        end = time.perf_counter()
        samples.append(end - t0)
        if len(samples) >= MAX_REPS or (len(samples) >= MIN_REPS and end - start >= budget):
            return statistics.median(samples)


def bench_layer(L, budget):
    """Returns (forward GFLOP/s, backward GFLOP/s) of one layer."""
    stride, padding, groups = (L["SH"], L["SW"]), (L["PH"], L["PW"]), L["groups"]
    x = torch.rand(L["N"], L["C"], L["H"], L["W"]) * 2 - 1
    w = torch.rand(L["OC"], L["C"] // groups, L["KH"], L["KW"]) * 2 - 1

    def forward():
        with torch.no_grad():
            return F.conv2d(x, w, None, stride, padding, 1, groups)

    fwd_s = time_median(forward, budget)

    x.requires_grad_(True)
    w.requires_grad_(True)
    out = F.conv2d(x, w, None, stride, padding, 1, groups)
    grad_out = torch.rand_like(out) * 2 - 1

    def backward():
        return torch.autograd.grad(out, (x, w), grad_out, retain_graph=True)

    bwd_s = time_median(backward, budget)
    N, OC, OH, OW = out.shape
    flops = 2.0 * N * OC * OH * OW * (L["C"] // groups) * L["KH"] * L["KW"]
    return flops / fwd_s / 1e9, 2.0 * flops / bwd_s / 1e9


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=0, help="0: all cores")
    parser.add_argument("--time", type=float, default=0.2, help="budget per measurement, s")
    parser.add_argument("--filter", default=None, help="only layers whose name contains this")
    parser.add_argument("--layers", default=None, help="layer list file, '-' for stdin")
    parser.add_argument("--bench", default="build/bench/bench_conv",
                        help="bench_conv binary giving the layer list")
    parser.add_argument("--tsv", action="store_true", help="machine-readable output")
    args = parser.parse_args()

    threads = args.threads if args.threads > 0 else (os.cpu_count() or 1)
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    layers = read_layers(args)
    info = (f"torch {torch.__version__} threads={torch.get_num_threads()} "
            f"mkldnn={torch.backends.mkldnn.is_available() and torch.backends.mkldnn.enabled}")

    if args.tsv:
        print("# " + info, flush=True)
        for L in layers:
            fwd, bwd = bench_layer(L, args.time)
            print(f"{L['name']}\t{fwd:.3f}\t{bwd:.3f}", flush=True)
        return

    print(f"bench-torch: {info} date={time.strftime('%Y-%m-%d %H:%M:%S %Z')}")
    print("FLOPs = 2*MACs, backward = dinp + dweight = 2x forward; median of timed calls")
    print(f"{'layer':<54} {'N':>3} {'fwdGF/s':>8} {'bwdGF/s':>8}", flush=True)
    for L in layers:
        fwd, bwd = bench_layer(L, args.time)
        print(f"{L['name']:<54} {L['N']:>3} {fwd:8.1f} {bwd:8.1f}", flush=True)


if __name__ == "__main__":
    main()
