"""Size presets and the JSON-able architecture dict a model is rebuilt from.

The architecture dict holds everything :func:`harxai.models.build_model` needs: the preset
name, the blocks (channel width, temporal kernel, temporal stride and number of graph
partitions K), the attention kind, dropout, input channels per feature group, the number
of joints and classes, and the skeleton layout (from which the adjacency is rebuilt).
The number of persons is taken from the input at run time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from ..config import FEATURE_GROUPS
from .attention import ATTENTIONS

ARCHITECTURE_FORMAT = 1
ARCHITECTURE_KEYS = (
    "format",
    "preset",
    "groups",
    "in_channels",
    "num_joints",
    "num_classes",
    "layout",
    "attention",
    "graph_residual",
    "frame_attention_kernel",
    "dropout",
    "branch_blocks",
    "main_blocks",
)


@dataclass(frozen=True)
class BlockSpec:
    """One block (graph convolution, temporal convolution, attention).

    Attributes
    ----------
    channels
        Output channel width of the block.
    temporal_kernel
        Odd kernel size (frames) of the temporal convolution.
    stride
        Temporal stride of the temporal convolution.
    partitions
        Number K of distance partitions (hops 0..K-1) of the graph convolution.
    """

    channels: int
    temporal_kernel: int
    stride: int
    partitions: int


@dataclass(frozen=True)
class Preset:
    """A named size preset: two input-branch blocks and two main-branch blocks."""

    name: str
    branch_blocks: tuple[BlockSpec, ...]
    main_blocks: tuple[BlockSpec, ...]
    frame_attention_kernel: int
    description: str


PRESETS: dict[str, Preset] = {
    "tiny": Preset(
        name="tiny",
        branch_blocks=(BlockSpec(8, 5, 3, 2), BlockSpec(16, 5, 2, 2)),
        main_blocks=(BlockSpec(32, 5, 1, 3), BlockSpec(24, 5, 1, 3)),
        frame_attention_kernel=9,
        description="trains on the embedded synthetic default in minutes on 2 CPU cores",
    ),
    "paper": Preset(
        name="paper",
        branch_blocks=(BlockSpec(128, 5, 1, 2), BlockSpec(128, 5, 2, 2)),
        main_blocks=(BlockSpec(128, 5, 1, 3), BlockSpec(48, 5, 1, 3)),
        frame_attention_kernel=9,
        description="the seed NTU model's widths (input branches 128, main 128 then 48); for GPUs",
    ),
}


def make_architecture(
    preset: str,
    *,
    attention: str,
    dropout: float,
    in_channels: Mapping[str, int],
    layout: Mapping[str, Any],
    num_classes: int,
    graph_residual: bool = False,
) -> dict[str, Any]:
    """Architecture dict of a preset for one dataset.

    Parameters
    ----------
    preset
        A key of :data:`PRESETS`.
    attention
        ``joint``, ``frame`` or ``none``.
    dropout
        Dropout probability before the classifier.
    in_channels
        Feature group -> number of input channels (2*C for the harxai features).
    layout
        ``SkeletonLayout.to_dict()`` of the dataset's layout.
    num_classes
        Number of output classes.
    graph_residual
        Give every graph convolution a residual path (EfficientGCN's default). Off by
        default: a residual carries each key point's features around the contraction with
        ``A * E``, so perturbing E (evaluation stage) could not cut a key point out.

    Returns
    -------
    dict
        JSON-able; see :data:`ARCHITECTURE_KEYS`.
    """
    if preset not in PRESETS:
        raise ValueError(f"unknown model preset {preset!r}; known presets: {', '.join(PRESETS)}")
    spec = PRESETS[preset]
    arch = {
        "format": ARCHITECTURE_FORMAT,
        "preset": preset,
        "groups": list(FEATURE_GROUPS),
        "in_channels": {g: int(in_channels[g]) for g in FEATURE_GROUPS},
        "num_joints": len(layout["joints"]),
        "num_classes": int(num_classes),
        "layout": dict(layout),
        "attention": attention,
        "graph_residual": bool(graph_residual),
        "frame_attention_kernel": spec.frame_attention_kernel,
        "dropout": float(dropout),
        "branch_blocks": [asdict(b) for b in spec.branch_blocks],
        "main_blocks": [asdict(b) for b in spec.main_blocks],
    }
    check_architecture(arch)
    return arch


def check_architecture(arch: Mapping[str, Any]) -> None:
    """Raise ``ValueError`` naming every missing, unknown or invalid key of an architecture dict."""
    problems = [f"missing key {k!r}" for k in ARCHITECTURE_KEYS if k not in arch]
    problems += [f"unknown key {k!r}" for k in arch if k not in ARCHITECTURE_KEYS]
    if not problems:
        if arch["format"] != ARCHITECTURE_FORMAT:
            problems.append(f"format {arch['format']!r} (this harxai reads {ARCHITECTURE_FORMAT})")
        if list(arch["groups"]) != list(FEATURE_GROUPS):
            problems.append(f"groups {arch['groups']} (expected {list(FEATURE_GROUPS)})")
        if sorted(arch["in_channels"]) != sorted(FEATURE_GROUPS):
            problems.append(f"in_channels keys {sorted(arch['in_channels'])}")
        if arch["attention"] not in ATTENTIONS:
            problems.append(f"attention {arch['attention']!r} (expected one of {', '.join(ATTENTIONS)})")
        if not isinstance(arch["graph_residual"], bool):
            problems.append(f"graph_residual {arch['graph_residual']!r} (expected true or false)")
        if arch["num_joints"] != len(arch["layout"].get("joints", ())):
            problems.append(f"num_joints {arch['num_joints']} differs from the layout's joints")
        if int(arch["num_classes"]) < 2:
            problems.append(f"num_classes {arch['num_classes']} (need >= 2)")
        for part in ("branch_blocks", "main_blocks"):
            blocks = arch[part]
            if len(blocks) != 2:
                problems.append(f"{part} has {len(blocks)} blocks (the layer names need 2)")
            for i, b in enumerate(blocks):
                if sorted(b) != sorted(BlockSpec.__dataclass_fields__):
                    problems.append(f"{part}[{i}] keys {sorted(b)}")
    if problems:
        raise ValueError("invalid model architecture: " + "; ".join(problems))
