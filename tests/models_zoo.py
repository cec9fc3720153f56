"""Small skeleton HAR models of the field's families, written from their papers' descriptions.

Each builder returns an ``nn.Module`` taking one stream ``x`` shaped (N, C, T, V, M) (batch,
channel, frame, joint, person) and returning class logits (N, num_class), except
:func:`infogcn`, which returns a tuple ``(logits, latent)`` as InfoGCN does (wrap it with
:class:`FirstOutput`). They are deliberately small (a few blocks, narrow channels) but keep
every operation that characterises the family:

- :func:`stgcn` (Yan et al., AAAI 2018): spatial-configuration partitions (root, centripetal,
  centrifugal), a learnable edge-importance mask per block, 1x1 conv + ``einsum`` graph
  contraction, temporal conv (9, 1), BatchNorm, ReLU, residuals, ``data_bn``;
- :func:`aagcn` (Shi et al., 2s-AGCN CVPR 2019 / MS-AAGCN TIP 2020): adaptive adjacency
  ``A_k + B_k + softmax(theta(x)^T phi(x))`` with a learned ``B_k``, and spatial, temporal and
  channel attention gates ``x * sigmoid(.) + x``;
- :func:`ctrgcn` (Chen et al., ICCV 2021): channel-wise topology refinement,
  ``tanh(x1_u - x2_v)`` of pairwise channel differences, ``alpha * conv(.) + A``, ``einsum``;
- :func:`efficientgcn` (Song et al., TPAMI 2022): Swish, separable temporal convolution
  (depthwise (k, 1) + pointwise), ST-joint attention (pooled over frames and over joints,
  sigmoid gates multiplied in); ``attention=False`` drops the gates;
- :func:`transformer` (skeleton transformer, e.g. ST-TR / "frames as tokens"): joint
  embedding, positional embedding, pre-norm blocks of ``nn.MultiheadAttention(batch_first=True)``
  self-attention (one tensor as query, key and value, ``need_weights=False``), LayerNorm and a
  GELU MLP; ``path="slow"`` uses ``batch_first=False`` and ``need_weights=True`` (PyTorch's
  slow path even in plain inference), ``path="layer"`` uses ``nn.TransformerEncoderLayer``;
- :func:`infogcn` (Chi et al., CVPR 2022): self-attention graph convolution (``matmul`` of
  query and key embeddings, softmax, plus a shared topology), a latent head and a tuple output.

Builders take ``num_class``, ``num_point``, ``num_person``, ``in_channels`` and a width;
:data:`ZOO` maps a name to a builder. Used by the SHAP engine tests and benchmarks and by
the GradCAM and checkpoint tests.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

# NTU RGB+D 25 joints, (child, parent) pairs towards the spine (1-based, as in the papers' code)
NTU_INWARD = [
    (1, 2), (2, 21), (3, 21), (4, 3), (5, 21), (6, 5), (7, 6), (8, 7), (9, 21), (10, 9), (11, 10),
    (12, 11), (13, 1), (14, 13), (15, 14), (16, 15), (17, 1), (18, 17), (19, 18), (20, 19),
    (22, 23), (23, 8), (24, 25), (25, 12),
]  # fmt: skip


def inward_edges(num_point: int) -> list[tuple[int, int]]:
    """0-based (child, parent) edges: NTU's 25-joint tree, or a chain for other joint counts."""
    if num_point == 25:
        return [(i - 1, j - 1) for i, j in NTU_INWARD]
    return [(i + 1, i) for i in range(num_point - 1)]


def _normalise(a: np.ndarray) -> np.ndarray:
    deg = a.sum(0)
    inv = np.where(deg > 0, 1.0 / np.maximum(deg, 1e-12), 0.0)
    return a @ np.diag(inv)


def spatial_partitions(num_point: int) -> Tensor:
    """(3, V, V): identity, normalised inward (centripetal) and outward (centrifugal) adjacency."""
    inward = np.zeros((num_point, num_point))
    for i, j in inward_edges(num_point):
        inward[j, i] = 1.0
    a = np.stack([np.eye(num_point), _normalise(inward), _normalise(inward.T)])
    return torch.tensor(a, dtype=torch.float32)


