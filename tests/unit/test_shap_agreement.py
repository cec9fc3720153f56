"""The fast SHAP engine equals shap.DeepExplainer where shap's module rules are exact.

Property (i) of issue 4: on models built only from modules shap handles exactly (linear,
convolution, batch norm in eval, ReLU/Sigmoid/Tanh/SiLU, pooling), ``backend="fast"`` and
``backend="deepexplainer"`` agree to ``max|delta| <= 1e-4 * max|phi_ref|``. Also: the reference
backend reports (never hides) its completeness error on a model with a product gate.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from harxai.explain import shap_values
from harxai.explain.deepexplainer import registered_handlers, relogged_warnings

TOL = 1e-4


def _flat(values: list[np.ndarray]) -> np.ndarray:
    return np.concatenate([v.ravel() for v in values])


def _agree(model: nn.Module, xs: list[torch.Tensor], bs: list[torch.Tensor], target: np.ndarray) -> tuple:
    fast = shap_values(model, xs, bs, target, backend="fast")
    ref = shap_values(model, xs, bs, target, backend="deepexplainer")
    phi_f, phi_r = _flat(fast.values), _flat(ref.values)
    assert np.abs(phi_r).max() > 0
    deviation = np.abs(phi_f - phi_r).max() / np.abs(phi_r).max()
    assert deviation <= TOL, deviation
    np.testing.assert_allclose(fast.expected_value, ref.expected_value, rtol=1e-6, atol=1e-6)
    return fast, ref


def _randomise_batch_norm(model: nn.Module) -> None:
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.3, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.3, 0.3)


def test_mlp_with_every_shap_activation_agrees() -> None:
    model = nn.Sequential(
        nn.Linear(6, 10), nn.ReLU(), nn.Linear(10, 10), nn.Sigmoid(), nn.Linear(10, 10), nn.Tanh(),
        nn.Linear(10, 10), nn.SiLU(), nn.Linear(10, 4),
    )  # fmt: skip
    xs, bs = [torch.randn(5, 6) * 2], [torch.randn(8, 6) * 2]
    fast, ref = _agree(model, xs, bs, np.array([0, 3, 1, 3, 2]))
    assert fast.completeness_error <= TOL
    assert ref.completeness_error <= TOL


def test_conv_net_with_batch_norm_and_pooling_agrees() -> None:
    model = nn.Sequential(
        nn.Conv2d(3, 6, 3, padding=1), nn.BatchNorm2d(6), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 8, 3, padding=1), nn.BatchNorm2d(8), nn.Tanh(), nn.AvgPool2d(2),
        nn.Conv2d(8, 8, 1), nn.SiLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.3), nn.Linear(8, 3),
    )  # fmt: skip
    _randomise_batch_norm(model)
    model.train()  # the backends switch to eval mode and restore this afterwards
    xs, bs = [torch.randn(4, 3, 8, 8)], [torch.randn(6, 3, 8, 8)]
    fast, _ = _agree(model, xs, bs, np.array([2, 0, 1, 2]))
    assert model.training
    assert all(m.training for m in model.modules())
    assert fast.completeness_error <= TOL


class _ThreeInputs(nn.Module):
    """Three inputs of different shapes, merged by concatenation and a residual addition."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Sequential(
            nn.Conv1d(2, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool1d(1), nn.Flatten()
        )
        self.b = nn.Sequential(nn.Linear(5, 4), nn.Sigmoid())
        self.c = nn.Sequential(nn.Linear(3, 4), nn.Tanh())
        self.head = nn.Sequential(nn.Linear(12, 6), nn.ReLU(), nn.Linear(6, 3))

    def forward(self, a: torch.Tensor, b: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        hb = self.b(b)
        return self.head(torch.cat([self.a(a), hb, self.c(c) + hb], dim=1))


def test_multi_input_model_with_differing_targets_agrees() -> None:
    model = _ThreeInputs()
    xs = [torch.randn(6, 2, 7), torch.randn(6, 5), torch.randn(6, 3)]
    bs = [torch.randn(5, 2, 7), torch.randn(5, 5), torch.randn(5, 3)]
    target = np.array([0, 1, 2, 2, 1, 0])
    fast, _ref = _agree(model, xs, bs, target)
    assert [v.shape for v in fast.values] == [tuple(x.shape) for x in xs]
    # per-sample targets matter: explaining another logit gives other values
    other = shap_values(model, xs, bs, (target + 1) % 3, backend="fast")
    assert np.abs(_flat(other.values) - _flat(fast.values)).max() > 1e-3


def test_tiny_reference_differences_use_the_derivative_at_the_reference() -> None:
    """Where a ReLU's input equals its reference input, shap uses the local gradient at the
    reference (its background half); the fast engine mirrors that."""
    model = nn.Sequential(nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 1))
    with torch.no_grad():
        model[0].weight.copy_(torch.tensor([[1.0, -1.0], [1.0, 1.0]]))
        model[0].bias.zero_()
        model[2].weight.copy_(torch.tensor([[2.0, 1.0]]))
    # hidden unit 0 = x0 - x1 is equal for input and background (1 vs 1, and -1 vs -1)
    xs = [torch.tensor([[3.0, 2.0], [1.0, 2.0]])]
    bs = [torch.tensor([[1.0, 0.0], [0.0, 1.0]])]
    fast, _ = _agree(model, xs, bs, np.array([0, 0]))
    assert fast.completeness_error <= TOL


