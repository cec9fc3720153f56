"""Cost and agreement of the SHAP backends on one model (one process, same data).

Runs, on the same model, inputs, background and targets (each sample's predicted class):

- ``fast``: harxai's engine, target logit only;
- ``deepexplainer``: shap.DeepExplainer, target logit only (reference);
- ``floor``: a plain autograd forward and backward of the model over the same (sample,
  background) pair rows as the engine, with no rules: the limit of this method, so the
  distance of ``fast`` to it is visible;
- ``deepexplainer_all``: shap.DeepExplainer explaining every output, as the seed code did
  (timed on ``--all-outputs-samples`` samples; per-sample seconds are reported).

The model is harxai's tiny preset with random weights, or any model: ``--factory
module.path:callable`` or ``--factory path/to/file.py:callable`` (``--kwargs`` a JSON object
passed to it, ``--output`` the element of a tuple output, ``--shape`` the per-sample input
shape, one input). The runs are interleaved ``--repeats`` times and the minimum per-sample
time of each is kept, so the ratios stay meaningful on a machine shared with other jobs (the
absolute seconds do not). Wall and CPU (process) seconds are both reported, and the engine's
first-call set-up (its first call in the process against its second, after two floor passes
have warmed PyTorch). Prints one JSON line with the per-sample seconds, the ratios, the
maximum deviation of fast from the single-target reference (relative to max |phi_ref|), the
completeness errors, the allocator (jemalloc when LD_PRELOAD names it), the torch threads and
the CPU model.

    LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2 \\
        python benchmarks/shap_backends.py [--samples 12] [--background 20] [--frames 64]
    python benchmarks/shap_backends.py --factory tests/models_zoo.py:stgcn \\
        --kwargs '{"num_class": 60}' --shape 3,150,25,2 --samples 8 --background 20
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import os
import platform
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from harxai.config import FEATURE_GROUPS
from harxai.explain import shap_values
from harxai.explain.deepexplainer import deepexplainer_all_outputs, relogged_warnings
from harxai.explain.deeplift import auto_batch_size, frozen_eval
from harxai.explain.deeplift.engine import pass_layout
from harxai.explain.shap_api import ShapResult, completeness_error
from harxai.models import build_model
from harxai.models.presets import make_architecture
from harxai.skeletons import get_layout


def cpu_model() -> str:
    """CPU model name from /proc/cpuinfo (or the platform's processor string)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def allocator() -> str:
    """``jemalloc`` when LD_PRELOAD loads it, else ``glibc``."""
    return "jemalloc" if "jemalloc" in os.environ.get("LD_PRELOAD", "") else "glibc"


def timed(func: Callable[[], Any]) -> tuple[Any, float, float]:
    """Result, wall seconds and CPU seconds of ``func()``."""
    wall, cpu = time.perf_counter(), time.process_time()
    out = func()
    return out, time.perf_counter() - wall, time.process_time() - cpu


def build(args: argparse.Namespace) -> tuple[torch.nn.Module, list[torch.Tensor], list[torch.Tensor]]:
    """The model (tiny preset or ``--factory``), random inputs and background."""
    torch.manual_seed(args.seed)
    if args.factory:
        wrapped = FirstOutput(load_factory(args.factory)(**json.loads(args.kwargs)), args.output)
        shape = tuple(int(v) for v in args.shape.split(","))
        xs = [torch.randn(args.samples, *shape)]
        bs = [torch.randn(args.background, *shape)]
        return (
            wrapped.eval().to(args.device),
            [x.to(args.device) for x in xs],
            [b.to(args.device) for b in bs],
        )
    arch = make_architecture(
        "tiny",
        attention=args.attention,
        dropout=0.1,
        in_channels=dict.fromkeys(FEATURE_GROUPS, 6),
        layout=get_layout("ntu25").to_dict(),
        num_classes=args.classes,
    )
    model = build_model(arch).eval().to(args.device)
    shape = (6, args.frames, 25, args.persons)
    xs = [torch.randn(args.samples, *shape).to(args.device) for _ in FEATURE_GROUPS]
    bs = [torch.randn(args.background, *shape).to(args.device) for _ in FEATURE_GROUPS]
    return model, xs, bs


def load_factory(spec: str) -> Callable[..., torch.nn.Module]:
    """The callable named by ``module.path:name`` or ``path/to/file.py:name``."""
    where, _, name = spec.rpartition(":")
    if not where or not name:
        raise SystemExit(f"--factory must be module:callable or file.py:callable, got {spec!r}")
    if where.endswith(".py"):
        path = Path(where).resolve()
        module_spec = importlib.util.spec_from_file_location(path.stem, path)
        if module_spec is None or module_spec.loader is None:
            raise SystemExit(f"--factory: cannot load {path}")
        module = importlib.util.module_from_spec(module_spec)
        module_spec.loader.exec_module(module)
    else:
        module = importlib.import_module(where)
    factory = getattr(module, name, None)
    if not callable(factory):
        raise SystemExit(f"--factory: {where} has no callable {name!r}")
    return factory  # type: ignore[no-any-return]


class FirstOutput(torch.nn.Module):
    """``model(*x)``, or its element ``index`` when it returns a tuple (index None: as is)."""

    def __init__(self, model: torch.nn.Module, index: int | None) -> None:
        super().__init__()
        self.model, self.index = model, index

    def forward(self, *x: torch.Tensor) -> torch.Tensor:
        out = self.model(*x)
        return out if self.index is None else out[self.index]  # type: ignore[no-any-return]


def floor(
    model: torch.nn.Module, xs: list[torch.Tensor], bs: list[torch.Tensor], target: np.ndarray, batch: int
) -> None:
    """Plain autograd over the engine's (sample, background) pair rows: one forward and backward
    per pass, no rules (the limit of the fast engine's method)."""
    n, nb = xs[0].shape[0], bs[0].shape[0]
    chunk, per_batch = pass_layout(n, nb, batch)
    t = torch.as_tensor(target, device=xs[0].device)
    with frozen_eval(model), torch.enable_grad():
        for _ in range(0, nb, chunk):
            for i0 in range(0, n, per_batch):
                paired = [x[i0 : i0 + per_batch].repeat_interleave(chunk, 0).requires_grad_(True) for x in xs]
                out = model(*paired)
                picked = out.gather(1, t[i0 : i0 + per_batch].repeat_interleave(chunk).view(-1, 1)).sum()
                torch.autograd.grad(picked, paired)


def first_call_setup(
    args: argparse.Namespace,
    model: torch.nn.Module,
    xs: list[torch.Tensor],
    bs: list[torch.Tensor],
    target: np.ndarray,
) -> dict[str, float]:
    """One-time set-up of the engine: its first call in the process against its second (one sample).

    Two plain autograd passes (the floor) run first, so PyTorch's own warm-up (kernel selection,
    allocator growth) is not counted as the engine's.
    """
    one, batch = [x[:1] for x in xs], args.batch_size or auto_batch_size(model, bs)
    for _ in range(2):
        floor(model, one, bs, target[:1], batch)
    runs = [
        timed(lambda: shap_values(model, one, bs, target[:1], "fast", args.batch_size))[1:] for _ in range(2)
    ]
    return {
        "first_call_setup_s": runs[0][0] - runs[1][0],
        "first_call_setup_cpu_s": runs[0][1] - runs[1][1],
    }


def parse_args() -> argparse.Namespace:
    """Command-line arguments."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=12, help="samples explained by fast")
    parser.add_argument(
        "--reference-samples", type=int, default=2, help="of them, explained by deepexplainer"
    )
    parser.add_argument("--all-outputs-samples", type=int, default=1, help="0: skip the all-outputs run")
    parser.add_argument("--background", type=int, default=20)
    parser.add_argument("--frames", type=int, default=64)
    parser.add_argument("--persons", type=int, default=2)
    parser.add_argument("--classes", type=int, default=60)
    parser.add_argument("--attention", default="joint", choices=("joint", "frame", "none"))
    parser.add_argument(
        "--batch-size", type=int, default=None, help="fast engine pairs per pass (default: auto_batch_size)"
    )
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu", help="cpu or cuda (model and tensors)")
    parser.add_argument("--allocator-note", default="", help="free text stored with the allocator")
    parser.add_argument("--factory", default="", help="module:callable or file.py:callable (any model)")
    parser.add_argument("--kwargs", default="{}", help="JSON object of keyword arguments for --factory")
    parser.add_argument("--shape", default="3,150,25,2", help="--factory: per-sample input shape")
    parser.add_argument("--output", type=int, default=None, help="--factory: element of a tuple output")
    return parser.parse_args()


def single_target(
    args: argparse.Namespace,
    model: torch.nn.Module,
    xs: list[torch.Tensor],
    bs: list[torch.Tensor],
    target: np.ndarray,
) -> tuple[dict[str, Any], ShapResult, float, float]:
    """Interleaved fast / deepexplainer (target logit) runs; figures, reference result, fast minima."""
    k = min(args.reference_samples, args.samples)
    sub = [x[:k] for x in xs]
    fast_s, ref_s, fast_cpu, ref_cpu, floor_s, floor_cpu = [], [], [], [], [], []
    batch = args.batch_size or auto_batch_size(model, bs)
    for _ in range(args.repeats):
        fast, wall, cpu = timed(lambda: shap_values(model, xs, bs, target, "fast", args.batch_size))
        fast_s.append(wall / args.samples)
        fast_cpu.append(cpu / args.samples)
        ref, wall, cpu = timed(lambda: shap_values(model, sub, bs, target[:k], "deepexplainer"))
        ref_s.append(wall / k)
        ref_cpu.append(cpu / k)
        _, wall, cpu = timed(lambda: floor(model, xs, bs, target, batch))
        floor_s.append(wall / args.samples)
        floor_cpu.append(cpu / args.samples)
    phi_f = np.concatenate([v[:k].ravel() for v in fast.values])
    phi_r = np.concatenate([v.ravel() for v in ref.values])
    gap = float(np.abs(fast.output - fast.expected_value).max())
    figures = {
        "samples_fast": args.samples,
        "samples_deepexplainer": k,
        "fast_s_per_sample": min(fast_s),
        "deepexplainer_s_per_sample": min(ref_s),
        "fast_cpu_s_per_sample": min(fast_cpu),
        "deepexplainer_cpu_s_per_sample": min(ref_cpu),
        "ratio_deepexplainer_over_fast": min(ref_s) / min(fast_s),
        "ratio_cpu_deepexplainer_over_fast": min(ref_cpu) / min(fast_cpu),
        "floor_s_per_sample": min(floor_s),
        "ratio_fast_over_floor": min(fast_s) / min(floor_s),
        "floor_cpu_s_per_sample": min(floor_cpu),
        "ratio_cpu_fast_over_floor": min(fast_cpu) / min(floor_cpu),
        "max_deviation_fast_vs_deepexplainer": float(np.abs(phi_f - phi_r).max() / np.abs(phi_r).max()),
        "completeness_error_fast": fast.completeness_error,
        "completeness_error_deepexplainer": ref.completeness_error,
        # the completeness errors are relative to this gap, max |f(x) - E[f(b)]|: on a model
        # with random weights it is small, so float32 rounding alone gives ~1e-4 relative
        "max_gap": gap,
        "completeness_abs_fast": fast.completeness_error * max(gap, 1e-6),
    }
    return figures, ref, min(fast_s), min(fast_cpu)


def all_outputs(
    count: int,
    model: torch.nn.Module,
    xs: list[torch.Tensor],
    bs: list[torch.Tensor],
    target: np.ndarray,
    ref: ShapResult,
    fast_s: float,
    fast_cpu: float,
) -> dict[str, Any]:
    """shap.DeepExplainer explaining every output (the seed's setting) on ``count`` samples."""
    phis, wall, cpu = timed(lambda: deepexplainer_all_outputs(model, [x[:count] for x in xs], bs))
    picked = [p[np.arange(count), ..., target[:count]] for p in phis]  # (sample, ...) of each target
    err = None
    if count <= len(ref.output):
        err = completeness_error(picked, ref.output[:count], ref.expected_value[:count])
    return {
        "samples_deepexplainer_all": count,
        "deepexplainer_all_s_per_sample": wall / count,
        "deepexplainer_all_cpu_s_per_sample": cpu / count,
        "ratio_deepexplainer_all_over_fast": wall / count / fast_s,
        "ratio_cpu_deepexplainer_all_over_fast": cpu / count / fast_cpu,
        "completeness_error_deepexplainer_all_target": err,
    }


def main() -> None:
    """Run the backends and print one JSON line."""
    args = parse_args()
    torch.set_num_threads(args.threads)
    model, xs, bs = build(args)
    with torch.no_grad():
        target = model(*xs).argmax(1).cpu().numpy()
    with relogged_warnings():
        import shap  # noqa: F401  (import cost outside the timings)
    setup = first_call_setup(args, model, xs, bs, target)
    record: dict[str, Any] = {
        "benchmark": "shap_backends",
        "model": f"{args.factory} {args.kwargs}"
        if args.factory
        else f"tiny preset, attention {args.attention}, random weights, {args.classes} classes",
        "input": f"1 x ({args.shape})"
        if args.factory
        else f"4 groups x (6, {args.frames}, 25, {args.persons})",
        "background": args.background,
        "batch_size": args.batch_size or auto_batch_size(model, bs),
        "batch_size_chosen_by": "--batch-size" if args.batch_size else "auto_batch_size",
    }
    figures, ref, fast_s, fast_cpu = single_target(args, model, xs, bs, target)
    record.update(figures)
    record.update(setup)
    if args.all_outputs_samples > 0:
        count = min(args.all_outputs_samples, args.samples)
        record.update(all_outputs(count, model, xs, bs, target, ref, fast_s, fast_cpu))
    record.update(
        {
            "allocator": allocator(),
            "allocator_note": args.allocator_note,
            "torch_threads": torch.get_num_threads(),
            "cpu": cpu_model(),
            "device": args.device,
            "gpu": torch.cuda.get_device_name() if args.device.startswith("cuda") else None,
            "torch": torch.__version__,
            "note": "one process, interleaved runs, minimum per-sample time; on a shared machine "
            "trust the ratios, not the seconds",
        }
    )
    print(json.dumps(record))


if __name__ == "__main__":
    main()
