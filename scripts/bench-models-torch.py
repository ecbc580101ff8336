#!/usr/bin/python3
"""bench-models-torch.py: times the whole models of bench/bench_models.c in PyTorch.

Models (the project's names; torchvision 0.14 builds, randomly initialised):
  resnet18           torchvision resnet18
  resnet18_small     resnet18 with the CIFAR stem the project's resnet18_small
                     has: conv1 = Conv2d(3, 64, 3, stride 1, pad 1, no bias),
                     maxpool = Identity
  mobilenetv3_small  torchvision mobilenet_v3_small (classifier dropout 0.2)
  mobilenetv3_large  torchvision mobilenet_v3_large (classifier dropout 0.2)
  inceptionv3        torchvision inception_v3(aux_logits=False,
                     transform_input=False, init_weights=False)
with num_classes set to the row's class count, NCHW float32.

Modes:
  train  one SGD step: optimizer.zero_grad(set_to_none=True), forward in
         train mode, F.cross_entropy (mean), backward, torch.optim.SGD step
         (lr 0.01, momentum 0.9, weight decay 5e-4 on every parameter), on a
         fixed random batch and labels.
  infer  one forward in eval mode under torch.inference_mode().
Threads: torch.set_num_threads(N) before each chunk of calls.

--serve is the co-process mode bench_models uses (tab-separated lines):
  in:  load <name> <model> <mode> <size> <batch> <classes>
  out: ok <seconds to build>          or   error <message>
  in:  time <threads> <warmup> <lead seconds> <calls>
  out: times <s1,s2,...> <CPU seconds this process used for the chunk>
A chunk is `warmup` untimed calls, then the lead: untimed calls for `lead
seconds` when the last timed calls were shorter than that, else a pause as
long (bench_models' OpenMP threads spin for some milliseconds after its own
calls; the lead lets that pass and refills the caches), then `calls` timed
calls. It prints one '#' info line first. bench_models alternates chunks of
its own calls with chunks of these, so both sides see about the same machine
state, and takes the medians; the CPU time lets it tell how busy other
processes kept the machine.

--export-onnx DIR writes the inference rows' models as ONNX files for
scripts/bench-models-ort.js: DIR/<model>_<size>_<classes>.onnx (torch.onnx
.export, opset 13, input "input" of the row's batch, output "logits"; the
same random initialisation as the timed model), skipping files already
there.

Without --serve or --export-onnx it runs `build/bench/bench_models --list`
(or reads --rows) and prints its own table: median seconds per call over --time seconds per
row (at least 5 calls) after 2 warm-up calls. Python's per-call overhead is
included in every figure (as in any PyTorch program).

  /usr/bin/python3 scripts/bench-models-torch.py [--time S] [--filter SUBSTR]
                                                 [--rows FILE|-] [--bench PATH] [--serve]
                                                 [--export-onnx DIR]
Needs torch and torchvision (the system /usr/bin/python3 has them).
"""
import argparse
import ctypes
import os
import statistics
import subprocess
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision.models as tvm

WARMUP_CALLS = 2
SLOW_CALL = 0.25  # seconds: calls this long are tried once per BLAS setting
MIN_CALLS = 5
MAX_CALLS = 200
LR, MOMENTUM, WEIGHT_DECAY = 0.01, 0.9, 5e-4


class OpenBlas:
    """openblas_set_num_threads of the OpenBLAS torch loaded, if any."""

    def __init__(self):
        self.lib, self.threads, self.name = None, None, "none found"
        try:
            with open("/proc/self/maps") as f:
                paths = sorted({line.split()[-1] for line in f
                                if "openblas" in os.path.basename(line.split()[-1])})
        except OSError:
            paths = []
        for path in paths:
            try:
                lib = ctypes.CDLL(path)
                lib.openblas_set_num_threads.argtypes = [ctypes.c_int]
            except (OSError, AttributeError):
                continue
            self.lib, self.name = lib, os.path.basename(path)
            break

    def set_threads(self, n):
        if self.lib and n != self.threads:
            self.lib.openblas_set_num_threads(n)
            self.threads = n


BLAS = OpenBlas()