def summed(tensors: list[Tensor]) -> Tensor:
    """``tensors[0] + tensors[1] + ...`` (the per-subset sums of the graph convolutions)."""
    out = tensors[0]
    for t in tensors[1:]:
        out = out + t
    return out


class GraphNet(nn.Module):
    """What the GCN families share: constructor arguments, ``data_bn`` over (M, V, C), pooling."""

    def __init__(
        self,
        num_class: int = 10,
        num_point: int = 25,
        num_person: int = 2,
        in_channels: int = 3,
        width: int = 16,
    ) -> None:
        super().__init__()
        self.num_class, self.num_point, self.in_channels, self.width = (
            num_class,
            num_point,
            in_channels,
            width,
        )
        self.data_bn = nn.BatchNorm1d(num_person * in_channels * num_point)

    def frames(self, x: Tensor) -> Tensor:
        """(N, C, T, V, M) -> data_bn -> (N * M, C, T, V)."""
        n, c, t, v, m = x.shape
        x = self.data_bn(x.permute(0, 4, 3, 1, 2).contiguous().view(n, m * v * c, t))
        return x.view(n, m, v, c, t).permute(0, 1, 3, 4, 2).contiguous().view(n * m, c, t, v)

    @staticmethod
    def pooled(x: Tensor, n: int, m: int) -> Tensor:
        """(N * M, C, T, V) -> mean over frames, joints and persons -> (N, C)."""
        return x.view(n, m, x.size(1), -1).mean(3).mean(1)


# ============================================================================== ST-GCN
class StgcnUnit(nn.Module):
    """Spatial graph conv (partitions x edge importance) + temporal conv, with a residual."""

    A: Tensor

    def __init__(self, c_in: int, c_out: int, a: Tensor, stride: int = 1, residual: bool = True) -> None:
        super().__init__()
        k = a.shape[0]
        self.register_buffer("A", a)
        self.edge_importance = nn.Parameter(torch.ones_like(a))
        self.gcn = nn.Conv2d(c_in, c_out * k, 1)
        self.tcn = nn.Sequential(
            nn.BatchNorm2d(c_out),
            nn.ReLU(),
            nn.Conv2d(c_out, c_out, (9, 1), (stride, 1), (4, 0)),
            nn.BatchNorm2d(c_out),
            nn.Dropout(0.1),
        )
        if not residual:
            self.residual: nn.Module | None = None
        elif c_in == c_out and stride == 1:
            self.residual = nn.Identity()
        else:
            self.residual = nn.Sequential(nn.Conv2d(c_in, c_out, 1, (stride, 1)), nn.BatchNorm2d(c_out))
        self.relu = nn.ReLU()
        self.k = k

    def forward(self, x: Tensor) -> Tensor:
        n, _, t, v = x.shape
        y = self.gcn(x).view(n, self.k, -1, t, v)
        y = torch.einsum("nkctv,kvw->nctw", y, self.A * self.edge_importance)
        y = self.tcn(y.contiguous())
        if self.residual is not None:
            y = y + self.residual(x)
        return self.relu(y)


