"""Composite rules of the fast SHAP engine: operations decomposed into exact local rules.

Each function takes the paired (sample x background) tensor ``x`` and its reference ``xr``
already aligned to ``x``'s shape, and returns the pair value with the modified gradient.
Internally every step is computed on both sides (``*_dual`` helpers return ``(y, y_ref)``),
so that each rescale or product step sees its own reference value and the chain stays exact:

- division ``a / b = a * (1 / b)``: rescale of the reciprocal, then the product rule;
- softmax ``exp(z - c) / sum exp(z - c)`` with ``c`` the larger of the two rows' maxima
  (a constant shared by the pair, so it cancels from the differences): rescale of exp, a sum,
  rescale of the reciprocal and the product rule; log-softmax and logsumexp use a rescale of log;
- normalisations ``(x - mean) * rsqrt(mean((x - mean)^2) + eps)``: a linear centring, rescale
  of the square (multiplier ``x + x'``), a mean, rescale of ``rsqrt(. + eps)``, the product rule,
  then the constant affine weight and bias;
- variance and standard deviation: a linear centring, rescale of the square, a sum divided by
  ``N - correction``, and for std a rescale of sqrt; p-norms: rescale of ``|x|^p``, a sum and
  a rescale of ``s^(1/p)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor

from .functions import RescaleFn, UnsupportedOperationError, local_derivative, shapley_product

Pair = tuple[Tensor, Tensor]


def rescale_dual(f: Callable[[Tensor], Tensor], x: Tensor, xr: Tensor, what: str) -> Pair:
    """``(f(x), f(xr))`` with the rescale rule on x (xr aligned to x)."""
    yr = f(xr)
    if not x.requires_grad:
        return f(x), yr
    re = xr.expand(yr.shape) if xr.shape != yr.shape else xr
    y = RescaleFn.apply(x, f, re, yr, lambda: local_derivative(f, re), 1, what)
    return y, yr


def product_dual(
    fn: Callable[[Tensor, Tensor], Tensor], a: Tensor, ar: Tensor, b: Tensor, br: Tensor, elementwise: bool
) -> Pair:
    """``(fn(a, b), fn(ar, br))`` with the Shapley product rule when both operands are live."""
    yr = fn(ar, br)
    if a.requires_grad and b.requires_grad:
        return shapley_product(fn, a, ar, b, br, elementwise), yr
    return fn(a, b), yr


def divide(num: Tensor | float, num_r: Tensor | float, den: Tensor, den_r: Tensor, what: str) -> Tensor:
    """``num / den`` with a live denominator (the numerator may be live or constant)."""
    inv, inv_r = rescale_dual(torch.reciprocal, den, den_r, what)
    if isinstance(num, Tensor) and num.requires_grad:
        assert isinstance(num_r, Tensor)
        return product_dual(torch.mul, num, num_r, inv, inv_r, True)[0]
    return num * inv


def softmax_family(z: Tensor, zr: Tensor, dim: int, kind: str, keepdim: bool, what: str) -> Tensor:
    """softmax, log_softmax, softmin or logsumexp of z over ``dim``."""
    if kind == "softmin":
        z, zr = -z, -zr
    with torch.no_grad():
        c = torch.maximum(z.detach().amax(dim, keepdim=True), zr.amax(dim, keepdim=True))
        c = torch.where(torch.isfinite(c), c, torch.zeros_like(c))
    # One shift c for sample and reference keeps every step exact. Where the two are far apart
    # (logit gaps above ~100), exp(zr - c) underflows in float32 and a product e * (1 / sum e)
    # cancels catastrophically (terms of e^gap), so the chain runs in float64 and softmax is
    # taken in the log domain, exp(z - logsumexp(z)): every multiplier stays bounded.
    dtype = z.dtype
    wide = torch.float64 if dtype in (torch.float32, torch.float16, torch.bfloat16) else dtype
    zc, zcr = (z - c).to(wide), (zr - c).to(wide)
    e, er = rescale_dual(torch.exp, zc, zcr, what)
    s, sr = e.sum(dim, keepdim=True), er.sum(dim, keepdim=True)
    ls, lsr = rescale_dual(torch.log, s, sr, what)
    if kind == "logsumexp":
        out = (ls + c.to(wide)).to(dtype)
        return out if keepdim else out.squeeze(dim)
    lsm, lsmr = zc - ls, zcr - lsr
    if kind == "log_softmax":
        return lsm.to(dtype)
    return rescale_dual(torch.exp, lsm, lsmr, what)[0].to(dtype)


def standardise(x: Tensor, xr: Tensor, dims: Sequence[int], eps: float, center: bool, what: str) -> Tensor:
    """``(x - mean) / sqrt(var + eps)`` over ``dims`` (biased variance); ``center=False``: RMS norm."""
    dims = tuple(dims)
    if center:
        x = x - x.mean(dims, keepdim=True)
        xr = xr - xr.mean(dims, keepdim=True)
    sq, sqr = rescale_dual(torch.square, x, xr, what)
    v, vr = sq.mean(dims, keepdim=True), sqr.mean(dims, keepdim=True)
    inv, inv_r = rescale_dual(lambda t: torch.rsqrt(t + eps), v, vr, what)
    return product_dual(torch.mul, x, xr, inv, inv_r, True)[0]


def _affine(y: Tensor, weight: Tensor | None, bias: Tensor | None, channel_dim: int | None) -> Tensor:
    for p in (weight, bias):
        if p is not None and p.requires_grad:
            raise UnsupportedOperationError("normalisation with an input-dependent weight or bias")
    if channel_dim is not None:
        shape = [1] * y.dim()
        shape[channel_dim] = -1
        weight = None if weight is None else weight.reshape(shape)
        bias = None if bias is None else bias.reshape(shape)
    if weight is not None:
        y = y * weight
    if bias is not None:
        y = y + bias
    return y


def normalisation(name: str, x: Tensor, xr: Tensor, p: dict[str, Any], what: str) -> Tensor:
    """layer_norm, group_norm, instance_norm (input statistics), rms_norm or F.normalize."""
    weight, bias = p.get("weight"), p.get("bias")
    if name in ("layer_norm", "rms_norm"):
        shape = p["normalized_shape"]
        k = 1 if isinstance(shape, int) else len(shape)
        dims = tuple(range(x.dim() - k, x.dim()))
        eps = p.get("eps")
        eps = torch.finfo(x.dtype).eps if eps is None else float(eps)
        y = standardise(x, xr, dims, eps, name == "layer_norm", what)
        return _affine(y, weight, None if name == "rms_norm" else bias, None)
    if name == "group_norm":
        groups = int(p["num_groups"])
        n = x.shape[0]
        y = standardise(
            x.reshape(n, groups, -1), xr.reshape(n, groups, -1), (2,), float(p["eps"]), True, what
        )
        return _affine(y.reshape(x.shape), weight, bias, 1)
    if name == "instance_norm":
        dims = tuple(range(2, x.dim()))
        y = standardise(x, xr, dims, float(p["eps"]), True, what)
        return _affine(y, weight, bias, 1)
    if name == "normalize":
        order, dim, eps = float(p["p"]), int(p["dim"]), float(p["eps"])
        if order <= 0 or not torch.isfinite(torch.tensor(order)):
            raise UnsupportedOperationError(f"{what}: F.normalize with p={order}")
        pw, pwr = rescale_dual(lambda t: t.abs() ** order, x, xr, what)
        s, sr = pw.sum(dim, keepdim=True), pwr.sum(dim, keepdim=True)
        inv, inv_r = rescale_dual(lambda t: 1.0 / torch.clamp_min(t ** (1.0 / order), eps), s, sr, what)
        return product_dual(torch.mul, x, xr, inv, inv_r, True)[0]
    raise UnsupportedOperationError(f"{what}: no composite rule for {name}")


def binary_extremum(name: str, a: Tensor, ar: Tensor, b: Tensor, br: Tensor, what: str) -> Tensor:
    """Element-wise maximum/minimum of two live tensors: ``a + relu(b - a)`` / ``a - relu(a - b)``."""
    if name in ("maximum", "fmax", "max"):
        r, _ = rescale_dual(torch.relu, b - a, br - ar, what)
        return a + r
    r, _ = rescale_dual(torch.relu, a - b, ar - br, what)
    return a - r


def moments(
    name: str, x: Tensor, xr: Tensor, dims: tuple[int, ...], params: dict[str, Any], what: str
) -> Any:
    """var, std (with ``correction``), var_mean, std_mean and p-norms of x over ``dims``.

    Variance: a linear centring, rescale of the square, a sum divided by ``N - correction``;
    std adds a rescale of sqrt. A p-norm is a rescale of ``|x|^p``, a sum and a rescale of
    ``s^(1/p)``. ``params``: ``keepdim``, ``correction`` (moments) or ``p`` (norms).
    """
    keepdim = bool(params.get("keepdim", False))
    if name in ("norm", "linalg_vector_norm"):
        order = float(params["p"])  # 0 < order < inf
        pw, pwr = rescale_dual(lambda t: t.abs() ** order, x, xr, what)
        s, sr = pw.sum(dims, keepdim=keepdim), pwr.sum(dims, keepdim=keepdim)
        return rescale_dual(lambda t: t ** (1.0 / order), s, sr, what)[0]
    count = math.prod(x.shape[d] for d in dims) - float(params["correction"])  # > 0
    mean, mean_r = x.mean(dims, keepdim=True), xr.mean(dims, keepdim=True)
    sq, sqr = rescale_dual(torch.square, x - mean, xr - mean_r, what)
    v, vr = sq.sum(dims, keepdim=keepdim) / count, sqr.sum(dims, keepdim=keepdim) / count
    out = rescale_dual(torch.sqrt, v, vr, what)[0] if name.startswith("std") else v
    if name.endswith("_mean"):
        return out, mean if keepdim else mean.squeeze(dims)
    return out
