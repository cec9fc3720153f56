"""The numerical building blocks of the fast SHAP engine's rules.

- :class:`RescaleFn`: an element-wise function whose backward multiplies by the DeepLIFT
  rescale multiplier ``(f(x) - f(x')) / (x - x')``, or ``f'(x')`` where ``|x - x'| < 1e-6``
  (Shrikumar et al., ICML 2017; shap's ``nonlinear_1d`` uses ``f'(x')`` there too);
- :class:`BilinearFn` / :func:`shapley_product`: a function affine in each of two live
  operands, ``B(a, b) - B(a', b') = B(abar, b - b') + B(a - a', bbar)`` with
  ``abar = (a + a') / 2`` (the exact Shapley split of a product);
- :class:`MaxFn`: shap's ``maxpool`` rule (the cross maximum ``max(y, y')`` splits
  ``y - y'`` between the argmax of x and of x'), generalised to overlapping windows;
- alignment of a recorded reference tensor (background chunk) with a pair tensor
  (``samples x background`` rows): :func:`batch_dim`, :func:`tile_to`.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Sequence
from functools import cache
from typing import Any

import torch
from torch import Tensor

# shap 0.51 deep_pytorch.nonlinear_1d: below this |x - x'| the local gradient is used.
TINY_DELTA = 1e-6
# shap 0.51 deep_pytorch.maxpool: below this |x - x'| the multiplier is 0.
TINY_DELTA_MAX = 1e-7


class UnsupportedOperationError(NotImplementedError):
    """An operation on an input-dependent tensor has no exact attribution rule in the fast engine."""


@cache
def signature_of(func: Callable[..., Any]) -> inspect.Signature | None:
    try:
        return inspect.signature(func)
    except (TypeError, ValueError):
        return None


def bind_arguments(
    func: Callable[..., Any], args: Sequence[Any], kwargs: dict[str, Any], names: Sequence[str]
) -> dict[str, Any]:
    """Values of the named parameters of a call (positional or keyword), defaults filled in.

    Python-level functions are bound with their signature; for builtins, positional
    arguments are matched to ``names`` in order.
    """
    sig = signature_of(func)
    if sig is not None:
        try:
            bound = sig.bind(*args, **kwargs)
        except TypeError:
            bound = None
        if bound is not None:
            bound.apply_defaults()
            return dict(bound.arguments)
    out = dict(zip(names, args, strict=False))
    out.update(kwargs)
    return out


# --------------------------------------------------------------------------------------------------
# alignment of recorded reference tensors with (sample x background) pair tensors


def batch_dim(pair_shape: Sequence[int], ref_shape: Sequence[int], samples: int, what: str) -> int | None:
    """Dimension along which a pair tensor holds ``samples`` copies of its reference tensor.

    Pairs are sample-major (row ``i * background + j``), so a reference tensor computed on the
    background chunk is repeated ``samples`` times along its batch dimension. Returns None when
    the shapes agree (``samples == 1``).

    Raises
    ------
    UnsupportedOperationError
        When no single dimension has the expected size (ambiguous or batch-mixing model).
    """
    pair, ref = tuple(pair_shape), tuple(ref_shape)
    if pair == ref and samples == 1:
        return None
    diff = [k for k, (p, r) in enumerate(zip(pair, ref, strict=False)) if p != r]
    if len(pair) == len(ref) and len(diff) == 1 and pair[diff[0]] == samples * ref[diff[0]]:
        return diff[0]
    raise UnsupportedOperationError(
        f"{what}: cannot align the paired tensor {pair} with its reference tensor {ref} "
        f"({samples} samples per batch); the engine needs each input-dependent tensor to keep "
        "the sample dimension (outermost within any merged dimension). Try batch_size equal "
        "to the background size, or backend='deepexplainer'."
    )


def tile_to(ref: Tensor, shape: Sequence[int], samples: int, what: str) -> Tensor:
    """Repeat a reference tensor along its batch dimension to the pair tensor's ``shape``."""
    d = batch_dim(shape, ref.shape, samples, what)
    return ref if d is None else repeat_along(ref, d, samples)


def repeat_along(t: Tensor, d: int, samples: int) -> Tensor:
    """``t`` repeated ``samples`` times (as a block) along dimension ``d``."""
    reps = [1] * t.dim()
    reps[d] = samples
    return t.repeat(*reps)


