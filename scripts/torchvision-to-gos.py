#!/usr/bin/python3
"""torchvision-to-gos.py: converts a torchvision model's state dict into a
gos.weights artifact (schemas/artifacts.md) that weights_import loads into the
project's model of the same name; optionally also writes an input batch and
PyTorch's logits for it (a gos.torch_reference artifact) to compare with.
The logits are computed in float64 (a double copy of the model) and stored
as float32, so a comparison measures the float32 error of the other side
alone; the script prints how far torch's own float32 forward is from them.

Run with Debian's python, which has python3-torch, python3-torchvision and
python3-h5py (scripts/install-deps.sh --torch installs them; another python3
may come first on PATH):

    /usr/bin/python3 scripts/torchvision-to-gos.py --model resnet18 --seed 1 \\
        --out resnet18.h5 [--input resnet18-ref.h5] [--state-dict FILE.pth]
        [--random-bn] [--batch 2] [--size 224]

Models: resnet18, mobilenetv3_large, mobilenetv3_small, inceptionv3 (built
with aux_logits=False, init_weights=True, transform_input=False). The model
is torchvision's, randomly initialised after torch.manual_seed(seed) (or
loaded from --state-dict), in evaluation mode.

--random-bn replaces batch norm's identity initialisation (gamma 1, beta 0,
running mean 0, variance 1), under which swapped tensors would go unnoticed:
gamma ~ U(0.5, 1.5), beta ~ U(-0.25, 0.25), and running statistics
accumulated (cumulative average) over one training-mode forward of a random
batch of 4, so every tensor differs and activations stay at a sane scale.

The tensors are written in state_dict order without num_batches_tracked:
the order of the graph the gos builders make (see schemas/artifacts.md).
Files are written to "<out>.tmp.<pid>" and renamed into place.
"""
import argparse
import copy
import datetime
import os
import subprocess
import sys

import h5py
import numpy as np
import torch
import torchvision
import torchvision.models as tvm

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STAGE = "torchvision-to-gos"
WEIGHTS_SCHEMA, WEIGHTS_VERSION = "gos.weights", 1
REFERENCE_SCHEMA, REFERENCE_VERSION = "gos.torch_reference", 1

MODELS = {
    "resnet18": (lambda: tvm.resnet18(weights=None), "resnet18", 224),
    "mobilenetv3_large": (lambda: tvm.mobilenet_v3_large(weights=None), "mobilenet_v3_large", 224),
    "mobilenetv3_small": (lambda: tvm.mobilenet_v3_small(weights=None), "mobilenet_v3_small", 224),
    "inceptionv3": (lambda: tvm.inception_v3(weights=None, aux_logits=False, init_weights=True,
                                             transform_input=False), "inception_v3", 299),
}


