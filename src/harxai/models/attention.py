"""Attention layers: joint attention (seed NTU model) and frame attention (seed infant model).

Both follow EfficientGCN's attention modules (Song et al., TPAMI 2022) as used by the seed
study (DeepInMotion/ShapGCN, ``src/model/attention_layers.py``). Activations are shaped
(N*M, C, T, V). Deviation: the seed's frame attention has no squashing function (its map
is an unbounded convolution output); harxai ends it with a sigmoid so that the map is a
gate in (0, 1).
"""

from __future__ import annotations

import torch
from torch import nn

from .layers import Add, Multiply

ATTENTIONS = ("joint", "frame", "none")


class JointAttention(nn.Module):
    """One weight per joint: softmax over joints of an FC bottleneck on the (frame, channel) mean.

    ``w = softmax_V(fc2(relu(bn(fc1(mean_{T,C} x)))))``, FC V -> V//2 -> V as 1x1
    convolutions; returns w shaped (N*M, 1, 1, V) for broadcasting.

    Parameters
    ----------
    num_joints
        V.
    """

    def __init__(self, num_joints: int) -> None:
        super().__init__()
        hidden = max(num_joints // 2, 1)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(num_joints, hidden, kernel_size=1)
        self.bn = nn.BatchNorm2d(hidden)
        self.act = nn.ReLU(inplace=False)
        self.fc2 = nn.Conv2d(hidden, num_joints, kernel_size=1)
        self.softmax = nn.Softmax(dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map (N*M, C, T, V) to joint weights (N*M, 1, 1, V) summing to one over joints."""
        z = self.pool(x.transpose(1, 3))  # (N*M, V, 1, 1): mean over frame and channel
        z = self.softmax(self.fc2(self.act(self.bn(self.fc1(z)))))
        return z.transpose(1, 3)


class FrameAttention(nn.Module):
    """One weight per frame: a temporal convolution of avg- and max-pooled (channel, joint) maps.

    ``w = sigmoid(conv_{2->1}([avg_{C,V} x; max_{C,V} x]))`` with a (kernel x 1) convolution
    over frames; returns w shaped (N*M, 1, T, 1). The pools are ``nn.AvgPool2d`` and
    ``nn.MaxPool2d`` with a (C, V) kernel (rather than adaptive pools) because
    ``shap.DeepExplainer`` has a rule for ``MaxPool2d`` only. The sigmoid is a deviation
    from the seed (which has none).

    Parameters
    ----------
    channels, num_joints
        C and V of the gated activation.
    kernel
        Odd temporal kernel of the 2 -> 1 convolution (seed 9).
    """

    def __init__(self, channels: int, num_joints: int, kernel: int = 9) -> None:
        super().__init__()
        if kernel < 1 or kernel % 2 == 0:
            raise ValueError(f"frame attention kernel must be odd and positive, got {kernel}")
        self.avg_pool = nn.AvgPool2d(kernel_size=(channels, num_joints))
        self.max_pool = nn.MaxPool2d(kernel_size=(channels, num_joints))
        self.conv = nn.Conv2d(2, 1, kernel_size=(kernel, 1), padding=((kernel - 1) // 2, 0))
        self.sigmoid = nn.Sigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map (N*M, C, T, V) to frame weights (N*M, 1, T, 1) in (0, 1)."""
        z = x.transpose(1, 2)  # (N*M, T, C, V)
        z = torch.cat([self.avg_pool(z), self.max_pool(z)], dim=2)  # (N*M, T, 2, 1)
        return self.sigmoid(self.conv(z.transpose(1, 2)))  # (N*M, 1, T, 1)


class AttentionLayer(nn.Module):
    """Gated residual attention: ``act(bn(x * attention(x))) + x``.

    Parameters
    ----------
    attention
        The map, :class:`JointAttention` or :class:`FrameAttention`.
    channels
        C (for the batch normalisation).
    """

    def __init__(self, attention: nn.Module, channels: int) -> None:
        super().__init__()
        self.attention = attention
        self.multiply = Multiply()
        self.bn = nn.BatchNorm2d(channels)
        self.act = nn.ReLU(inplace=False)
        self.residual = nn.Identity()
        self.add = Add()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map (N*M, C, T, V) to (N*M, C, T, V)."""
        gated = self.act(self.bn(self.multiply(x, self.attention(x))))
        return self.add(gated, self.residual(x))


def make_attention(kind: str, channels: int, num_joints: int, frame_kernel: int = 9) -> nn.Module:
    """Attention layer of one block; ``nn.Identity`` for ``none`` so layer names stay valid.

    Parameters
    ----------
    kind
        ``joint``, ``frame`` or ``none``.
    channels, num_joints
        C and V of the block output.
    frame_kernel
        Temporal kernel of the frame attention.
    """
    if kind == "joint":
        return AttentionLayer(JointAttention(num_joints), channels)
    if kind == "frame":
        return AttentionLayer(FrameAttention(channels, num_joints, frame_kernel), channels)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"attention must be one of {', '.join(ATTENTIONS)}, not {kind!r}")