def _split(t: Tensor, d: int, samples: int) -> Tensor:
    shape = tuple(t.shape)
    return t.reshape((*shape[:d], samples, shape[d] // samples, *shape[d + 1 :]))


def local_derivative(f: Callable[[Tensor], Tensor], r: Tensor) -> Tensor:
    """Element-wise derivative of an element-wise function ``f`` at ``r`` (same shape as f(r))."""
    t = r.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        y = f(t)
        # the gradient of the sum, not grad_outputs=ones: a tensor grad_outputs makes torch
        # import sympy (torch.fx.experimental.symbolic_shapes, ~0.3 s) on the first call
        (g,) = torch.autograd.grad(y.sum(), t, allow_unused=True)
    return torch.zeros_like(t) if g is None else g


def rescale_multiplier(
    x: Tensor,
    y: Tensor,
    r: Tensor,
    fr: Tensor,
    derivative: Callable[[], Tensor],
    samples: int,
    what: str,
) -> Tensor:
    """DeepLIFT rescale multiplier of ``y = f(x)`` against the reference ``fr = f(r)``.

    ``x`` is broadcast to ``y``'s shape; ``r``/``fr`` have the reference (background) shape
    and are broadcast over the ``samples`` copies. ``derivative()`` returns ``f'(r)`` (shape of
    ``fr``) and is only called when some ``|x - r| < TINY_DELTA`` (or the difference is NaN);
    there the multiplier is ``f'(r)``.

    Such elements are rare (a handful in a tensor of millions, but almost always some), so
    ``dy / dx`` is computed everywhere and only they are overwritten, by index.
    """
    xe = x.expand(y.shape) if x.shape != y.shape else x
    d = batch_dim(y.shape, fr.shape, samples, what)
    if d is None:
        xs, ys, rs, frs = xe, y, r, fr
    else:
        xs, ys, rs, frs = _split(xe, d, samples), _split(y, d, samples), r.unsqueeze(d), fr.unsqueeze(d)
    dx = xs - rs
    dy = ys - frs
    size = dx.abs()
    if size.numel() == 0 or bool(size.amin() >= TINY_DELTA):  # NaN compares False
        return dy.div_(dx).reshape(y.shape)
    dfr = derivative()
    dfr = dfr if d is None else dfr.unsqueeze(d)
    m = dy.div_(dx)
    tiny = torch.ge(size, TINY_DELTA).logical_not_().nonzero(as_tuple=True)  # NaN counts as tiny
    m[tiny] = dfr.expand(m.shape)[tiny]
    return m.reshape(y.shape)


class RescaleFn(torch.autograd.Function):
    """``y = f(x)`` whose backward multiplies by the rescale multiplier."""

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any,
        x: Tensor,
        f: Callable[[Tensor], Tensor],
        r: Tensor,
        fr: Tensor,
        derivative: Callable[[], Tensor],
        samples: int,
        what: str,
    ) -> Tensor:
        y = f(x)
        ctx.save_for_backward(rescale_multiplier(x, y, r, fr, derivative, samples, what))
        ctx.x_shape = x.shape
        return y

    @staticmethod
    def backward(ctx: Any, g: Tensor) -> tuple[Tensor | None, ...]:  # type: ignore[override]
        (m,) = ctx.saved_tensors
        gx = g * m
        if gx.shape != ctx.x_shape:
            gx = gx.sum_to_size(ctx.x_shape)
        return gx, None, None, None, None, None, None


class BilinearFn(torch.autograd.Function):
    """``y = fn(a, b)`` for ``fn`` affine in each operand; backward: VJPs at (a, bbar), (abar, b)."""

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any,
        a: Tensor,
        b: Tensor,
        abar: Tensor,
        bbar: Tensor,
        fn: Callable[[Tensor, Tensor], Tensor],
        elementwise: bool,
    ) -> Tensor:
        ctx.save_for_backward(abar, bbar)
        ctx.fn, ctx.elementwise = fn, elementwise
        ctx.shapes = (a.shape, b.shape)
        return fn(a, b)

    @staticmethod
    def backward(ctx: Any, g: Tensor) -> tuple[Tensor | None, ...]:  # type: ignore[override]
        abar, bbar = ctx.saved_tensors
        a_shape, b_shape = ctx.shapes
        if ctx.elementwise:
            ga, gb = g * bbar, g * abar
            ga = ga.sum_to_size(a_shape) if ga.shape != a_shape else ga
            gb = gb.sum_to_size(b_shape) if gb.shape != b_shape else gb
        else:
            with torch.enable_grad():
                a_ = abar.detach().requires_grad_(True)
                b_ = bbar.detach().requires_grad_(True)
                # <fn(a, bbar), g> differentiated (see local_derivative: no grad_outputs)
                (ga,) = torch.autograd.grad((ctx.fn(a_, bbar) * g).sum(), a_)
                (gb,) = torch.autograd.grad((ctx.fn(abar, b_) * g).sum(), b_)
        return ga, gb, None, None, None, None