def now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def git_revision():
    """As h5io_git_revision: $GOS_GIT_REVISION, else the short HEAD (+ -dirty)."""
    env = os.environ.get("GOS_GIT_REVISION")
    if env:
        return env
    try:
        head = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, check=True).stdout.strip()
        status = subprocess.run(["git", "-C", REPO, "status", "--porcelain"],
                                capture_output=True, text=True, check=True).stdout
        return head + ("-dirty" if status.strip() else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def provenance(f, schema, version, args, start):
    """The root attributes h5io_check requires of every artifact."""
    f.attrs["schema"] = schema
    f.attrs["schema_version"] = np.int64(version)
    f.attrs["stage"] = STAGE
    f.attrs["git_revision"] = git_revision()
    f.attrs["experiment"] = ""
    f.attrs["config"] = "".join(f"{k} = {v!r};\n" for k, v in sorted(vars(args).items()))
    f.attrs["seed"] = np.int64(args.seed)
    f.attrs["threads"] = np.int64(torch.get_num_threads())
    f.attrs["blas"] = f"torch {torch.__version__} ({torch.get_num_threads()} threads)"
    f.attrs["start_time"] = start


def write_atomic(path, fill):
    """Writes path through "<path>.tmp.<pid>" and a rename."""
    tmp = f"{path}.tmp.{os.getpid()}"
    try:
        with h5py.File(tmp, "w") as f:
            fill(f)
            f.attrs["end_time"] = now()
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def randomize_bn(model, seed, size):
    """Random gamma/beta, then running statistics of one training batch."""
    gen = torch.Generator().manual_seed(seed + 1)
    bns = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    momenta = [bn.momentum for bn in bns]
    with torch.no_grad():
        for bn in bns:
            bn.weight.copy_(torch.rand(bn.weight.shape, generator=gen) + 0.5)
            bn.bias.copy_((torch.rand(bn.bias.shape, generator=gen) - 0.5) * 0.5)
            bn.reset_running_stats()
            bn.momentum = None  # cumulative average: this batch's statistics
        model.train()
        model(torch.randn(4, 3, size, size, generator=gen))
    for bn, momentum in zip(bns, momenta):
        bn.momentum = momentum


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True, choices=sorted(MODELS))
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", required=True, help="the gos.weights artifact to write")
    ap.add_argument("--input", help="also write an input batch and torch's logits here")
    ap.add_argument("--state-dict", help="load these weights (torch.save of a state dict)")
    ap.add_argument("--random-bn", action="store_true",
                    help="random batch-norm affine parameters and calibrated statistics")
    ap.add_argument("--batch", type=int, default=2, help="input batch for --input (2)")
    ap.add_argument("--size", type=int, default=0, help="input size (224; 299 for inceptionv3)")
    args = ap.parse_args()

    start = now()
    build, tv_name, default_size = MODELS[args.model]
    size = args.size or default_size
    torch.manual_seed(args.seed)
    model = build()
    source = f"torchvision {torchvision.__version__} {tv_name}"
    if args.state_dict:
        model.load_state_dict(torch.load(args.state_dict, map_location="cpu"))
        source += f", state dict {os.path.basename(args.state_dict)}"
    else:
        source += f", random init seed {args.seed}"
    if args.random_bn:
        randomize_bn(model, args.seed, size)
        source += ", random batch norm"
    model.eval()

    sd = model.state_dict()
    keys = [k for k in sd if not k.endswith("num_batches_tracked")]
    eps = {f"{n}.running_var": m.eps for n, m in model.named_modules()
           if isinstance(m, torch.nn.BatchNorm2d)}

    def fill_weights(f):
        provenance(f, WEIGHTS_SCHEMA, WEIGHTS_VERSION, args, start)
        f.attrs["model"] = args.model
        f.attrs["source"] = source
        grp = f.create_group("tensors")
        for k in keys:
            d = grp.create_dataset(k, data=sd[k].detach().float().contiguous().numpy())
            if k in eps:
                d.attrs["eps"] = np.float64(eps[k])
        f.create_dataset("tensor_names", data=np.array(keys, dtype=object),
                         dtype=h5py.string_dtype())

    write_atomic(args.out, fill_weights)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"{args.out}: {args.model} ({source}): {len(keys)} tensors, {n_params} parameters")

    if args.input:
        gen = torch.Generator().manual_seed(args.seed + 2)
        x = torch.randn(args.batch, 3, size, size, generator=gen)
        with torch.no_grad():
            logits32 = model(x)
            logits = copy.deepcopy(model).double()(x.double())
        rel32 = (logits32.double() - logits).abs().max().item() / logits.abs().max().item()

        def fill_reference(f):
            provenance(f, REFERENCE_SCHEMA, REFERENCE_VERSION, args, start)
            f.attrs["model"] = args.model
            f.attrs["source"] = source
            f.create_dataset("input", data=x.numpy().astype(np.float32))
            f.create_dataset("logits", data=logits.numpy().astype(np.float32))

        write_atomic(args.input, fill_reference)
        print(f"{args.input}: input {tuple(x.shape)}, logits {tuple(logits.shape)}, "
              f"max |logit| {logits.abs().max().item():.6g}; torch float32 differs from it by "
              f"{rel32:.3e} of that")
    return 0


if __name__ == "__main__":
    sys.exit(main())
