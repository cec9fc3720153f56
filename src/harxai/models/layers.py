"""Building blocks of the multi-branch GCN, written to be explained.

Every nonlinearity is its own non-inplace module instance, gating products and residual
additions are modules (:class:`Multiply`, :class:`Add`), identity residuals are
``nn.Identity`` and the graph contraction is the named module :class:`GraphContraction`,
so that forward hooks (GradCAM), module-level DeepLIFT rules (``shap.DeepExplainer``) and
an operation-level SHAP engine all see each step. Inside the network, activations are
shaped (sample*person, channel, frame, joint), short form (N*M, C, T, V), with the sample
index major so that the first half of a batch stays the first half after reshaping.
"""

from __future__ import annotations

import torch
from torch import nn


class Add(nn.Module):
    """Element-wise sum of two tensors (residual additions), as a module hooks can see."""

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """Return ``a + b`` (broadcasting) without modifying either input."""
        return a + b


class Multiply(nn.Module):
    """Element-wise product of two tensors (attention gating), as a module hooks can see."""

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """Return ``a * b`` (broadcasting) without modifying either input."""
        return a * b


class GraphContraction(nn.Module):
    """Contraction over joints with the partitioned adjacency weighted by edge importance.

    Computes ``y[n, c, t, w] = sum_k sum_v x[n, k, c, t, v] * A[k, v, w] * E[k, v, w]``
    (ST-GCN's spatial graph convolution after its 1x1 convolution; Yan et al., AAAI 2018).

    Parameters
    ----------
    adjacency
        Normalised adjacency split by graph distance, shape (partition, joint, joint),
        from :func:`harxai.skeletons.distance_partitions`. Stored as the buffer
        ``adjacency``.

    Attributes
    ----------
    edge_importance
        Learnable edge importance E, shape (partition, joint, joint), initialised to ones.
        Perturbation experiments edit it in place (e.g. ``E[0, v, v]``).
    """

    adjacency: torch.Tensor

    def __init__(self, adjacency: torch.Tensor) -> None:
        super().__init__()
        if adjacency.ndim != 3 or adjacency.shape[1] != adjacency.shape[2]:
            raise ValueError(f"adjacency must be (partition, joint, joint), got {tuple(adjacency.shape)}")
        self.register_buffer("adjacency", adjacency.detach().clone().float())
        self.edge_importance = nn.Parameter(torch.ones_like(self.adjacency))

    @property
    def partitions(self) -> int:
        """Number of partitions K."""
        return int(self.adjacency.shape[0])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Contract over joints.

        Parameters
        ----------
        x
            Shape (N*M, K*C, T, V): the 1x1 convolution output, partition-major channels.

        Returns
        -------
        torch.Tensor
            Shape (N*M, C, T, V).
        """
        n, kc, t, v = x.shape
        k = self.partitions
        weight = self.adjacency * self.edge_importance
        return torch.einsum("nkctv,kvw->nctw", x.view(n, k, kc // k, t, v), weight)


class GraphConvBlock(nn.Module):
    """Spatial graph convolution block: ``act(bn(graph(conv(x))) + residual(x))``.

    As EfficientGCN's ``Spatial_Graph_Layer`` (Song et al., TPAMI 2022): a 1x1 convolution
    to K*C_out channels, the contraction :class:`GraphContraction`, batch normalisation,
    a residual (``nn.Identity`` when the widths agree, else a 1x1 convolution with batch
    normalisation) and a ReLU. Without ``residual`` (harxai's default) the block is
    ``act(bn(graph(conv(x))))`` and has no ``residual``/``add`` submodules, so every key
    point reaches the output only through ``A * E`` and perturbing E can remove it.

    Parameters
    ----------
    in_channels, out_channels
        Channel widths C_in and C_out.
    adjacency
        Shape (partition, joint, joint).
    residual
        Whether the block has a residual path around the graph contraction.
    """

    def __init__(
        self, in_channels: int, out_channels: int, adjacency: torch.Tensor, residual: bool = True
    ) -> None:
        super().__init__()
        k = int(adjacency.shape[0])
        self.conv = nn.Conv2d(in_channels, k * out_channels, kernel_size=1)
        self.graph = GraphContraction(adjacency)
        self.bn = nn.BatchNorm2d(out_channels)
        self.residual: nn.Module | None = None
        self.add: Add | None = None
        if residual:
            self.add = Add()
            if in_channels == out_channels:
                self.residual = nn.Identity()
            else:
                self.residual = nn.Sequential(
                    nn.Conv2d(in_channels, out_channels, kernel_size=1), nn.BatchNorm2d(out_channels)
                )
        self.act = nn.ReLU(inplace=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map (N*M, C_in, T, V) to (N*M, C_out, T, V)."""
        y = self.bn(self.graph(self.conv(x)))
        if self.residual is not None and self.add is not None:
            y = self.add(y, self.residual(x))
        return self.act(y)


class TemporalConvBlock(nn.Module):
    """Temporal convolution block: ``act(bn(conv(x)) + residual(x))``.

    As EfficientGCN's ``Temporal_Basic_Layer``: a (kernel x 1) convolution over frames with
    stride, batch normalisation, a residual (``nn.Identity`` at stride 1, else a strided
    1x1 convolution with batch normalisation) and a ReLU.

    Parameters
    ----------
    channels
        Channel width C (unchanged).
    kernel
        Odd temporal kernel size in frames.
    stride
        Temporal stride; the output has ceil(T / stride) frames.
    """

    def __init__(self, channels: int, kernel: int, stride: int) -> None:
        super().__init__()
        if kernel < 1 or kernel % 2 == 0:
            raise ValueError(f"temporal kernel must be odd and positive, got {kernel}")
        if stride < 1:
            raise ValueError(f"temporal stride must be >= 1, got {stride}")
        pad = (kernel - 1) // 2
        self.conv = nn.Conv2d(channels, channels, (kernel, 1), stride=(stride, 1), padding=(pad, 0))
        self.bn = nn.BatchNorm2d(channels)
        self.residual: nn.Module
        if stride == 1:
            self.residual = nn.Identity()
        else:
            self.residual = nn.Sequential(
                nn.Conv2d(channels, channels, kernel_size=1, stride=(stride, 1)), nn.BatchNorm2d(channels)
            )
        self.add = Add()
        self.act = nn.ReLU(inplace=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map (N*M, C, T, V) to (N*M, C, ceil(T/stride), V)."""
        return self.act(self.add(self.bn(self.conv(x)), self.residual(x)))