def shapley_product(
    fn: Callable[[Tensor, Tensor], Tensor], a: Tensor, ar: Tensor, b: Tensor, br: Tensor, elementwise: bool
) -> Tensor:
    """``fn(a, b)`` for two live operands with the exact Shapley product rule against ``(ar, br)``.

    ``fn`` is affine in each operand; its backward takes the VJPs at the midpoints
    ``(a + ar) / 2`` and ``(b + br) / 2`` (:class:`BilinearFn`).
    """
    abar, bbar = (a.detach() + ar) / 2, (b.detach() + br) / 2
    out: Tensor = BilinearFn.apply(a, b, abar, bbar, fn, elementwise)
    return out


class MaxSelection:
    """How one max operation selects: ``select(t) -> (values, indices)`` with indices into planes.

    ``planes(t)`` views an input-shaped tensor as (A, L) and ``unplanes`` inverts it; the
    output values and indices reshape to (A, K). Pools use their own flat spatial indices;
    reductions move the reduced dims last.
    """

    def __init__(
        self,
        select: Callable[[Tensor], tuple[Tensor, Tensor]],
        planes: Callable[[Tensor], Tensor],
        unplanes: Callable[[Tensor, torch.Size], Tensor],
    ) -> None:
        self.select, self.planes, self.unplanes = select, planes, unplanes


def pool_selection(
    pool: Callable[..., tuple[Tensor, Tensor]], spatial: int, params: dict[str, Any]
) -> MaxSelection:
    """Selection of a max pooling over the last ``spatial`` dims (``pool`` returns indices)."""

    def planes(t: Tensor) -> Tensor:
        return t.reshape(-1, math.prod(t.shape[t.dim() - spatial :]))

    return MaxSelection(lambda t: pool(t, **params), planes, lambda p, shape: p.reshape(shape))


def reduction_selection(dims: Sequence[int], keepdim: bool, ndim: int) -> MaxSelection:
    """Selection of a max reduction over ``dims`` of an ``ndim``-dimensional tensor."""
    dims = sorted(d % ndim for d in dims)
    dest = list(range(ndim - len(dims), ndim))

    def moved(t: Tensor) -> Tensor:
        return torch.movedim(t, dims, dest).reshape(*[t.shape[i] for i in range(ndim) if i not in dims], -1)

    def select(t: Tensor) -> tuple[Tensor, Tensor]:
        v, i = moved(t).max(dim=-1, keepdim=True)
        out_shape = [1 if k in dims else t.shape[k] for k in range(ndim)] if keepdim else None
        if out_shape is None:
            return v.squeeze(-1), i.squeeze(-1)
        return v.reshape(out_shape), i.reshape(out_shape)

    def planes(t: Tensor) -> Tensor:
        m = moved(t)
        return m.reshape(-1, m.shape[-1])

    def unplanes(p: Tensor, shape: torch.Size) -> Tensor:
        moved_shape = [shape[i] for i in range(ndim) if i not in dims] + [shape[i] for i in dims]
        return torch.movedim(p.reshape(moved_shape), dest, dims)

    return MaxSelection(select, planes, unplanes)


class MaxFn(torch.autograd.Function):
    """Max selection with shap's cross-max rule (values only are differentiable)."""

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any, x: Tensor, sel: MaxSelection, r: Tensor, yr: Tensor, ir: Tensor
    ) -> tuple[Tensor, Tensor]:
        y, ix = sel.select(x)
        cross = torch.maximum(y, yr)
        ctx.save_for_backward(ix, ir, cross - yr, y - cross, x - r)
        ctx.sel, ctx.x_shape = sel, x.shape
        ctx.mark_non_differentiable(ix)
        return y, ix

    @staticmethod
    def backward(ctx: Any, g: Tensor, _gi: Tensor | None) -> tuple[Tensor | None, ...]:  # type: ignore[override]
        ix, ir, cx, cr, delta = ctx.saved_tensors
        sel: MaxSelection = ctx.sel
        dp = sel.planes(delta)
        k = dp.shape[0]
        acc = torch.zeros_like(dp)
        acc.scatter_add_(1, ix.reshape(k, -1), (g * cx).reshape(k, -1))
        acc.scatter_add_(1, ir.reshape(k, -1), (g * cr).reshape(k, -1))
        grad = torch.where(dp.abs() < TINY_DELTA_MAX, torch.zeros_like(acc), acc / dp)
        return sel.unplanes(grad, ctx.x_shape), None, None, None, None
