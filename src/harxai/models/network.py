"""The multi-branch skeleton GCN (EfficientGCN / seed-study family), built from an architecture dict.

``model(joint, velocity, bone, acceleration)``: each input (sample, channel, frame, joint,
person) -> logits (sample, class). Stable ``named_modules()`` paths:

=========================================  ===================================================
``branches.<group>.init_bn``               input batch normalisation, output (N*M, C, T, V)
``branches.<group>.blocks.<i>.gcn``        graph convolution block (i = 0, 1)
``branches.<group>.blocks.<i>.gcn.graph``  contraction holding Parameter ``edge_importance``
``branches.<group>.blocks.<i>.tcn``        temporal convolution block; ``.tcn.conv`` its conv
``branches.<group>.blocks.<i>.att``        attention layer output (after its activation)
``main.<i>.gcn`` / ``.tcn`` / ``.tcn.conv`` / ``.att``   main-branch blocks (i = 0, 1)
``classifier``                             pooling over (frame, joint, person), dropout, linear
=========================================  ===================================================

Deviations from the seed model (DeepInMotion/ShapGCN ``src/model/student.py``): a single
basic temporal convolution per block instead of the NAS-chosen variants; frame attention
ends in a sigmoid; every block of the input branches (the stem included) has an attention
layer; the classifier is a linear layer after the pooling instead of a 1x1x1 convolution.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from ..config import FEATURE_GROUPS
from ..skeletons import SkeletonLayout, distance_partitions
from .attention import make_attention
from .external import ExternalModel, external_edge_importance
from .layers import GraphContraction, GraphConvBlock, TemporalConvBlock
from .presets import check_architecture


class Block(nn.Module):
    """Graph convolution (``gcn``) -> temporal convolution (``tcn``) -> attention (``att``)."""

    def __init__(
        self,
        in_channels: int,
        spec: Mapping[str, int],
        adjacency: torch.Tensor,
        attention: str,
        frame_kernel: int,
        graph_residual: bool = True,
    ) -> None:
        super().__init__()
        out = int(spec["channels"])
        self.gcn = GraphConvBlock(in_channels, out, adjacency, residual=graph_residual)
        self.tcn = TemporalConvBlock(out, int(spec["temporal_kernel"]), int(spec["stride"]))
        self.att = make_attention(attention, out, adjacency.shape[-1], frame_kernel)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map (N*M, C_in, T, V) to (N*M, C_out, ceil(T/stride), V)."""
        return self.att(self.tcn(self.gcn(x)))


class InputBranch(nn.Module):
    """One feature group's branch: ``init_bn`` then ``blocks`` (separate weights per group).

    ``init_bn`` keeps a cumulative average of the batch statistics (``momentum=None``):
    the input distribution does not change during training, and velocity and acceleration
    features have variances of order 1e-5, which an exponential average started at 1 would
    take hundreds of steps to reach (the eval-mode model then sees near-zero inputs).
    """

    def __init__(self, in_channels: int, blocks: nn.Sequential) -> None:
        super().__init__()
        self.init_bn = nn.BatchNorm2d(in_channels, momentum=None)
        self.blocks = blocks

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map (N*M, C, T, V) to (N*M, C_branch, T', V)."""
        return self.blocks(self.init_bn(x))


class Classifier(nn.Module):
    """Global average pooling over (frame, joint, person), dropout and a linear layer."""

    def __init__(self, channels: int, num_classes: int, dropout: float) -> None:
        super().__init__()
        self.pool = nn.AdaptiveAvgPool3d(1)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(channels, num_classes)

    def forward(self, x: torch.Tensor, persons: int) -> torch.Tensor:
        """Map (N*M, C, T, V) and M to logits (N, class)."""
        nm, c, t, v = x.shape
        z = x.view(nm // persons, persons, c, t, v).permute(0, 2, 3, 4, 1)  # (N, C, T, V, M)
        return self.fc(self.dropout(self.pool(z).flatten(1)))


class MultiBranchGCN(nn.Module):
    """Four input branches (joint, velocity, bone, acceleration), a main branch and a classifier.

    Parameters
    ----------
    architecture
        The dict of :func:`harxai.models.presets.make_architecture` (kept as
        ``self.architecture``).
    """

    def __init__(self, architecture: Mapping[str, Any]) -> None:
        super().__init__()
        check_architecture(architecture)
        self.architecture = dict(architecture)
        layout = SkeletonLayout.from_dict(architecture["layout"])
        attention = str(architecture["attention"])
        frame_kernel = int(architecture["frame_attention_kernel"])
        graph_residual = bool(architecture["graph_residual"])
        partitions = {
            int(spec["partitions"]) for spec in (*architecture["branch_blocks"], *architecture["main_blocks"])
        }
        adjacency = {k: torch.from_numpy(distance_partitions(layout, k)) for k in partitions}

        def stack(c_in: int, specs: Sequence[Mapping[str, Any]]) -> tuple[nn.Sequential, int]:
            blocks = nn.Sequential()
            for spec in specs:
                a = adjacency[int(spec["partitions"])]
                blocks.append(Block(c_in, spec, a, attention, frame_kernel, graph_residual))
                c_in = int(spec["channels"])
            return blocks, c_in

        self.branches = nn.ModuleDict()
        branch_out = 0
        for group in FEATURE_GROUPS:
            c_group = int(architecture["in_channels"][group])
            blocks, c_out = stack(c_group, architecture["branch_blocks"])
            self.branches[group] = InputBranch(c_group, blocks)
            branch_out += c_out
        self.main, c_in = stack(branch_out, architecture["main_blocks"])
        self.classifier = Classifier(c_in, int(architecture["num_classes"]), float(architecture["dropout"]))

    def forward(
        self,
        joint: torch.Tensor,
        velocity: torch.Tensor,
        bone: torch.Tensor,
        acceleration: torch.Tensor,
    ) -> torch.Tensor:
        """Classify skeleton sequences.

        Parameters
        ----------
        joint, velocity, bone, acceleration
            Feature groups, each (sample, channel, frame, joint, person).

        Returns
        -------
        torch.Tensor
            Logits, shape (sample, class).
        """
        n, _, _, _, m = joint.shape
        outputs = []
        for group, x in zip(FEATURE_GROUPS, (joint, velocity, bone, acceleration), strict=True):
            _, c, t, v, _ = x.shape
            # (N, C, T, V, M) -> (N*M, C, T, V), sample-major
            folded = x.permute(0, 4, 1, 2, 3).reshape(n * m, c, t, v)
            outputs.append(self.branches[group](folded))
        return self.classifier(self.main(torch.cat(outputs, dim=1)), m)


def build_model(architecture: Mapping[str, Any]) -> MultiBranchGCN:
    """Build a freshly initialised model from an architecture dict (train mode, CPU)."""
    return MultiBranchGCN(architecture)


def edge_importance_parameters(model: nn.Module) -> dict[str, nn.Parameter]:
    """Every edge-importance matrix E of a model by parameter name (shape (partition, joint, joint)).

    For an external model: the parameters of :func:`harxai.models.external.external_edge_importance`
    (listed in ``model.edge_importance`` or named ``edge_importance``); (joint, joint) ones are
    returned as they are. An empty dict means the model has none (E perturbation is skipped).
    """
    if isinstance(model, ExternalModel):
        return external_edge_importance(model)
    out: dict[str, nn.Parameter] = {}
    for name, module in model.named_modules():
        if isinstance(module, GraphContraction):
            out[f"{name}.edge_importance"] = module.edge_importance
    return out
