"""Cheaper passes of linear operations in the fast SHAP engine's paired pass.

In the paired pass every input-dependent tensor depends on the explained sample only: the
``background`` rows of one sample are identical in the forward pass (they differ only in the
backward multipliers). Convolutions, linear layers and two-operand einsums with a constant
operand are therefore evaluated on one row per sample and the result is repeated, while their
backward pass (the transposed linear map, which needs no forward values) runs on all pair rows.
The values are those of the plain operation; the saving is the forward cost of these operations.
Batch normalisation in eval mode (a per-channel affine map) gets a one-multiplication backward,
and 1x1 convolutions a channel matmul instead of ``convolution_backward`` (about ten times
slower for them on CPU).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from .functions import bind_arguments

DEDUP_OPS = frozenset({"conv1d", "conv2d", "conv3d", "linear", "einsum"})
_CONV_NAMES = ("input", "weight", "bias", "stride", "padding", "dilation", "groups")

Vjp = Callable[[Tensor, Tensor], Tensor]


@dataclass(frozen=True)
class DedupPlan:
    """How to run one operation on distinct rows: output batch dim per input batch dim, and its VJP."""

    out_dim: Callable[[int], int | None]
    vjp: Vjp


def _ints(v: Any, k: int) -> list[int]:
    return [int(v)] * k if isinstance(v, int) else [int(u) for u in v]


def _conv_plan(
    func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any], x: Tensor
) -> DedupPlan | None:
    p = bind_arguments(func, args, kwargs, _CONV_NAMES)
    weight = p.get("weight")
    if p.get("input") is not x or not isinstance(weight, Tensor) or isinstance(p.get("padding", 0), str):
        return None
    k = weight.dim() - 2
    if x.dim() != k + 2:
        return None
    stride, padding = _ints(p.get("stride", 1), k), _ints(p.get("padding", 0), k)
    dilation, groups = _ints(p.get("dilation", 1), k), int(p.get("groups", 1))
    if groups == 1 and all(v == 1 for v in weight.shape[2:]) and not any(padding):
        return DedupPlan(lambda d: d if d == 0 else None, _pointwise_conv_vjp(weight, stride))

    def vjp(g: Tensor, inp: Tensor) -> Tensor:
        return torch.ops.aten.convolution_backward(
            g, inp, weight, None, stride, padding, dilation, False, [0] * k, groups, [True, False, False]
        )[0]

    return DedupPlan(lambda d: d if d == 0 else None, vjp)


def _pointwise_conv_vjp(weight: Tensor, stride: list[int]) -> Vjp:
    """VJP of a 1x1 convolution (no padding, one group): a channel matmul at the strided positions.

    On CPU, ``convolution_backward`` of a 1x1 convolution costs about ten times this matmul.
    """
    w_t = weight.reshape(weight.shape[0], weight.shape[1]).t()  # (in channel, out channel)

    def vjp(g: Tensor, inp: Tensor) -> Tensor:
        n, c_out = g.shape[0], g.shape[1]
        gi = torch.matmul(w_t, g.reshape(n, c_out, -1)).reshape(n, w_t.shape[0], *g.shape[2:])
        if gi.shape == inp.shape:
            return gi
        out = gi.new_zeros(inp.shape)
        taps = (slice(0, m * st, st) for m, st in zip(g.shape[2:], stride, strict=True))
        out[(slice(None), slice(None), *taps)] = gi
        return out

    return vjp


def _linear_plan(
    func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any], x: Tensor
) -> DedupPlan | None:
    p = bind_arguments(func, args, kwargs, ("input", "weight", "bias"))
    weight = p.get("weight")
    if p.get("input") is not x or not isinstance(weight, Tensor) or weight.dim() != 2:
        return None
    return DedupPlan(lambda d: d if d < x.dim() - 1 else None, lambda g, _inp: g @ weight)


def _einsum_plan(args: tuple[Any, ...], kwargs: dict[str, Any], x: Tensor) -> DedupPlan | None:
    if kwargs or not args or not isinstance(args[0], str):
        return None
    operands = list(args[1]) if len(args) == 2 and isinstance(args[1], (list, tuple)) else list(args[1:])
    eq = args[0].replace(" ", "")
    if len(operands) != 2 or "->" not in eq or "." in eq:
        return None
    ins, out = eq.split("->")
    subs = ins.split(",")
    if len(subs) != 2 or any(len(set(s)) != len(s) for s in subs):
        return None
    live = 0 if operands[0] is x else 1 if operands[1] is x else None
    if live is None:
        return None
    a, b, other = subs[live], subs[1 - live], operands[1 - live]
    if not isinstance(other, Tensor) or any(c not in out and c not in b for c in a):
        return None

    def out_dim(d: int) -> int | None:
        letter = a[d]
        return out.index(letter) if letter in out and letter not in b else None

    return DedupPlan(out_dim, lambda g, _inp: torch.einsum(f"{out},{b}->{a}", g, other))


def dedup_plan(
    name: str, func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any], x: Tensor
) -> DedupPlan | None:
    """Plan for an operation with the single live operand ``x``, or None when not applicable."""
    if name.startswith("conv"):
        return _conv_plan(func, args, kwargs, x)
    if name == "linear":
        return _linear_plan(func, args, kwargs, x)
    if name == "einsum":
        return _einsum_plan(args, kwargs, x)
    return None


class DedupFn(torch.autograd.Function):
    """``fn(x)`` computed on one row per sample (rows ``(sample, chunk, inner)`` along ``d``)."""

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any,
        x: Tensor,
        fn: Callable[[Tensor], Tensor],
        d: int,
        d_out: int,
        layout: tuple[int, int, int],
        vjp: Vjp,
    ) -> Tensor:
        s, chunk, inner = layout
        xu = x.unflatten(d, (s, chunk, inner)).select(d + 1, 0).flatten(d, d + 1)
        yu = fn(xu)
        shape = (*yu.shape[:d_out], s, chunk, inner, *yu.shape[d_out + 1 :])
        y = yu.unflatten(d_out, (s, 1, inner)).expand(shape).flatten(d_out, d_out + 2)
        ctx.x_meta = (x.shape, x.dtype, x.device)
        ctx.vjp = vjp
        return y

    @staticmethod
    def backward(ctx: Any, g: Tensor) -> tuple[Tensor | None, ...]:  # type: ignore[override]
        # the transposed map needs x's shape only: a contiguous stand-in, never read, spares
        # keeping x alive and convolution_backward's copy of a non-contiguous x
        shape, dtype, device = ctx.x_meta
        stand_in = torch.empty(shape, dtype=dtype, device=device)
        return ctx.vjp(g.contiguous(), stand_in), None, None, None, None, None


class AffineFn(torch.autograd.Function):
    """``fn(x)`` for a per-channel affine ``fn`` (batch norm in eval mode); backward ``g * scale``.

    ``scale`` is shaped (channel, 1, ...) to broadcast over dim 1; one multiplication replaces
    ``native_batch_norm_backward``.
    """

    @staticmethod
    def forward(ctx: Any, x: Tensor, fn: Callable[[Tensor], Tensor], scale: Tensor) -> Tensor:  # type: ignore[override]
        ctx.save_for_backward(scale)
        return fn(x)

    @staticmethod
    def backward(ctx: Any, g: Tensor) -> tuple[Tensor | None, ...]:  # type: ignore[override]
        (scale,) = ctx.saved_tensors
        return g * scale, None, None