class Stgcn(GraphNet):
    """ST-GCN: data_bn, stacked units with edge importance, global pooling, 1x1 conv classifier."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        a, width = spatial_partitions(self.num_point), self.width
        in_channels = self.in_channels
        self.units = nn.ModuleList(
            [
                StgcnUnit(in_channels, width, a, residual=False),
                StgcnUnit(width, width, a),
                StgcnUnit(width, 2 * width, a, stride=2),
            ]
        )
        self.fcn = nn.Conv2d(2 * width, self.num_class, 1)

    def forward(self, x: Tensor) -> Tensor:
        n, m = x.shape[0], x.shape[-1]
        x = self.frames(x)
        for unit in self.units:
            x = unit(x)
        x = F.avg_pool2d(x, x.size()[2:])
        x = x.view(n, m, -1, 1, 1).mean(dim=1)
        return self.fcn(x).view(n, -1)


def stgcn(**kwargs: Any) -> nn.Module:
    return Stgcn(**kwargs)


# ============================================================================== AAGCN
class AdaptiveGraphConv(nn.Module):
    """2s-AGCN graph conv: ``A_k + B_k + softmax(theta(x)^T phi(x) / (C T))`` per subset k."""

    A: Tensor

    def __init__(self, c_in: int, c_out: int, a: Tensor, inter: int = 4) -> None:
        super().__init__()
        self.k = a.shape[0]
        self.register_buffer("A", a)
        self.B = nn.Parameter(torch.full_like(a, 1e-2) + 0.05 * torch.randn_like(a))
        self.theta = nn.ModuleList([nn.Conv2d(c_in, inter, 1) for _ in range(self.k)])
        self.phi = nn.ModuleList([nn.Conv2d(c_in, inter, 1) for _ in range(self.k)])
        self.conv = nn.ModuleList([nn.Conv2d(c_in, c_out, 1) for _ in range(self.k)])
        self.bn = nn.BatchNorm2d(c_out)
        self.down = (
            nn.Identity()
            if c_in == c_out
            else nn.Sequential(nn.Conv2d(c_in, c_out, 1), nn.BatchNorm2d(c_out))
        )
        self.relu = nn.ReLU()

    def forward(self, x: Tensor) -> Tensor:
        n, c, t, v = x.shape
        parts = []
        for i in range(self.k):
            a1 = self.theta[i](x).permute(0, 3, 1, 2).contiguous().view(n, v, -1)
            a2 = self.phi[i](x).view(n, -1, v)
            adj = F.softmax(torch.matmul(a1, a2) / a1.size(-1), dim=-2)  # (N, V, V)
            adj = adj + self.A[i] + self.B[i]
            parts.append(self.conv[i](torch.matmul(x.view(n, c * t, v), adj).view(n, c, t, v)))
        y = summed(parts)
        return self.relu(self.bn(y) + self.down(x))


class AttentionGates(nn.Module):
    """MS-AAGCN's spatial, temporal and channel attention: ``x * sigmoid(.) + x`` each."""

    def __init__(self, c: int, num_point: int) -> None:
        super().__init__()
        ker = num_point - 1 if num_point % 2 == 0 else num_point
        self.conv_sa = nn.Conv1d(c, 1, ker, padding=(ker - 1) // 2)
        self.conv_ta = nn.Conv1d(c, 1, 9, padding=4)
        self.fc1c = nn.Linear(c, max(c // 2, 1))
        self.fc2c = nn.Linear(max(c // 2, 1), c)
        self.sigmoid = nn.Sigmoid()
        self.relu = nn.ReLU()

    def forward(self, y: Tensor) -> Tensor:
        se = y.mean(-2)  # N C V
        y = y * self.sigmoid(self.conv_sa(se)).unsqueeze(-2) + y
        se = y.mean(-1)  # N C T
        y = y * self.sigmoid(self.conv_ta(se)).unsqueeze(-1) + y
        se = y.mean(-1).mean(-1)
        se = self.sigmoid(self.fc2c(self.relu(self.fc1c(se))))
        return y * se.unsqueeze(-1).unsqueeze(-1) + y


class AagcnUnit(nn.Module):
    def __init__(self, c_in: int, c_out: int, a: Tensor, stride: int = 1) -> None:
        super().__init__()
        self.gcn = AdaptiveGraphConv(c_in, c_out, a)
        self.att = AttentionGates(c_out, a.shape[-1])
        self.tcn = nn.Sequential(nn.Conv2d(c_out, c_out, (9, 1), (stride, 1), (4, 0)), nn.BatchNorm2d(c_out))
        self.res = nn.Sequential(nn.Conv2d(c_in, c_out, 1, (stride, 1)), nn.BatchNorm2d(c_out))
        self.relu = nn.ReLU()

    def forward(self, x: Tensor) -> Tensor:
        return self.relu(self.tcn(self.att(self.gcn(x))) + self.res(x))


class TwoUnitNet(GraphNet):
    """Two units of ``unit`` (the second strided, doubling the width), pooling, a linear classifier."""

    unit: Callable[..., nn.Module]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        a, width = spatial_partitions(self.num_point), self.width
        self.l1 = self.unit(self.in_channels, width, a)
        self.l2 = self.unit(width, 2 * width, a, stride=2)
        self.fc = nn.Linear(2 * width, self.num_class)

    def forward(self, x: Tensor) -> Tensor:
        n, m = x.shape[0], x.shape[-1]
        return self.fc(self.pooled(self.l2(self.l1(self.frames(x))), n, m))


class Aagcn(TwoUnitNet):
    unit = AagcnUnit


def aagcn(**kwargs: Any) -> nn.Module:
    return Aagcn(**kwargs)


# ============================================================================== CTR-GCN
class Ctrgc(nn.Module):
    """Channel-wise topology refinement: ``alpha * conv4(tanh(x1_u - x2_v)) + A``, then einsum."""

    def __init__(self, c_in: int, c_out: int, rel: int = 4) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, rel, 1)
        self.conv2 = nn.Conv2d(c_in, rel, 1)
        self.conv3 = nn.Conv2d(c_in, c_out, 1)
        self.conv4 = nn.Conv2d(rel, c_out, 1)
        self.tanh = nn.Tanh()

    def forward(self, x: Tensor, a: Tensor, alpha: Tensor) -> Tensor:
        x1, x2, x3 = self.conv1(x).mean(-2), self.conv2(x).mean(-2), self.conv3(x)
        x1 = self.tanh(x1.unsqueeze(-1) - x2.unsqueeze(-2))
        x1 = self.conv4(x1) * alpha + a.unsqueeze(0).unsqueeze(0)  # N, C, V, V
        return torch.einsum("ncuv,nctv->nctu", x1, x3)


class CtrgcnUnit(nn.Module):
    def __init__(self, c_in: int, c_out: int, a: Tensor, stride: int = 1) -> None:
        super().__init__()
        self.PA = nn.Parameter(a.clone())
        self.alpha = nn.Parameter(torch.ones(1) * 0.5)
        self.convs = nn.ModuleList([Ctrgc(c_in, c_out) for _ in range(a.shape[0])])
        self.bn = nn.BatchNorm2d(c_out)
        self.down = (
            nn.Identity()
            if c_in == c_out
            else nn.Sequential(nn.Conv2d(c_in, c_out, 1), nn.BatchNorm2d(c_out))
        )
        # multi-scale temporal conv, reduced to two dilated branches and a max-pool branch
        self.branches = nn.ModuleList(
            [
                nn.Sequential(nn.Conv2d(c_out, c_out // 2, 1), nn.BatchNorm2d(c_out // 2), nn.ReLU(),
                              nn.Conv2d(c_out // 2, c_out // 2, (5, 1), (stride, 1), (2 * d, 0), (d, 1)))
                for d in (1, 2)
            ]
        )  # fmt: skip
        self.pool_branch = nn.Sequential(
            nn.Conv2d(c_out, c_out, 1),
            nn.BatchNorm2d(c_out),
            nn.ReLU(),
            nn.MaxPool2d((3, 1), (stride, 1), (1, 0)),
        )
        self.merge = nn.Conv2d(2 * c_out, c_out, 1)
        self.res = nn.Sequential(nn.Conv2d(c_in, c_out, 1, (stride, 1)), nn.BatchNorm2d(c_out))
        self.relu = nn.ReLU()

    def forward(self, x: Tensor) -> Tensor:
        y = summed([conv(x, self.PA[i], self.alpha) for i, conv in enumerate(self.convs)])
        y = self.relu(self.bn(y) + self.down(x))
        t = torch.cat([b(y) for b in self.branches] + [self.pool_branch(y)], dim=1)
        return self.relu(self.merge(t) + self.res(x))


class Ctrgcn(TwoUnitNet):
    unit = CtrgcnUnit


def ctrgcn(**kwargs: Any) -> nn.Module:
    return Ctrgcn(**kwargs)


# ============================================================================== EfficientGCN
class Swish(nn.Module):
    def forward(self, x: Tensor) -> Tensor:
        return x * torch.sigmoid(x)


class SepTemporal(nn.Module):
    """Separable temporal convolution: depthwise (k, 1), BN, Swish, pointwise 1x1, BN, residual."""

    def __init__(self, c: int, act: Callable[[], nn.Module], stride: int = 1, k: int = 5) -> None:
        super().__init__()
        self.depth = nn.Sequential(
            nn.Conv2d(c, c, (k, 1), (stride, 1), ((k - 1) // 2, 0), groups=c), nn.BatchNorm2d(c)
        )
        self.point = nn.Sequential(nn.Conv2d(c, c, 1), nn.BatchNorm2d(c))
        self.act1, self.act2 = act(), act()
        self.res = (
            nn.Identity()
            if stride == 1
            else nn.Sequential(nn.Conv2d(c, c, 1, (stride, 1)), nn.BatchNorm2d(c))
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.act2(self.point(self.act1(self.depth(x))) + self.res(x))


class StJointAttention(nn.Module):
    """EfficientGCN's ST-Joint attention: pooled over frames and joints, sigmoid gates multiplied in."""

    def __init__(self, c: int, act: nn.Module, reduct: int = 4) -> None:
        super().__init__()
        inner = max(c // reduct, 2)
        self.fcn = nn.Sequential(nn.Conv2d(c, inner, 1), nn.BatchNorm2d(inner), act)
        self.conv_t = nn.Conv2d(inner, c, 1)
        self.conv_v = nn.Conv2d(inner, c, 1)

    def forward(self, x: Tensor) -> Tensor:
        _, _, t, v = x.shape
        x_t = x.mean(3, keepdim=True)  # N C T 1
        x_v = x.mean(2, keepdim=True).transpose(2, 3)  # N C V 1
        x_att = self.fcn(torch.cat([x_t, x_v], dim=2))
        x_t, x_v = torch.split(x_att, [t, v], dim=2)
        return x * (self.conv_t(x_t).sigmoid() * self.conv_v(x_v.transpose(2, 3)).sigmoid())


class EfficientBlock(nn.Module):
    A: Tensor

    def __init__(
        self, c_in: int, c_out: int, a: Tensor, act: Callable[[], nn.Module], stride: int, attention: bool
    ) -> None:
        super().__init__()
        self.register_buffer("A", a)
        self.edge = nn.Parameter(torch.ones_like(a))
        self.gcn = nn.Conv2d(c_in, c_out * a.shape[0], 1)
        self.bn = nn.BatchNorm2d(c_out)
        self.act = act()
        self.tcn = SepTemporal(c_out, act, stride)
        self.att: nn.Module = StJointAttention(c_out, act()) if attention else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        n, _, t, v = x.shape
        y = self.gcn(x).view(n, self.A.shape[0], -1, t, v)
        y = self.act(self.bn(torch.einsum("nkctv,kvw->nctw", y, self.A * self.edge)))
        return self.att(self.tcn(y))


class EfficientGcn(nn.Module):
    """Input branch, main stream, global pooling and a linear classifier (one stream here)."""

    def __init__(
        self,
        num_class: int = 10,
        num_point: int = 25,
        num_person: int = 2,
        in_channels: int = 3,
        width: int = 16,
        attention: bool = True,
        swish_module: bool = False,
    ) -> None:
        super().__init__()
        a = spatial_partitions(num_point)

        def act() -> nn.Module:  # one module per use (shap.DeepExplainer keeps state per module)
            return nn.SiLU() if swish_module else Swish()

        self.bn = nn.BatchNorm2d(in_channels)
        self.blocks = nn.Sequential(
            EfficientBlock(in_channels, width, a, act, 1, attention),
            EfficientBlock(width, 2 * width, a, act, 2, attention),
        )
        self.fc = nn.Linear(2 * width, num_class)

    def forward(self, x: Tensor) -> Tensor:
        n, c, t, v, m = x.shape
        x = self.bn(x.permute(0, 4, 1, 2, 3).contiguous().view(n * m, c, t, v))
        x = self.blocks(x)
        x = F.adaptive_avg_pool2d(x, 1).view(n, m, -1).mean(1)
        return self.fc(x)


def efficientgcn(**kwargs: Any) -> nn.Module:
    return EfficientGcn(**kwargs)


def efficientgcn_plain(**kwargs: Any) -> nn.Module:
    """EfficientGCN without the attention products and with nn.SiLU: shap.DeepExplainer is exact."""
    return EfficientGcn(attention=False, swish_module=True, **kwargs)


# ============================================================================== transformer
class Block(nn.Module):
    """Pre-norm transformer block: LayerNorm, self-attention (q = k = v), LayerNorm, GELU MLP."""

    def __init__(self, d: int, heads: int, batch_first: bool, need_weights: bool) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(d)
        self.attn = nn.MultiheadAttention(d, heads, dropout=0.1, batch_first=batch_first)
        self.norm2 = nn.LayerNorm(d)
        self.mlp = nn.Sequential(nn.Linear(d, 2 * d), nn.GELU(), nn.Dropout(0.1), nn.Linear(2 * d, d))
        self.batch_first, self.need_weights = batch_first, need_weights

    def forward(self, x: Tensor) -> Tensor:  # (B, L, D)
        h = self.norm1(x)
        if self.batch_first:
            a = self.attn(h, h, h, need_weights=self.need_weights)[0]
        else:
            t = h.transpose(0, 1)
            a = self.attn(t, t, t, need_weights=self.need_weights)[0].transpose(0, 1)
        x = x + a
        return x + self.mlp(self.norm2(x))


class SkeletonTransformer(nn.Module):
    """Frames as tokens: joints x channels embedded, positional embedding, blocks, mean pooling."""

    def __init__(
        self,
        num_class: int = 10,
        num_point: int = 25,
        num_person: int = 2,
        in_channels: int = 3,
        width: int = 16,
        heads: int = 2,
        depth: int = 2,
        max_frames: int = 300,
        path: str = "fast",
    ) -> None:
        super().__init__()
        self.embed = nn.Linear(in_channels * num_point, width)
        self.pos = nn.Parameter(0.02 * torch.randn(1, max_frames, width))
        if path == "layer":
            self.blocks = nn.Sequential(
                *[
                    nn.TransformerEncoderLayer(
                        width, heads, 2 * width, 0.1, "gelu", batch_first=True, norm_first=True
                    )
                    for _ in range(depth)
                ]
            )
        else:
            fast = path == "fast"
            self.blocks = nn.Sequential(*[Block(width, heads, fast, not fast) for _ in range(depth)])
        self.norm = nn.LayerNorm(width)
        self.head = nn.Linear(width, num_class)

    def forward(self, x: Tensor) -> Tensor:
        n, c, t, v, m = x.shape
        tokens = x.permute(0, 4, 2, 3, 1).reshape(n * m, t, v * c)
        h = self.embed(tokens) + self.pos[:, :t]
        h = self.norm(self.blocks(h))
        return self.head(h.mean(1).view(n, m, -1).mean(1))


def transformer(**kwargs: Any) -> nn.Module:
    return SkeletonTransformer(path="fast", **kwargs)


def transformer_slow(**kwargs: Any) -> nn.Module:
    return SkeletonTransformer(path="slow", **kwargs)


def transformer_layer(**kwargs: Any) -> nn.Module:
    return SkeletonTransformer(path="layer", **kwargs)


# ============================================================================== InfoGCN
class SelfAttentionGraphConv(nn.Module):
    """InfoGCN's SA-GC: ``softmax(q^T k / sqrt(d))`` over joints (matmul) plus a shared topology."""

    def __init__(self, c_in: int, c_out: int, a: Tensor, heads: int = 3, inner: int = 4) -> None:
        super().__init__()
        self.heads, self.inner = heads, inner
        self.shared = nn.Parameter(a.sum(0, keepdim=True).repeat(heads, 1, 1))
        self.qk = nn.Conv2d(c_in, 2 * heads * inner, 1)
        self.conv = nn.ModuleList([nn.Conv2d(c_in, c_out, 1) for _ in range(heads)])
        self.bn = nn.BatchNorm2d(c_out)
        self.res = (
            nn.Identity()
            if c_in == c_out
            else nn.Sequential(nn.Conv2d(c_in, c_out, 1), nn.BatchNorm2d(c_out))
        )
        self.act = nn.ReLU()

    def forward(self, x: Tensor) -> Tensor:
        n, c, t, v = x.shape
        q, k = self.qk(x).mean(2).view(n, 2, self.heads, self.inner, v).unbind(1)  # (N, H, d, V)
        att = torch.matmul(q.transpose(-2, -1), k) / self.inner**0.5  # (N, H, V, V)
        att = att.softmax(-1) + self.shared
        y = summed(
            [
                self.conv[h](torch.matmul(x.reshape(n, c * t, v), att[:, h]).view(n, c, t, v))
                for h in range(self.heads)
            ]
        )
        return self.act(self.bn(y) + self.res(x))


class InfoGcn(GraphNet):
    """SA-GC blocks with temporal convs, a latent z (deterministic in eval) and a tuple output."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        a, width = spatial_partitions(self.num_point), self.width
        self.embed = nn.Linear(self.in_channels, width)
        self.pos = nn.Parameter(0.02 * torch.randn(1, self.num_point, width))
        self.data_bn = nn.BatchNorm1d(self.data_bn.num_features // self.in_channels * width)  # after embed
        self.l1 = SelfAttentionGraphConv(width, width, a)
        self.t1 = nn.Sequential(nn.Conv2d(width, width, (5, 1), 1, (2, 0)), nn.BatchNorm2d(width), nn.ReLU())
        self.l2 = SelfAttentionGraphConv(width, 2 * width, a)
        self.z_prior = nn.Linear(2 * width, 2 * width)
        self.fc_mu = nn.Linear(2 * width, 2 * width)
        self.fc = nn.Linear(2 * width, self.num_class)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        n, c, t, v, m = x.shape
        x = x.permute(0, 4, 2, 3, 1).reshape(n * m * t, v, c)
        x = self.embed(x) + self.pos
        x = x.view(n, m, t, v, -1).permute(0, 1, 3, 4, 2).reshape(n, m * v * x.shape[-1], t)
        x = self.data_bn(x).view(n * m, v, -1, t).permute(0, 2, 3, 1)
        x = self.pooled(self.l2(self.t1(self.l1(x))), n, m)
        z = self.fc_mu(F.relu(self.z_prior(x)))  # the mean of q(z|x): the latent in eval mode
        return self.fc(z), z


def infogcn(**kwargs: Any) -> nn.Module:
    return InfoGcn(**kwargs)


class FirstOutput(nn.Module):
    """``model(*x)[index]``: the logits of a model whose forward returns a tuple."""

    def __init__(self, model: nn.Module, index: int = 0) -> None:
        super().__init__()
        self.model, self.index = model, index

    def forward(self, *x: Tensor) -> Tensor:
        out: Tensor = self.model(*x)[self.index]
        return out


ZOO: dict[str, Callable[..., nn.Module]] = {
    "stgcn": stgcn,
    "aagcn": aagcn,
    "ctrgcn": ctrgcn,
    "efficientgcn": efficientgcn,
    "efficientgcn_plain": efficientgcn_plain,
    "transformer": transformer,
    "transformer_slow": transformer_slow,
    "transformer_layer": transformer_layer,
    "infogcn": infogcn,
}
"""Name -> builder (keyword arguments num_class, num_point, num_person, in_channels, width)."""

DEEPEXPLAINER_EXACT = ("stgcn", "efficientgcn_plain")
"""Models made only of modules shap.DeepExplainer treats exactly (no products, no softmax)."""


def randomise(model: nn.Module, seed: int = 0) -> nn.Module:
    """Non-trivial BatchNorm statistics and affine parameters, as a trained model has; eval mode."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for mod in model.modules():
            if isinstance(mod, nn.modules.batchnorm._BatchNorm):
                assert mod.running_mean is not None
                assert mod.running_var is not None
                mod.running_mean.copy_(torch.rand(mod.running_mean.shape, generator=g) * 0.4 - 0.2)
                mod.running_var.copy_(torch.rand(mod.running_var.shape, generator=g) * 0.8 + 0.4)
                mod.weight.copy_(torch.rand(mod.weight.shape, generator=g) + 0.5)
                mod.bias.copy_(torch.rand(mod.bias.shape, generator=g) * 0.4 - 0.2)
    return model.eval()
