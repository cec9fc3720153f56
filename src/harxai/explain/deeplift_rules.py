"""Attribution rules of harxai's ``fast`` SHAP engine (DeepLIFT rescale / DeepSHAP).

Every operation applied to an input-dependent ("live") tensor is looked up by name in the
tables below and handled by one exact local rule, so that the multipliers chain to
``sum_inputs grad * (x - x') = f(x) - f(x')`` for each (sample, background) pair:

``linear``
    Affine in the live operands (convolutions and matrix products with constant weights,
    batch norm in eval mode, pooling by averages, sums, reshapes, indexing, ...): the
    ordinary gradient is exact; the operation runs unchanged.
``rescale``
    Element-wise functions of one live tensor (ReLU, sigmoid, tanh, SiLU, exp, ...):
    multiplier ``(f(x) - f(x')) / (x - x')`` (Shrikumar et al., "Learning Important Features
    Through Propagating Activation Differences", ICML 2017, rescale rule), or ``f'(x')`` where
    ``|x - x'| < 1e-6``. shap's ``nonlinear_1d`` keeps each half's own local gradient there
    and takes the attributions from the reference half, i.e. it uses ``f'(x')`` too.
``multilinear``
    Products of two live tensors (element-wise, ``einsum``, ``matmul``, convolutions with a
    live weight, ...): ``B(a, b) - B(a', b') = B(abar, b - b') + B(a - a', bbar)`` with
    ``abar = (a + a') / 2`` (the exact Shapley split of a product), i.e. the vector-Jacobian
    products at ``(a, bbar)`` and ``(abar, b)``. Exact for every function affine in each operand.
``max``
    Max pooling and max reductions: shap's ``maxpool`` rule (the cross maximum
    ``max(y, y')`` splits ``y - y'`` between the argmax of x and the argmax of x'),
    generalised to overlapping windows with ``scatter_add``.
composites
    Division by a live tensor, softmax, log-softmax, logsumexp, layer/group/instance/RMS
    normalisation, variance, standard deviation and p-norms over non-sample dimensions are
    decomposed into the rules above (see :mod:`harxai.explain.deeplift_composites`);
    multi-head and scaled dot-product attention are re-run as their elementary operations
    (:mod:`harxai.explain.deeplift_attention`).

Anything else on a live tensor raises :class:`UnsupportedOperationError`.
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


_DUNDER = {
    "__add__": "add",
    "__radd__": "add",
    "__iadd__": "add_",
    "__sub__": "sub",
    "__isub__": "sub_",
    "__rsub__": "rsub",
    "__neg__": "neg",
    "__pos__": "positive",
    "__mul__": "mul",
    "__rmul__": "mul",
    "__imul__": "mul_",
    "__truediv__": "div",
    "__div__": "div",
    "__itruediv__": "div_",
    "__idiv__": "div_",
    "__rtruediv__": "rdiv",
    "__rdiv__": "rdiv",
    "__matmul__": "matmul",
    "__rmatmul__": "rmatmul",
    "__pow__": "pow",
    "__ipow__": "pow_",
    "__rpow__": "rpow",
    "__abs__": "abs",
    "__getitem__": "getitem",
    "__setitem__": "setitem",
}

PASSIVE = frozenset(
    [
        "size",
        "shape",
        "dim",
        "ndim",
        "ndimension",
        "numel",
        "nelement",
        "dtype",
        "device",
        "layout",
        "is_contiguous",
        "is_cuda",
        "is_leaf",
        "is_floating_point",
        "is_complex",
        "is_sparse",
        "is_quantized",
        "is_meta",
        "is_mkldnn",
        "is_nested",
        "stride",
        "storage_offset",
        "data_ptr",
        "element_size",
        "requires_grad",
        "requires_grad_",
        "grad_fn",
        "grad",
        "names",
        "_version",
        "output_nr",
        "get_device",
        "__len__",
        "__repr__",
        "__str__",
        "__format__",
        "__hash__",
        "__reduce_ex__",
        "__deepcopy__",
        "isnan",
        "isinf",
        "isfinite",
        "isposinf",
        "isneginf",
        "new_zeros",
        "new_ones",
        "new_empty",
        "new_full",
        "new_tensor",
        "zeros_like",
        "ones_like",
        "empty_like",
        "full_like",
        "rand_like",
        "randn_like",
        "randint_like",
        "register_hook",
        "retain_grad",
        "retains_grad",
        "_base",
        "has_names",
    ]
)

LINEAR = frozenset(
    [
        "add",
        "sub",
        "rsub",
        "neg",
        "negative",
        "positive",
        "sum",
        "mean",
        "cumsum",
        "trace",
        "diff",
        "sum_to_size",
        "view",
        "view_as",
        "reshape",
        "reshape_as",
        "permute",
        "transpose",
        "swapaxes",
        "swapdims",
        "t",
        "T",
        "mT",
        "flatten",
        "unflatten",
        "squeeze",
        "unsqueeze",
        "expand",
        "expand_as",
        "broadcast_to",
        "repeat",
        "repeat_interleave",
        "tile",
        "cat",
        "concat",
        "concatenate",
        "stack",
        "hstack",
        "vstack",
        "dstack",
        "split",
        "split_with_sizes",
        "tensor_split",
        "chunk",
        "unbind",
        "__iter__",
        "getitem",
        "setitem",
        "index_select",
        "gather",
        "take_along_dim",
        "narrow",
        "select",
        "pad",
        "contiguous",
        "clone",
        "to",
        "float",
        "double",
        "half",
        "bfloat16",
        "type",
        "type_as",
        "cpu",
        "cuda",
        "flip",
        "fliplr",
        "flipud",
        "roll",
        "movedim",
        "moveaxis",
        "diagonal",
        "diag_embed",
        "tril",
        "triu",
        "masked_fill",
        "where",
        "unfold",
        "fold",
        "pixel_shuffle",
        "pixel_unshuffle",
        "channel_shuffle",
        "native_channel_shuffle",
        "index_add",
        "index_copy",
        "index_put",
        "scatter",
        "scatter_add",
        "masked_scatter",
        "copy_",
        "zero_",
        "fill_",
        "interpolate",
        "upsample",
        "upsample_nearest",
        "upsample_bilinear",
        "avg_pool1d",
        "avg_pool2d",
        "avg_pool3d",
        "adaptive_avg_pool1d",
        "adaptive_avg_pool2d",
        "adaptive_avg_pool3d",
        "identity",
    ]
)

RESCALE = frozenset(
    [
        "relu",
        "relu6",
        "leaky_relu",
        "elu",
        "selu",
        "celu",
        "gelu",
        "silu",
        "mish",
        "sigmoid",
        "logsigmoid",
        "tanh",
        "softplus",
        "softsign",
        "hardswish",
        "hardsigmoid",
        "hardtanh",
        "hardshrink",
        "softshrink",
        "tanhshrink",
        "threshold",
        "prelu",
        "exp",
        "exp2",
        "expm1",
        "log",
        "log2",
        "log10",
        "log1p",
        "sqrt",
        "rsqrt",
        "reciprocal",
        "abs",
        "absolute",
        "square",
        "pow",
        "float_power",
        "rpow",
        "clamp",
        "clip",
        "clamp_min",
        "clamp_max",
        "sin",
        "cos",
        "sinh",
        "cosh",
        "atan",
        "erf",
        "erfc",
        "logit",
        "nan_to_num",
        "maximum",
        "minimum",
        "fmax",
        "fmin",
        "xlogy",
    ]
)

MULTILINEAR = frozenset(
    [
        "mul",
        "multiply",
        "matmul",
        "rmatmul",
        "mm",
        "bmm",
        "mv",
        "dot",
        "inner",
        "outer",
        "ger",
        "einsum",
        "tensordot",
        "kron",
        "linear",
        "bilinear",
        "conv1d",
        "conv2d",
        "conv3d",
        "conv_transpose1d",
        "conv_transpose2d",
        "conv_transpose3d",
        "addmm",
        "addmv",
        "addbmm",
        "baddbmm",
        "addcmul",
        "lerp",
    ]
)
ELEMENTWISE_PRODUCT = frozenset({"mul", "multiply"})

DIVISION = frozenset({"div", "divide", "true_divide", "rdiv"})
SOFTMAX = frozenset({"softmax", "log_softmax", "softmin", "logsumexp"})
NORMALISATION = frozenset({"layer_norm", "group_norm", "instance_norm", "rms_norm", "normalize"})
MOMENTS = frozenset({"var", "std", "var_mean", "std_mean", "norm", "linalg_vector_norm"})
ATTENTION = frozenset({"multi_head_attention_forward", "scaled_dot_product_attention"})
MAX = frozenset(
    [
        "max",
        "min",
        "amax",
        "amin",
        "max_pool1d",
        "max_pool2d",
        "max_pool3d",
        "max_pool1d_with_indices",
        "max_pool2d_with_indices",
        "max_pool3d_with_indices",
        "adaptive_max_pool1d",
        "adaptive_max_pool2d",
        "adaptive_max_pool3d",
        "adaptive_max_pool1d_with_indices",
        "adaptive_max_pool2d_with_indices",
        "adaptive_max_pool3d_with_indices",
    ]
)
TRAINING_FLAG = frozenset(
    {"batch_norm", "dropout", "dropout1d", "dropout2d", "dropout3d", "alpha_dropout", "feature_alpha_dropout"}
)
FORBIDDEN = {
    "detach": "detaching an input-dependent tensor hides it from the attribution",
    "detach_": "detaching an input-dependent tensor hides it from the attribution",
    "data": "Tensor.data hides an input-dependent tensor from the attribution",
    "item": "Python numbers from an input-dependent tensor make the computation data-dependent",
    "tolist": "Python numbers from an input-dependent tensor make the computation data-dependent",
    "numpy": "numpy arrays from an input-dependent tensor leave the attribution",
    "__bool__": "control flow on an input-dependent tensor",
    "__float__": "Python numbers from an input-dependent tensor make the computation data-dependent",
    "__int__": "Python numbers from an input-dependent tensor make the computation data-dependent",
    "__index__": "Python numbers from an input-dependent tensor make the computation data-dependent",
}


def op_name(func: Callable[..., Any]) -> str:
    """Normalised name of a torch function, Tensor method or property getter."""
    name = getattr(func, "__name__", None) or repr(func)
    if name in ("__get__", "__set__") and hasattr(func, "__self__"):
        owner = getattr(func.__self__, "__name__", "?")
        return owner if name == "__get__" else f"{owner}.__set__"
    return _DUNDER.get(name, name)


def classify(name: str) -> str:
    """Rule family of an operation name: passive, linear, rescale, multilinear, division,
    softmax, normalisation, moments, attention, max, training_flag, forbidden, inplace or
    unsupported."""
    for family, table in (
        ("passive", PASSIVE),
        ("linear", LINEAR),
        ("rescale", RESCALE),
        ("multilinear", MULTILINEAR),
        ("division", DIVISION),
        ("softmax", SOFTMAX),
        ("normalisation", NORMALISATION),
        ("moments", MOMENTS),
        ("attention", ATTENTION),
        ("max", MAX),
        ("training_flag", TRAINING_FLAG),
    ):
        if name in table:
            return family
    if name in FORBIDDEN:
        return "forbidden"
    if name.endswith("_") and not name.startswith("_"):
        base = name[:-1]
        if base in LINEAR:
            return "linear"
        if classify(base) != "unsupported":
            return "inplace"
    return "unsupported"


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
        (g,) = torch.autograd.grad(y, t, torch.ones_like(y), allow_unused=True)
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
    ``fr``) and is only called when some ``|x - r| < TINY_DELTA`` (or the difference is not
    finite); there the multiplier is ``f'(r)``.

    The selection is arithmetic with a 0/1 float mask (``okf * dy / (dx + 1 - okf) +
    (1 - okf) * f'(r)``, equal to the selection wherever it is finite): on CPU, comparisons
    to bool and ``torch.where`` cost several times a float operation. Non-finite results take
    the selection with ``torch.where``.
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
    okf = torch.ge(size, TINY_DELTA, out=size)  # 1.0 / 0.0 (NaN: 0.0)
    nf = 1.0 - okf
    m = dy.div_(dx.add_(nf)).mul_(okf).addcmul_(dfr, nf)
    if not math.isfinite(float(m.sum())):
        m = torch.where(okf.bool(), (ys - frs).div_(xs - rs), dfr)
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
                (ga,) = torch.autograd.grad(ctx.fn(a_, bbar), a_, g)
                (gb,) = torch.autograd.grad(ctx.fn(abar, b_), b_, g)
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
