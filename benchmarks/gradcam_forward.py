"""Cost of GradCAM (both maps of one layer) relative to one plain forward pass of the same batch.

Prints one JSON line: per layer, the minimum seconds over interleaved repeats of
``GradCam.explain`` (one forward with autograd and one backward to the layer, giving cam and
cam_negated) and of a no-grad forward pass, and their ratio. The target is <= 3. On a shared
machine trust the ratios, not the seconds.

    python benchmarks/gradcam_forward.py [--preset tiny] [--samples 16] [--frames 64] [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import yaml

from harxai.config import FEATURE_GROUPS
from harxai.explain.cam import GradCam
from harxai.models import build_model
from harxai.models.presets import make_architecture
from harxai.skeletons import get_layout

SCHEMA = Path(__file__).resolve().parents[1] / "rules" / "schemas" / "config.schema.yaml"


def default_layers() -> list[str]:
    """The schema's default ``gradcam.layers``."""
    schema = yaml.safe_load(SCHEMA.read_text())
    return list(schema["properties"]["gradcam"]["properties"]["layers"]["default"])


def _seconds(func: Callable[[], Any], device: torch.device) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    func()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - start


def interleaved_min_seconds(
    first: Callable[[], Any], second: Callable[[], Any], repeats: int, device: torch.device
) -> tuple[float, float]:
    """Minimum wall times of two functions run alternately ``repeats`` times after a warm-up.

    Alternating the runs and keeping the minimum makes the ratio robust to other jobs sharing
    the machine.
    """
    first(), second()
    a, b = [], []
    for _ in range(repeats):
        a.append(_seconds(first, device))
        b.append(_seconds(second, device))
    return min(a), min(b)


def main() -> None:
    """Time GradCAM and a forward pass for every default layer and print one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--samples", type=int, default=16)
    parser.add_argument("--frames", type=int, default=64)
    parser.add_argument("--persons", type=int, default=2)
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    layout = get_layout("ntu25")
    arch = make_architecture(
        args.preset,
        attention="joint",
        dropout=0.0,
        in_channels=dict.fromkeys(FEATURE_GROUPS, 6),
        layout=layout.to_dict(),
        num_classes=args.classes,
    )
    model = build_model(arch).to(device).eval()
    shape = (args.samples, 6, args.frames, layout.num_joints, args.persons)
    inputs = [torch.randn(shape, device=device) for _ in FEATURE_GROUPS]
    target = torch.randint(0, args.classes, (args.samples,))

    def forward() -> None:
        with torch.no_grad():
            model(*inputs)

    layers: dict[str, dict[str, float]] = {}
    for layer in default_layers():
        explainer = GradCam(model, layer)
        cam_s, forward_s = interleaved_min_seconds(
            lambda e=explainer: e.explain(inputs, target), forward, args.repeats, device
        )
        layers[layer] = {
            "gradcam_s": round(cam_s, 5),
            "forward_s": round(forward_s, 5),
            "ratio": round(cam_s / forward_s, 3),
        }
    print(
        json.dumps(
            {
                "benchmark": "gradcam_forward",
                "preset": args.preset,
                "device": str(device),
                "threads": args.threads,
                "input": list(shape),
                "max_ratio": max(v["ratio"] for v in layers.values()),
                "layers": layers,
            }
        )
    )


if __name__ == "__main__":
    main()
