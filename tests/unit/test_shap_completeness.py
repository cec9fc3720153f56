"""Completeness of the fast SHAP engine on functional operations and on harxai's models.

Property (ii) of issue 4: ``sum(phi) = f(x) - E[f(b)]`` to 1e-4 relative on models whose
operations shap's module rules do not treat exactly (products, softmax, einsum with a
Parameter, residual additions, normalisations, division, max) - written functionally, so
that only an operation-level engine sees them - and on the shipped model (tiny preset,
attention joint, frame and none).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from harxai.explain import shap_values
from harxai.explain.shap_api import IncompleteAttributionError

TOL = 1e-4
GROUPS = ("joint", "velocity", "bone", "acceleration")


class Functional(nn.Module):
    """A small trunk (linear, tanh) followed by a functional body ``body(h, self)``."""

    def __init__(self, body: Callable[[torch.Tensor, Functional], torch.Tensor], width: int = 8) -> None:
        super().__init__()
        self.body = body
        self.trunk = nn.Linear(5, width)
        self.mix = nn.Linear(width, width)
        self.edge = nn.Parameter(torch.rand(width, width) + 0.5)
        self.head = nn.Linear(width, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(torch.tanh(self.trunk(x)), self))


def _gate(h: torch.Tensor, m: Functional) -> torch.Tensor:
    return h * torch.sigmoid(m.mix(h))


def _softmax_attention(h: torch.Tensor, m: Functional) -> torch.Tensor:
    q, k = h.view(-1, 4, 2), m.mix(h).view(-1, 4, 2)
    att = F.softmax(torch.einsum("nid,njd->nij", q, k) * 2.0, dim=-1)
    return (att @ k).flatten(1) + h


def _einsum_graph(h: torch.Tensor, m: Functional) -> torch.Tensor:
    return F.relu(torch.einsum("nv,vw->nw", h, m.edge * 0.5)) + h  # residual addition


def _layer_norm(h: torch.Tensor, m: Functional) -> torch.Tensor:
    return F.gelu(F.layer_norm(m.mix(h) * 3.0, (h.shape[-1],), eps=1e-3))


def _division(h: torch.Tensor, m: Functional) -> torch.Tensor:
    return h / (1.5 + torch.sigmoid(m.mix(h))) + 1.0 / (2.0 + h.square())


def _group_norm_and_max(h: torch.Tensor, m: Functional) -> torch.Tensor:
    z = F.group_norm(m.mix(h).view(-1, 4, 2), 2, eps=1e-3)
    pooled = F.max_pool1d(z.transpose(1, 2), 2)  # (N, 2, 2)
    return F.silu(h + z.flatten(1) * pooled.amax(dim=(1, 2), keepdim=True).squeeze(-1))


def _log_softmax_and_extrema(h: torch.Tensor, m: Functional) -> torch.Tensor:
    g = m.mix(h)
    values, _ = torch.max(g.view(-1, 2, 4), dim=2)
    return F.log_softmax(g, dim=1) + torch.maximum(h, g) - torch.logsumexp(values, 1, keepdim=True)


def _moments_and_norms(h: torch.Tensor, m: Functional) -> torch.Tensor:
    g = m.mix(h).view(-1, 2, 4)
    spread = g.std(dim=2, keepdim=True).flatten(1).repeat(1, 4)  # (N, 8)
    var = torch.var(g, 2, False).sum(1, keepdim=True)  # legacy positional unbiased=False
    norms = torch.linalg.vector_norm(h, 3.0, dim=1, keepdim=True) + h.norm(dim=1, keepdim=True)
    pooled = torch.var_mean(g, dim=(1, 2), correction=0)[0].unsqueeze(1)
    return h * spread + var + norms + pooled


BODIES = {
    "x*sigmoid(g)": _gate,
    "softmax attention": _softmax_attention,
    "einsum with Parameter + residual": _einsum_graph,
    "layer norm": _layer_norm,
    "division": _division,
    "group norm + max": _group_norm_and_max,
    "log_softmax + max/maximum/logsumexp": _log_softmax_and_extrema,
    "var/std/var_mean + vector norms": _moments_and_norms,
}


@pytest.mark.parametrize("name", list(BODIES))
def test_completeness_on_functional_operations(name: str) -> None:
    model = Functional(BODIES[name])
    xs, bs = [torch.randn(6, 5) * 2], [torch.randn(7, 5) * 2]
    target = np.array([0, 1, 2, 0, 1, 2])
    result = shap_values(model, xs, bs, target, backend="fast", batch_size=16)
    assert result.completeness_error <= TOL
    gap = result.output - result.expected_value
    assert np.abs(gap).max() > 1e-2  # a meaningful test: the outputs differ from the expectation
    assert result.values[0].dtype == np.float32


class _BatchSecond(nn.Module):
    """Moves the sample dimension to position 1 before a softmax over dim 0 and a product."""

    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(4, 6)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.lin(x).view(-1, 3, 2).permute(1, 0, 2)  # (3, N, 2)
        w = torch.softmax(z, dim=0)
        return (w * z).sum(0)  # (N, 2)


def test_completeness_when_the_sample_dimension_is_not_first() -> None:
    xs, bs = [torch.randn(5, 4) * 2], [torch.randn(4, 4) * 2]
    result = shap_values(_BatchSecond(), xs, bs, np.array([0, 1, 1, 0, 1]), batch_size=8)
    assert result.completeness_error <= TOL


def shipped_model(attention: str, frames: int, classes: int = 5) -> nn.Module:
    """Tiny-preset harxai model with non-trivial batch-norm statistics and a sharp classifier."""
    from harxai.models import build_model, make_architecture
    from harxai.skeletons import get_layout

    arch = make_architecture(
        "tiny",
        attention=attention,
        dropout=0.1,
        in_channels=dict.fromkeys(GROUPS, 6),
        layout=get_layout("ntu25").to_dict(),
        num_classes=classes,
    )
    model = build_model(arch)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.2, 0.6)
        fc = model.classifier.fc  # type: ignore[union-attr]
        fc.weight.mul_(20.0)
    return model


@pytest.mark.parametrize("attention", ["joint", "frame", "none"])
def test_completeness_on_the_shipped_model(attention: str) -> None:
    model = shipped_model(attention, frames=12)
    xs = [torch.randn(2, 6, 12, 25, 2) for _ in GROUPS]
    bs = [torch.randn(3, 6, 12, 25, 2) for _ in GROUPS]
    with torch.no_grad():
        target = model.eval()(*xs).argmax(1).numpy()
    result = shap_values(model, xs, bs, target, backend="fast")
    assert result.completeness_error <= TOL
    assert np.abs(result.output - result.expected_value).max() > 1e-2
    assert [v.shape for v in result.values] == [tuple(x.shape) for x in xs]


class _LogModel(torch.nn.Module):
    """log of the input: NaN for a negative input (a model that is wrong outside its domain)."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = torch.nn.Linear(4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.log(x))


def test_nan_attributions_fail_the_completeness_check() -> None:
    """A NaN completeness error is never within the tolerance: the chunk fails, naming NaN."""
    torch.manual_seed(0)
    x = torch.rand(2, 4) - 2.0
    b = torch.rand(3, 4)
    with pytest.raises(IncompleteAttributionError, match="completeness error nan"):
        shap_values(_LogModel(), x, b, np.array([0, 1]))
