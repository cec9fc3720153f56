"""Reference SHAP backend: the unmodified ``shap.DeepExplainer`` (shap 0.51, PyTorch).

shap's PyTorch DeepExplainer applies DeepLIFT rules through forward/backward hooks on every
*leaf* module, looked up by class name in ``shap.explainers._deep.deep_pytorch.op_handler``;
operations outside leaf modules (functional calls, products, additions inside a container's
``forward``) keep their plain gradients. This module runs it as is (no fork) and only:

- registers, for the duration of a call, handlers for leaf modules shap 0.51 does not know:
  a class (or base class) name already in ``op_handler`` reuses that rule (e.g. a subclass of
  ``nn.Linear``); element-wise activations missing from shap 0.51 (``SiLU``, ``Hardswish``,
  ...) get ``nonlinear_1d``; linear modules (harxai's ``Add`` and ``GraphContraction``, padding,
  upsampling) get ``linear_1d``; anything else (e.g. harxai's gating ``Multiply``) gets
  ``passthrough`` (plain gradient, as shap does for unknown modules) and is logged, because
  it has no exact DeepLIFT rule: the gap shows in the completeness error, never hidden;
- explains one output per sample by wrapping the model in a container module that selects
  ``logits[:, t:t+1]`` (containers get no hooks), one explainer per distinct target;
- calls ``shap_values(check_additivity=False)``; the caller computes the completeness error;
- re-logs shap's and torch's warnings at WARNING level instead of letting them escape, and
  removes the ``x``/``y`` parameters shap's hooks leave on leaf modules.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from .deeplift import frozen_eval

log = logging.getLogger(__name__)

NONLINEAR_MODULES = frozenset(
    {
        "SiLU",
        "Hardswish",
        "Hardsigmoid",
        "ReLU6",
        "Mish",
        "Softsign",
        "CELU",
        "Hardtanh",
        "LogSigmoid",
        "Tanhshrink",
    }
)
LINEAR_MODULES = frozenset(
    {"Add", "GraphContraction", "Unflatten", "Upsample", "ChannelShuffle", "PixelShuffle", "PixelUnshuffle"}
    | {
        f"{kind}Pad{d}d"
        for kind in ("Zero", "Constant", "Reflection", "Replication", "Circular")
        for d in (1, 2, 3)
    }
)


class _TargetLogit(nn.Module):
    """Container selecting one logit column, ``model(*x)[:, index : index + 1]``."""

    def __init__(self, model: nn.Module, index: int) -> None:
        super().__init__()
        self.model = model
        self.index = index

    def forward(self, *inputs: Tensor) -> Tensor:
        return self.model(*inputs)[:, self.index : self.index + 1]


def _leaves(model: nn.Module) -> Iterator[tuple[str, nn.Module]]:
    for name, module in model.named_modules():
        if not list(module.children()):
            yield name, module


@contextmanager
def registered_handlers(model: nn.Module) -> Iterator[dict[str, Callable[..., Any]]]:
    """Temporarily add ``op_handler`` entries for the model's leaf modules unknown to shap.

    Import shap inside :func:`relogged_warnings` (its import warns).
    """
    from shap.explainers._deep import deep_pytorch as dp  # late: shap is heavy, only this backend needs it

    saved = dict(dp.op_handler)
    params_before = {id(m): set(m._parameters) for m in model.modules()}
    inexact: list[str] = []
    try:
        for name, module in _leaves(model):
            cls = type(module).__name__
            if cls not in dp.op_handler:
                inherited = next((c.__name__ for c in type(module).__mro__[1:] if c.__name__ in saved), None)
                if inherited is not None:
                    dp.op_handler[cls] = saved[inherited]
                elif cls in NONLINEAR_MODULES:
                    dp.op_handler[cls] = dp.nonlinear_1d
                elif cls in LINEAR_MODULES:
                    dp.op_handler[cls] = dp.linear_1d
                else:
                    dp.op_handler[cls] = dp.passthrough
            if cls not in saved and dp.op_handler[cls] is dp.passthrough:
                inexact.append(f"{name} ({cls})")
        if inexact:
            log.warning(
                "shap.DeepExplainer has no rule for %d leaf module(s), e.g. %s: their plain gradients are "
                "used, so attributions need not sum to f(x) - E[f(b)] (see completeness_error)",
                len(inexact),
                ", ".join(inexact[:3]),
            )
        yield dp.op_handler
    finally:
        dp.op_handler.clear()
        dp.op_handler.update(saved)
        for module in model.modules():
            for attr in ("x", "y"):
                if attr in module._parameters and attr not in params_before.get(id(module), set()):
                    del module._parameters[attr]


@contextmanager
def relogged_warnings() -> Iterator[None]:
    """Record warnings raised inside (shap, torch hooks) and log them instead."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    seen: set[str] = set()
    for w in caught:
        text = f"{w.category.__name__}: {w.message}"
        if text not in seen:
            seen.add(text)
            log.warning("shap.DeepExplainer: %s", text)


def deepexplainer_values(
    model: nn.Module, inputs: Sequence[Tensor], background: Sequence[Tensor], target: np.ndarray
) -> list[np.ndarray]:
    """SHAP values of logit ``target[i]`` for each sample from ``shap.DeepExplainer``.

    Parameters
    ----------
    model
        ``model(*inputs)`` -> logits (sample, class); left in its original train/eval mode.
    inputs, background
        One tensor per model input, (sample, ...) and (background, ...).
    target
        int (sample,).

    Returns
    -------
    list of numpy.ndarray
        float32, shaped like ``inputs``.
    """
    values = [np.zeros(tuple(x.shape), dtype=np.float32) for x in inputs]
    with relogged_warnings(), frozen_eval(model), registered_handlers(model):
        import shap  # late: shap is heavy, only this backend needs it

        for t in np.unique(target):
            rows = np.flatnonzero(target == t)
            index = torch.as_tensor(rows, device=inputs[0].device)
            explainer = shap.DeepExplainer(_TargetLogit(model, int(t)), list(background))
            phis = explainer.shap_values([x[index] for x in inputs], check_additivity=False)
            for k, phi in enumerate(phis):
                values[k][rows] = np.asarray(phi, dtype=np.float32).reshape(values[k][rows].shape)
            log.info("deepexplainer: target %d, %d samples", int(t), len(rows))
    return values


def deepexplainer_all_outputs(
    model: nn.Module, inputs: Sequence[Tensor], background: Sequence[Tensor]
) -> list[np.ndarray]:
    """``shap.DeepExplainer(model, background).shap_values(inputs)`` explaining every output.

    The seed code's setting (seed study 2(c)); returns float32 arrays (sample, ..., class).
    """
    with relogged_warnings(), frozen_eval(model), registered_handlers(model):
        import shap  # late: shap is heavy, only this backend needs it

        explainer = shap.DeepExplainer(model, list(background))
        phis = explainer.shap_values(list(inputs), check_additivity=False)
    return [np.asarray(p, dtype=np.float32) for p in phis]