def build_model(name, classes):
    if name == "resnet18":
        return tvm.resnet18(weights=None, num_classes=classes)
    if name == "resnet18_small":
        model = tvm.resnet18(weights=None, num_classes=classes)
        model.conv1 = nn.Conv2d(3, 64, kernel_size=3, stride=1, padding=1, bias=False)
        model.maxpool = nn.Identity()
        return model
    if name == "mobilenetv3_small":
        return tvm.mobilenet_v3_small(weights=None, num_classes=classes)
    if name == "mobilenetv3_large":
        return tvm.mobilenet_v3_large(weights=None, num_classes=classes)
    if name == "inceptionv3":
        return tvm.inception_v3(weights=None, num_classes=classes, aux_logits=False,
                                transform_input=False, init_weights=False)
    raise ValueError(f"unknown model {name!r}")


class Runner:
    """One model in one mode with its input batch; call() runs one step."""

    def __init__(self, model_name, mode, size, batch, classes):
        torch.manual_seed(0)
        self.model = build_model(model_name, classes)
        self.last_call = 0.0  # median seconds of the last timed calls
        self.blas_threads = {}  # torch threads -> OpenBLAS threads (None: to choose)
        self.x = torch.randn(batch, 3, size, size)
        if mode == "train":
            self.model.train()
            self.y = torch.randint(0, classes, (batch,))
            self.opt = torch.optim.SGD(self.model.parameters(), lr=LR, momentum=MOMENTUM,
                                       weight_decay=WEIGHT_DECAY)
            self.call = self.train_step
        elif mode == "infer":
            self.model.eval()
            self.call = self.forward
        else:
            raise ValueError(f"unknown mode {mode!r}")

    def train_step(self):
        self.opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(self.model(self.x), self.y)
        loss.backward()
        self.opt.step()

    def forward(self):
        with torch.inference_mode():
            self.model(self.x)

    def timed(self, calls):
        times = []
        for _ in range(calls):
            t0 = time.perf_counter()
            self.call()
            times.append(time.perf_counter() - t0)
        return times

    def choose_blas_threads(self, threads):
        """The faster of OpenBLAS on `threads` threads and on 1 (see the
        module docstring), measured now; leaves that setting in force."""
        calls = 1 if self.last_call >= SLOW_CALL else 3
        timings = {}
        for b in (threads, 1):
            BLAS.set_threads(b)
            if calls > 1:
                self.call()  # untimed: the first after a switch
            timings[b] = statistics.median(self.timed(calls))
        best = min(timings, key=timings.get)
        BLAS.set_threads(best)
        return best

    def time_calls(self, threads, warmup, lead, calls):
        """Seconds of each of `calls` calls after `warmup` untimed calls and
        the lead (see the module docstring), and the OpenBLAS thread count."""
        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)
        if threads not in self.blas_threads:
            self.blas_threads[threads] = 1 if threads == 1 or not BLAS.lib else None
        BLAS.set_threads(self.blas_threads[threads] or threads)
        for _ in range(warmup):
            t0 = time.perf_counter()
            self.call()
            self.last_call = time.perf_counter() - t0
        if self.blas_threads[threads] is None:
            self.blas_threads[threads] = self.choose_blas_threads(threads)
        if lead > 0 and self.last_call >= lead:
            time.sleep(lead)
        elif lead > 0:
            start = time.perf_counter()
            while True:
                self.call()
                if time.perf_counter() - start >= lead:
                    break
        times = self.timed(calls)
        if times:
            self.last_call = statistics.median(times)
        return times, self.blas_threads[threads]


def parse_row(line):
    """A row dict from one --list line (name model mode size batch classes
    threads), None for comments and blanks."""
    line = line.rstrip("\n")
    if not line.strip() or line.startswith("#"):
        return None
    f = line.split("\t")
    if len(f) != 7:
        raise ValueError(f"bad row line (want 7 tab-separated fields): {line!r}")
    return {"name": f[0], "model": f[1], "mode": f[2], "size": int(f[3]), "batch": int(f[4]),
            "classes": int(f[5]), "threads": int(f[6])}


