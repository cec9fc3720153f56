"""Never silently wrong (issue 13, point 7): an incomplete fast result fails, naming the culprit.

A rule is broken on purpose (registered over the shipped one for the test's duration): the
result must fail with an error that names the model, the worst sample and the broken
operation with its module, found by the engine's per-operation completeness check.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pytest
import torch
from models_zoo import ZOO, randomise
from torch import nn

from harxai.explain import IncompleteAttributionError, shap_values
from harxai.explain.deeplift.calls import Call, Record
from harxai.explain.deeplift.diagnosis import diagnose
from harxai.explain.deeplift.engine import Pass
from harxai.explain.deeplift.rules import LinearRule, RescaleRule, Rule, register


class PlainGradientSigmoid(RescaleRule):
    """A broken rule: sigmoid with its plain gradient instead of the rescale multiplier."""

    names = frozenset({"sigmoid"})

    def paired(self, p: Pass, call: Call, plan: Any, rec: Record | None) -> Any:
        return call.run()


class TanhAsLinear(LinearRule):
    """A broken table entry: tanh filed as linear."""

    names = frozenset({"tanh"})


@contextmanager
def registered(rule: Rule) -> Iterator[None]:
    undo = register(rule)
    try:
        yield
    finally:
        undo()


class GateBlock(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.gate = nn.Linear(8, 8)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return h * torch.sigmoid(self.gate(h))


class Gated(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(3)
        self.trunk = nn.Sequential(nn.Linear(5, 8), nn.Tanh())
        self.block = GateBlock()
        self.head = nn.Linear(8, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.block(self.trunk(x)))


def _data() -> tuple[torch.Tensor, torch.Tensor, np.ndarray]:
    g = torch.Generator().manual_seed(5)
    return torch.randn(5, 5, generator=g) * 2, torch.randn(4, 5, generator=g) * 2, np.array([0, 1, 2, 0, 1])


def test_intact_engine_passes_the_default_tolerance() -> None:
    x, b, t = _data()
    assert shap_values(Gated(), x, b, t, batch_size=8).completeness_error <= 1e-4


@pytest.mark.parametrize(
    ("rule", "name", "module"),
    [(PlainGradientSigmoid(), "sigmoid", "block"), (TanhAsLinear(), "tanh", "trunk.1")],
    ids=["wrong multiplier", "wrong table entry"],
)
def test_broken_rule_fails_naming_model_sample_and_operation(rule: Rule, name: str, module: str) -> None:
    x, b, t = _data()
    with registered(rule), pytest.raises(IncompleteAttributionError) as caught:
        shap_values(Gated(), x, b, t, batch_size=8)
    message = str(caught.value)
    assert "model Gated" in message
    assert "worst sample" in message
    # the first operation named is the broken one
    first = message.split("the operation most likely responsible: ")[1]
    assert first.startswith(f"'{name}'"), message
    assert f"in module '{module}'," in first.split(";")[0], message


def test_tolerance_none_returns_the_incomplete_result() -> None:
    x, b, t = _data()
    with registered(PlainGradientSigmoid()):
        result = shap_values(Gated(), x, b, t, batch_size=8, completeness_tolerance=None)
    assert result.completeness_error > 1e-4  # the broken rule really breaks completeness


def test_the_broken_rule_is_undone() -> None:
    x, b, t = _data()
    with registered(PlainGradientSigmoid()):
        pass
    assert shap_values(Gated(), x, b, t).completeness_error <= 1e-4


def test_deepexplainer_reports_without_failing() -> None:
    x, b, t = _data()
    result = shap_values(Gated(), x, b, t, backend="deepexplainer", completeness_tolerance=1e-12)
    assert result.completeness_error > 1e-4  # shap's module rules pass the product's plain gradient


@pytest.mark.parametrize("name", ["ctrgcn", "transformer"])
def test_every_operation_of_an_intact_model_is_locally_exact(name: str) -> None:
    torch.manual_seed(0)
    model = randomise(ZOO[name](num_class=4, width=8))
    g = torch.Generator().manual_seed(1)
    x, b = torch.randn(2, 3, 8, 25, 2, generator=g), torch.randn(3, 3, 8, 25, 2, generator=g)
    checks = diagnose(model, [x], [b], top=1)
    assert checks
    assert checks[0].error <= 1e-5, checks[0]


def test_float_rounding_on_a_tiny_gap_is_not_an_error() -> None:
    """A random-weight model whose outputs barely differ from E: rounding is not a failure."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 2))
    with torch.no_grad():
        model[2].weight.mul_(1e-4)
    g = torch.Generator().manual_seed(2)
    x, b = torch.randn(3, 5, generator=g), torch.randn(4, 5, generator=g)
    result = shap_values(model, x, b, [0, 1, 0], completeness_tolerance=1e-12)
    assert result.completeness_error > 1e-12  # beyond the (absurd) tolerance, yet within rounding