def test_shipped_model_without_attention_agrees() -> None:
    from harxai.models import build_model, make_architecture
    from harxai.skeletons import get_layout

    groups = ("joint", "velocity", "bone", "acceleration")
    arch = make_architecture(
        "tiny",
        attention="none",
        dropout=0.1,
        in_channels=dict.fromkeys(groups, 6),
        layout=get_layout("ntu25").to_dict(),
        num_classes=5,
    )
    model = build_model(arch)
    _randomise_batch_norm(model)
    xs = [torch.randn(2, 6, 12, 25, 2) for _ in range(4)]
    bs = [torch.randn(3, 6, 12, 25, 2) for _ in range(4)]
    _agree(model, xs, bs, np.array([1, 4]))


class _Gated(nn.Module):
    """``x * sigmoid(g(x))`` written functionally inside a container (shap sees no product)."""

    def __init__(self) -> None:
        super().__init__()
        self.inner = nn.Linear(4, 4)
        self.gate = nn.Linear(4, 4)
        self.sigmoid = nn.Sigmoid()
        self.out = nn.Linear(4, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.inner(x) * self.sigmoid(self.gate(x)))


def test_deepexplainer_reports_its_completeness_error_on_a_product_gate() -> None:
    model = _Gated()
    xs, bs = [torch.randn(4, 4) * 3], [torch.randn(6, 4) * 3]
    target = np.array([0, 1, 0, 1])
    ref = shap_values(model, xs, bs, target, backend="deepexplainer")
    fast = shap_values(model, xs, bs, target, backend="fast")
    assert ref.completeness_error > 1e-3
    assert fast.completeness_error <= TOL
    total = sum(v.reshape(4, -1).sum(1) for v in ref.values)
    gap = ref.output - ref.expected_value
    expected = np.abs(total - gap).max() / np.abs(gap).max()
    assert ref.completeness_error == pytest.approx(expected, rel=1e-4)


def test_reference_handlers_and_model_are_restored() -> None:
    from shap.explainers._deep import deep_pytorch as dp

    from harxai.models.layers import Multiply

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lin, self.act, self.mul = nn.Linear(3, 3), nn.Hardswish(), Multiply()

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            h = self.act(self.lin(x))
            return self.mul(h, x)

    model = Net()
    before = dict(dp.op_handler)
    names = [n for n, _ in model.named_parameters()]
    with relogged_warnings(), registered_handlers(model) as handlers:
        assert handlers["Hardswish"] is dp.nonlinear_1d
        assert handlers["Multiply"] is dp.passthrough
    assert dp.op_handler == before
    shap_values(model, [torch.randn(2, 3)], [torch.randn(3, 3)], np.array([0, 2]), backend="deepexplainer")
    assert dp.op_handler == before
    assert [n for n, _ in model.named_parameters()] == names  # shap's x/y parameters removed
