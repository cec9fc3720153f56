"""A small ST-GCN-style network written as a user would, outside the harxai package.

Used by the end-to-end test of an external model (``model.factory:
"<this file>:build"``) and by unit tests. ``forward(joint, velocity)`` takes two streams, each
(N, C, T, V, M), folds persons into rows (N*M, C, T, V) like ST-GCN, runs two graph/temporal
units whose graph convolution owns its edge-importance matrix ``edge_importance`` (K, V, V),
pools over frames, joints and persons, and returns ``(logits, features)``.
"""

from __future__ import annotations

import torch
from torch import nn


class GraphUnit(nn.Module):
    """Spatial graph convolution over K partitions (self loop, uniform neighbourhood) with E."""

    def __init__(self, c_in: int, c_out: int, num_point: int) -> None:
        super().__init__()
        eye = torch.eye(num_point)
        uniform = (torch.ones(num_point, num_point) - eye) / max(num_point - 1, 1)
        self.register_buffer("A", torch.stack([eye, uniform]))
        self.edge_importance = nn.Parameter(torch.ones(2, num_point, num_point))
        self.conv = nn.Conv2d(c_in, 2 * c_out, 1)
        self.bn = nn.BatchNorm2d(c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, _, t, v = x.shape
        y = self.conv(x).view(n, 2, -1, t, v)
        y = torch.einsum("nkctv,kvw->nctw", y, self.A * self.edge_importance)
        return torch.relu(self.bn(y))


class Unit(nn.Module):
    def __init__(self, c_in: int, c_out: int, num_point: int, stride: int) -> None:
        super().__init__()
        self.gcn = GraphUnit(c_in, c_out, num_point)
        self.tcn = nn.Sequential(
            nn.Conv2d(c_out, c_out, (5, 1), (stride, 1), (2, 0)), nn.BatchNorm2d(c_out), nn.ReLU()
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.tcn(self.gcn(x))


class TwoStreamGCN(nn.Module):
    def __init__(self, num_class: int, num_point: int, in_channels: int, width: int = 8) -> None:
        super().__init__()
        self.data_bn = nn.BatchNorm1d(2 * in_channels * num_point)
        self.layers = nn.Sequential(
            Unit(2 * in_channels, width, num_point, 1), Unit(width, 2 * width, num_point, 2)
        )
        self.fc = nn.Linear(2 * width, num_class)

    def forward(self, joint: torch.Tensor, velocity: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = torch.cat([joint, velocity], dim=1)
        n, c, t, v, m = x.shape
        x = x.permute(0, 4, 3, 1, 2).reshape(n * m, v * c, t)  # ST-GCN's data_bn over (V, C)
        x = self.data_bn(x).view(n, m, v, c, t).permute(0, 1, 3, 4, 2).reshape(n * m, c, t, v)
        x = self.layers(x)
        feat = x.mean(dim=(2, 3)).view(n, m, -1).mean(dim=1)
        return self.fc(feat), feat


def build(num_class: int, num_point: int, in_channels: int, width: int = 8) -> nn.Module:
    """Factory named in the config: ``tests/workflow/external_model.py:build``."""
    return TwoStreamGCN(num_class, num_point, in_channels, width)