def serve(info):
    print("# " + info, flush=True)
    runner = None
    for line in sys.stdin:
        f = line.rstrip("\n").split("\t")
        try:
            if f[0] == "load" and len(f) == 7:
                runner = None
                t0 = time.perf_counter()
                runner = Runner(f[2], f[3], int(f[4]), int(f[5]), int(f[6]))
                print(f"ok\t{time.perf_counter() - t0:.3f}", flush=True)
            elif f[0] == "time" and len(f) == 5 and runner is not None:
                cpu = time.process_time()
                times, blas = runner.time_calls(int(f[1]), int(f[2]), float(f[3]), int(f[4]))
                cpu = time.process_time() - cpu
                print("times\t" + ",".join(f"{t:.6f}" for t in times) + f"\t{cpu:.4f}\t{blas}",
                      flush=True)
            else:
                print(f"error\tbad request {line.strip()!r}", flush=True)
        except Exception as e:  # report and keep serving; bench_models decides
            print(f"error\t{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}",
                  flush=True)


def export_onnx(rows, out_dir):
    """Writes each distinct inference model of rows to out_dir (see the
    module docstring)."""
    os.makedirs(out_dir, exist_ok=True)
    done = set()
    for r in rows:
        key = (r["model"], r["size"], r["classes"])
        if r["mode"] != "infer" or key in done:
            continue
        done.add(key)
        path = os.path.join(out_dir, f"{r['model']}_{r['size']}_{r['classes']}.onnx")
        if os.path.exists(path):
            continue
        runner = Runner(r["model"], "infer", r["size"], r["batch"], r["classes"])
        tmp = path + ".tmp"
        with torch.no_grad():
            torch.onnx.export(runner.model, runner.x, tmp, opset_version=13,
                              input_names=["input"], output_names=["logits"])
        os.replace(tmp, path)  # complete or absent
        print(f"bench-models-torch: wrote {path}", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--time", type=float, default=1.0,
                        help="seconds of timed calls per row (standalone mode)")
    parser.add_argument("--filter", default=None, help="only rows whose name contains this")
    parser.add_argument("--rows", default=None, help="row list file, '-' for stdin")
    parser.add_argument("--bench", default="build/bench/bench_models",
                        help="bench_models binary giving the row list")
    parser.add_argument("--serve", action="store_true",
                        help="co-process mode for bench_models (requests on stdin)")
    parser.add_argument("--export-onnx", metavar="DIR", default=None,
                        help="write the inference rows' models as ONNX files to DIR")
    args = parser.parse_args()

    info = (f"torch {torch.__version__} mkldnn="
            f"{torch.backends.mkldnn.is_available() and torch.backends.mkldnn.enabled} "
            f"OpenMP={torch.backends.openmp.is_available()} BLAS={BLAS.name}")
    if args.serve:
        serve(info)
        return

    if args.rows == "-":
        text = sys.stdin.read()
    elif args.rows:
        with open(args.rows) as f:
            text = f.read()
    else:
        text = subprocess.run([args.bench, "--list"], check=True, capture_output=True,
                              text=True).stdout
    rows = [r for r in map(parse_row, text.splitlines()) if r]
    rows = [r for r in rows if not args.filter or args.filter in r["name"]]
    if args.export_onnx:
        export_onnx(rows, args.export_onnx)
        return
    print(f"bench-models-torch: {info} date={time.strftime('%Y-%m-%d %H:%M:%S %Z')}")
    print("median per call after 2 warm-up calls; ms measured on this host")
    print(f"{'row':<40} {'ms':>9} {'img/s':>9} {'calls':>5} {'blas':>4}", flush=True)
    runner, loaded = None, None
    for r in rows:
        key = (r["model"], r["mode"], r["size"], r["batch"], r["classes"])
        if key != loaded:
            runner, loaded = None, key
            runner = Runner(*key)
        times, blas = runner.time_calls(r["threads"], WARMUP_CALLS, 0.0, MIN_CALLS)
        while len(times) < MAX_CALLS and sum(times) < args.time:
            times += runner.time_calls(r["threads"], 0, 0.0, 1)[0]
        med = statistics.median(times)
        print(f"{r['name']:<40} {1e3 * med:9.2f} {r['batch'] / med:9.1f} {len(times):5d} "
              f"{blas:4d}", flush=True)


if __name__ == "__main__":
    main()
