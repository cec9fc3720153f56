"""Hand-made models with a known answer for the faithfulness, sanity and robustness tests (no tests here)."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

GROUPS, CHANNELS, FRAMES, JOINTS, PERSONS = 2, 2, 12, 6, 1
CHAIN = np.eye(JOINTS, k=1) + np.eye(JOINTS, k=-1)  # a 6-joint chain skeleton


class ReadsOneKeyPoint(nn.Module):
    """Class 1 iff the mean of group 0, channel 0 of ``joint`` over ``frames`` exceeds 0.5; nothing else is read."""

    def __init__(self, joint: int = 3, frames: slice = slice(4, 8), gain: float = 10.0) -> None:
        super().__init__()
        self.joint, self.frames = joint, frames
        self.gain = nn.Parameter(torch.tensor(gain))

    def forward(self, *groups: torch.Tensor) -> torch.Tensor:
        s = groups[0][:, 0, self.frames, self.joint, :].mean(dim=(1, 2))
        z = self.gain * (s - 0.5)
        return torch.stack([torch.zeros_like(z), z], dim=1)


class Linear(nn.Module):
    """A linear model over every input value: logits = W x + b."""

    def __init__(self, classes: int = 3, seed: int = 0) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        size = GROUPS * CHANNELS * FRAMES * JOINTS * PERSONS
        self.fc = nn.Linear(size, classes).double()
        with torch.no_grad():
            self.fc.weight.copy_(torch.randn(classes, size, generator=g, dtype=torch.float64) * 0.3)
            self.fc.bias.copy_(torch.randn(classes, generator=g, dtype=torch.float64))

    def forward(self, *groups: torch.Tensor) -> torch.Tensor:
        x = torch.stack(groups, dim=1).flatten(1).double()
        return self.fc(x)


class SmallNet(nn.Module):
    """A small trained-looking conv net: conv over (frame, joint) per group, then a classifier."""

    def __init__(self, classes: int = 2, seed: int = 0) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.conv1 = nn.Conv2d(GROUPS * CHANNELS, 8, kernel_size=3, padding=1)
        self.act1 = nn.ReLU()
        self.conv2 = nn.Conv2d(8, 8, kernel_size=3, padding=1)
        self.act2 = nn.ReLU()
        self.fc = nn.Linear(8 * FRAMES * JOINTS, classes)

    def forward(self, *groups: torch.Tensor) -> torch.Tensor:
        x = torch.cat([g[..., 0] for g in groups], dim=1)  # (sample, group*channel, frame, joint)
        h = self.act2(self.conv2(self.act1(self.conv1(x))))
        return self.fc(h.flatten(1))


def key_point_data(n: int = 8, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Inputs where joint 3 of group 0, channel 0 is 1 in every frame (the rest noise), and labels 1."""
    rng = np.random.default_rng(seed)
    x = 0.1 * rng.normal(size=(n, GROUPS, CHANNELS, FRAMES, JOINTS, PERSONS)).astype(np.float32)
    x[:, 0, 0, :, 3, 0] = 1.0
    return x, np.ones(n, dtype=np.int64)


def zero_background(n: int = 4) -> np.ndarray:
    """A background whose mean is exactly zero (pairs of opposite samples)."""
    rng = np.random.default_rng(1)
    half = rng.normal(size=(n // 2, GROUPS, CHANNELS, FRAMES, JOINTS, PERSONS)).astype(np.float32)
    return np.concatenate([half, -half])


class CellLinear(nn.Module):
    """logits[k] = sum over group, channel, frame, joint, person of x * w[k, frame, joint]: one weight per cell."""

    def __init__(self, classes: int = 3, seed: int = 0) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.weight = nn.Parameter(torch.randn(classes, FRAMES, JOINTS, generator=g))

    def forward(self, *groups: torch.Tensor) -> torch.Tensor:
        x = torch.stack(groups, dim=1).sum(dim=(1, 2, 5))  # (sample, frame, joint)
        return torch.einsum("ntv,ktv->nk", x, self.weight)
