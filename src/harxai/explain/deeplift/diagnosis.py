"""Which operation breaks completeness: a local summation-to-delta check of every operation.

Every rule of the engine is exact locally: for one operation ``y = f(x_1, ..., x_k)`` applied
to a (sample, background) pair and its reference ``y' = f(x_1', ..., x_k')``, the multipliers
``m_i`` its backward pass gives for a cotangent ``g`` satisfy
``sum_i <m_i, x_i - x_i'> = <g, y - y'>``. The engine's completeness is the chain of these
identities, so when a result is incomplete, some operation breaks its own. :func:`diagnose`
re-runs the engine on one sample against the background with a tracing reference pass (the
reference operands of *every* operation, rules with and without records alike) and a checking
paired pass (after each operation, one vector-Jacobian product with a random cotangent through
that operation only) and returns the operations ranked by their local relative error
``|<g, y - y'> - sum_i <m_i, x_i - x_i'>| / sum |g (y - y')|``.

An operation classified linear that is not (a wrong table entry), a rule with a wrong
multiplier, or an operation that mixes the sample dimension shows up at the top; exact rules
sit at float rounding (about 1e-7).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils._pytree import tree_flatten, tree_map

from .calls import Call, ModuleTracker, Record, any_live, is_live
from .engine import PairedPass, ReferencePass, frozen_eval
from .functions import UnsupportedOperationError, tile_to
from .rules import rule_of


@dataclass(frozen=True)
class OperationCheck:
    """The local completeness of one operation of the paired pass."""

    index: int  # call order among the traced operations
    name: str
    where: str
    rule: str
    error: float  # relative local completeness error

    def __str__(self) -> str:
        return f"'{self.name}' (rule {self.rule}) in {self.where}, call #{self.index}: local error {self.error:.3g}"


@dataclass
class _Entry:
    name: str
    where: str
    refs: list[Tensor]


def _traced(
    func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[str, str] | None:
    """``(name, rule family)`` of an operation the check covers, else None."""
    if not any_live(args, kwargs) or not torch.is_grad_enabled():
        return None
    name, rule = rule_of(func)
    if rule.passive or name.endswith("_") or name in ("setitem", "__setitem__"):
        return None
    return name, rule.family


def _live(args: tuple[Any, ...], kwargs: dict[str, Any]) -> list[Tensor]:
    return [v for v in tree_flatten((args, kwargs))[0] if is_live(v)]


class _TracingReferencePass(ReferencePass):
    def __init__(self, records: list[Record], tracker: ModuleTracker, trace: list[_Entry]) -> None:
        super().__init__(records, tracker)
        self.trace = trace

    def __torch_function__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
        kwargs = kwargs or {}
        traced = _traced(func, args, kwargs)
        refs = [t.detach().clone() for t in _live(args, kwargs)] if traced else []
        out = super().__torch_function__(func, types, args, kwargs)
        if traced:
            self.trace.append(_Entry(traced[0], self.where(), refs))
        return out


class _CheckingPairedPass(PairedPass):
    def __init__(self, records: list[Record], samples: int, chunk: int, trace: list[_Entry]) -> None:
        super().__init__(records, samples, chunk)
        self.trace, self.step, self.checks = trace, 0, []  # type: list[_Entry], int, list[OperationCheck]
        self.generator = torch.Generator().manual_seed(0)

    def __torch_function__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
        kwargs = kwargs or {}
        traced = _traced(func, args, kwargs)
        if traced:
            # a fresh view of each live operand: the VJP then stops at this operation's own inputs
            # (not through residual paths, nor summed over an operand passed twice)
            args, kwargs = tree_map(lambda v: v.view_as(v) if is_live(v) else v, (args, kwargs))
        live = _live(args, kwargs) if traced else []
        out = super().__torch_function__(func, types, args, kwargs)
        if traced and self.step < len(self.trace):
            entry = self.trace[self.step]
            self.step += 1
            if entry.name == traced[0]:
                error = self._local_error(func, traced[0], args, kwargs, live, entry.refs, out)
                if error is not None:
                    self.checks.append(
                        OperationCheck(self.step - 1, entry.name, entry.where, traced[1], error)
                    )
        return out

    def _local_error(
        self,
        func: Callable[..., Any],
        name: str,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        live: list[Tensor],
        refs: list[Tensor],
        out: Any,
    ) -> float | None:
        try:
            tiled = [tile_to(r, x.shape, self.samples, name) for r, x in zip(refs, live, strict=True)]
        except (UnsupportedOperationError, ValueError):
            return None
        outs, _ = tree_flatten(out)
        with torch.no_grad():
            ref_outs, _ = tree_flatten(Call(func, name, args, kwargs).substituted()(*tiled))
        pairs = [
            (y, yr)
            for y, yr in zip(outs, ref_outs, strict=False)
            if isinstance(y, Tensor) and y.requires_grad and y.is_floating_point() and y.shape == yr.shape
        ]
        if not pairs:
            return None
        gs = [torch.randn(y.shape, generator=self.generator).to(y) for y, _ in pairs]
        grads = torch.autograd.grad([y for y, _ in pairs], live, gs, retain_graph=True, allow_unused=True)
        with torch.no_grad():
            terms = [g * (y.detach() - yr) for g, (y, yr) in zip(gs, pairs, strict=True)]
            delta = sum(float(t.double().sum()) for t in terms)
            scale = sum(float(t.double().abs().sum()) for t in terms)
            chained = sum(
                float((m.double() * (x.detach().double() - r.double())).sum())
                for m, x, r in zip(grads, live, tiled, strict=True)
                if m is not None and m.shape == x.shape
            )
        return abs(delta - chained) / max(scale, 1e-30)


def diagnose(
    model: nn.Module, sample: Sequence[Tensor], background: Sequence[Tensor], top: int = 3
) -> list[OperationCheck]:
    """The operations with the largest local completeness error for one sample (largest first).

    Parameters
    ----------
    model
        As for :func:`~harxai.explain.deeplift.deeplift_shap`.
    sample
        One tensor per model input, each (samples, ...): the samples of one paired pass (the
        engine's errors may depend on several samples sharing a pass).
    background
        One tensor per model input, (background, ...).
    top
        How many operations to return.
    """
    nb = background[0].shape[0]
    records: list[Record] = []
    trace: list[_Entry] = []
    with frozen_eval(model):
        tracker = ModuleTracker(model)
        refs = [b.detach().clone().requires_grad_(True) for b in background]
        with torch.enable_grad(), tracker.active(), _TracingReferencePass(records, tracker, trace):
            model(*refs)
        paired = [x.detach().repeat_interleave(nb, dim=0).requires_grad_(True) for x in sample]
        mode = _CheckingPairedPass(records, sample[0].shape[0], nb, trace)
        with torch.enable_grad(), mode:
            model(*paired)
    return sorted(mode.checks, key=lambda c: c.error, reverse=True)[:top]
