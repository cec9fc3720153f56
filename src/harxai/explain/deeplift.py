"""harxai's ``fast`` SHAP engine: DeepLIFT rescale / DeepSHAP at the level of torch operations.

The attribution is shap's DeepSHAP (Lundberg & Lee, "A Unified Approach to Interpreting Model
Predictions", NeurIPS 2017): for every explained sample ``x`` and background sample ``b``,
DeepLIFT multipliers are propagated from the target logit to the inputs, ``phi = m * (x - b)``,
and the attributions are averaged over the background. Instead of module hooks keyed by class
name (shap's ``DeepExplainer``), a :class:`torch.overrides.TorchFunctionMode` intercepts every
torch function and Tensor method, so functional operations (``x * torch.sigmoid(g)``,
``F.softmax``, ``torch.einsum``, residual additions) get their rule wherever they appear.
The rules are in :mod:`harxai.explain.deeplift_rules` and
:mod:`harxai.explain.deeplift_composites`; an operation without a rule raises
:class:`~harxai.explain.deeplift_rules.UnsupportedOperationError` naming it and its module.

Algorithm, per background chunk of ``Bc <= batch_size`` rows:

1. reference pass: the model runs once on the chunk (inputs require grad, parameters are
   frozen, so "input-dependent" = ``requires_grad``); every operation that needs the
   reference side of its operands (nonlinear, product, max, composite) records them, in
   call order;
2. paired passes: for ``s = batch_size // Bc`` samples at a time, the model runs on the
   ``s * Bc`` rows ``(sample i, background j)`` (sample-major) with the rules applied against
   the recorded references repeated ``s`` times along each tensor's batch dimension; one
   backward pass of ``sum_rows logit[row, target[i]]`` gives the multipliers of every input.
   Since the forward values of a pair depend on its sample only, convolutions, linear layers
   and einsums with constant weights run forward on one row per sample
   (:mod:`harxai.explain.deeplift_dedup`); the backward pass runs on every pair row.

Peak memory is that of a forward/backward pass of ``batch_size`` rows (plus the recorded
reference tensors of ``Bc`` rows); no tensor of samples x background rows is ever built.

Relation to shap 0.51's DeepExplainer (which runs ``[x tiled B times; background]``, 2B rows,
forward and one backward per input per explained output and sample): on models made of
modules it handles exactly the values agree to float32 rounding, including its choice of the
local derivative at the reference point where ``|x - x'| < 1e-6``. Deviations: overlapping
max-pooling windows accumulate their contributions (shap's ``max_unpool`` overwrites them);
products, softmax, normalisations and functional operations get exact rules (shap passes
their plain gradients through). The engine assumes every input-dependent tensor keeps the
sample dimension outermost within whatever dimension holds it (as shap's half-splitting does);
``completeness_error`` would expose a model that breaks this.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_flatten, tree_unflatten

from . import deeplift_attention as attn
from . import deeplift_composites as comp
from .deeplift_dedup import DEDUP_OPS, AffineFn, DedupFn, dedup_plan
from .deeplift_rules import (
    ELEMENTWISE_PRODUCT,
    FORBIDDEN,
    MaxFn,
    MaxSelection,
    RescaleFn,
    UnsupportedOperationError,
    batch_dim,
    bind_arguments,
    classify,
    local_derivative,
    op_name,
    pool_selection,
    reduction_selection,
    repeat_along,
    shapley_product,
    signature_of,
    tile_to,
)

log = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 64
_BATCH_NORM_NAMES = ("input", "weight", "bias", "running_mean", "running_var", "training", "momentum", "eps")
_DROPOUT_NAMES = ("input", "p", "train")
_SOFTMAX_NAMES = ("input", "dim", "dtype")
_MAX_NAMES = ("input", "dim", "keepdim")


@dataclass
class Record:
    """Reference-side operands of one operation of the reference pass."""

    name: str
    refs: tuple[Tensor, ...]
    extra: dict[str, Tensor] = field(default_factory=dict)
    shape: tuple[int, ...] = ()
    where: str = ""


class _ModuleTracker:
    """Qualified name of the module whose forward is running (for error messages)."""

    def __init__(self, model: nn.Module) -> None:
        self.names = {id(m): name or "<model>" for name, m in model.named_modules()}
        self.stack: list[str] = []

    @contextmanager
    def active(self) -> Iterator[None]:
        def pre(module: nn.Module, _args: Any) -> None:
            self.stack.append(self.names.get(id(module), type(module).__name__))

        def post(_module: nn.Module, _args: Any, _out: Any) -> None:
            if self.stack:
                self.stack.pop()

        h1 = nn.modules.module.register_module_forward_pre_hook(pre)
        h2 = nn.modules.module.register_module_forward_hook(post)
        try:
            yield
        finally:
            h1.remove()
            h2.remove()
            self.stack.clear()

    def where(self) -> str:
        return f"module '{self.stack[-1]}'" if self.stack else "the model's top level"


class _Call:
    """One intercepted call with its flattened arguments and the positions of live tensors."""

    def __init__(
        self, func: Callable[..., Any], name: str, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> None:
        self.func, self.name, self.args, self.kwargs = func, name, args, kwargs
        self.leaves, self.spec = tree_flatten((args, kwargs))
        self.live = [i for i, v in enumerate(self.leaves) if _is_live(v)]

    def run(self) -> Any:
        return self.func(*self.args, **self.kwargs)

    def tensor(self, k: int) -> Tensor:
        t = self.leaves[self.live[k]]
        assert isinstance(t, Tensor)
        return t

    def params(self, names: Sequence[str]) -> dict[str, Any]:
        return bind_arguments(self.func, self.args, self.kwargs, names)

    def substituted(self) -> Callable[..., Any]:
        """The call as a function of its live tensors (in order), never in place."""
        func = self.func
        leaves, spec, positions = list(self.leaves), self.spec, self.live
        sig = signature_of(func)
        if sig is not None and "inplace" in sig.parameters:
            bound = sig.bind(*self.args, **self.kwargs)
            bound.arguments["inplace"] = False
            leaves, spec = tree_flatten((bound.args, bound.kwargs))
            positions = [i for i, v in enumerate(leaves) if _is_live(v)]
            if len(positions) != len(self.live):
                raise RuntimeError(f"fast SHAP engine: cannot re-bind the arguments of '{self.name}'")
        for p in positions:
            leaves[p] = None

        def call(*tensors: Tensor) -> Any:
            vals = list(leaves)
            for p, t in zip(positions, tensors, strict=True):
                vals[p] = t
            a, k = tree_unflatten(vals, spec)
            return func(*a, **k)

        return call


class DeepLiftMode(TorchFunctionMode):
    """Applies the DeepLIFT rules to every torch operation on input-dependent tensors.

    Parameters
    ----------
    phase
        ``record`` (reference pass: plain values, records appended to ``records``) or
        ``pair`` (paired pass: rules applied against ``records``, consumed in order).
    records
        The reference pass's records.
    samples
        Number of samples s of the paired batch (rows ``s * background``).
    tracker
        Module tracker for error messages (reference pass). The paired pass runs without one
        (its global module hooks cost about a fifth of the pass) and names the module each
        record was made in.
    chunk
        Background rows per sample in the paired batch (1 in the reference pass).
    """

    def __init__(
        self,
        phase: str,
        records: list[Record],
        samples: int,
        tracker: _ModuleTracker | None,
        chunk: int = 1,
    ) -> None:
        super().__init__()
        self.phase, self.records, self.samples, self.tracker = phase, records, samples, tracker
        self.chunk = chunk
        self.cursor = 0

    # ------------------------------------------------------------------ dispatch
    def __torch_function__(
        self,
        func: Callable[..., Any],
        types: Any,
        args: tuple[Any, ...] = (),
        kwargs: dict[str, Any] | None = None,
    ) -> Any:
        kwargs = kwargs or {}
        if not _any_live(args, kwargs):
            return func(*args, **kwargs)
        name, family = _family(func)
        if family == "passive":
            return func(*args, **kwargs)
        if not torch.is_grad_enabled():
            raise self._error(name, "runs under torch.no_grad() or inside a custom autograd.Function")
        if family == "linear":
            return func(*args, **kwargs)
        call = _Call(func, name, args, kwargs)
        if not call.live:
            return call.run()
        handler: Callable[[_Call], Any] = getattr(self, f"_{family}")
        return handler(call)

    def _where(self) -> str:
        """The running module (reference pass), or the module of the record in use (paired pass)."""
        if self.tracker is not None:
            return self.tracker.where()
        if self.cursor:
            return self.records[self.cursor - 1].where
        return "the model's top level"

    def _error(self, name: str, why: str = "") -> UnsupportedOperationError:
        reason = f" ({why})" if why else ""
        return UnsupportedOperationError(
            f"fast SHAP engine: operation '{name}' on an input-dependent tensor in {self._where()} "
            f"has no exact DeepLIFT rule{reason}. Rewrite it with supported operations "
            "(see harxai.explain.deeplift_rules) or use backend='deepexplainer'."
        )

    def _what(self, name: str) -> str:
        return f"'{name}' in {self._where()}"

    def _record(self, rec: Record) -> None:
        """Reference pass: append ``rec``, stamped with the running module."""
        rec.where = self._where()
        self.records.append(rec)

    def _next(self, name: str) -> Record:
        if self.cursor >= len(self.records) or self.records[self.cursor].name != name:
            expected = self.records[self.cursor].name if self.cursor < len(self.records) else "nothing"
            after = f" after {self._where()}" if self.cursor else ""
            raise RuntimeError(
                f"fast SHAP engine: the paired pass called '{name}'{after} where the reference pass "
                f"called {expected}; the model's control flow depends on its batch"
            )
        rec = self.records[self.cursor]
        self.cursor += 1
        return rec

    def _tiled(self, ref: Tensor, like: Tensor, name: str) -> Tensor:
        return tile_to(ref, like.shape, self.samples, self._what(name))

    def _recorded(self, call: _Call, *operands: Tensor) -> Record | None:
        """Reference pass: record clones of ``operands``, return None; paired pass: their record."""
        if self.phase == "record":
            self._record(Record(call.name, tuple(t.detach().clone() for t in operands)))
            return None
        return self._next(call.name)

    # ------------------------------------------------------------------ simple families
    def _linear(self, call: _Call) -> Any:
        return call.run()

    def _unsupported(self, call: _Call) -> Any:
        raise self._error(call.name)

    def _forbidden(self, call: _Call) -> Any:
        raise self._error(call.name, FORBIDDEN[call.name])

    def _inplace(self, call: _Call) -> Any:
        base = classify(call.name[:-1])
        if base == "multilinear" and len(call.live) == 1:
            return call.run()
        if base == "division" and not _is_live(call.args[1] if len(call.args) > 1 else None):
            return call.run()
        raise self._error(call.name, "in-place nonlinear operation; use the out-of-place form")

    def _training_flag(self, call: _Call) -> Any:
        if call.name == "batch_norm":
            p = call.params(_BATCH_NORM_NAMES)
            if p.get("training"):
                raise self._error(call.name, "training=True uses batch statistics; call model.eval()")
            var, weight = p.get("running_var"), p.get("weight")
            x = call.tensor(0)
            if (
                self.phase == "record"
                or len(call.live) != 1
                or p.get("input") is not x
                or not isinstance(var, Tensor)
            ):
                return call.run()
            scale = torch.rsqrt(var + float(p.get("eps", 1e-5)))
            if isinstance(weight, Tensor):
                scale = scale * weight
            return AffineFn.apply(x, call.substituted(), scale.reshape(-1, *([1] * (x.dim() - 2))))
        p = call.params(_DROPOUT_NAMES)
        training = p.get("training", p.get("train", True))
        if training and float(p.get("p", 0.5)) > 0:
            raise self._error(call.name, "dropout is active (training=True)")
        return call.run()

    # ------------------------------------------------------------------ rescale
    def _rescale(self, call: _Call) -> Any:
        if len(call.live) > 1:
            if call.name in ("maximum", "minimum", "fmax", "fmin"):
                return self._binary_extremum(call)
            raise self._error(call.name, "element-wise function of several input-dependent tensors")
        x = call.tensor(0)
        f = call.substituted()
        if self.phase == "record":
            y = f(x)
            r = x.detach()
            r = r.expand(y.shape).clone() if r.shape != y.shape else r.clone()
            self._record(Record(call.name, (r,), {"y": y.detach().clone()}))
            return y
        rec = self._next(call.name)

        def derivative() -> Tensor:
            if "dy" not in rec.extra:
                rec.extra["dy"] = local_derivative(f, rec.refs[0])
            return rec.extra["dy"]

        return RescaleFn.apply(
            x, f, rec.refs[0], rec.extra["y"], derivative, self.samples, self._what(call.name)
        )

    def _binary_extremum(self, call: _Call) -> Any:
        a, b = call.tensor(0), call.tensor(1)
        rec = self._recorded(call, a, b)
        if rec is None:
            return call.run()
        ar, br = self._tiled(rec.refs[0], a, call.name), self._tiled(rec.refs[1], b, call.name)
        return comp.binary_extremum(call.name, a, ar, b, br, self._what(call.name))

    # ------------------------------------------------------------------ products
    def _multilinear(self, call: _Call) -> Any:
        if len(call.live) == 1:
            return self._linear_layer(call) if call.name in DEDUP_OPS else call.run()
        if len(call.live) > 2:
            raise self._error(call.name, f"{len(call.live)} input-dependent operands (at most 2 supported)")
        a, b = call.tensor(0), call.tensor(1)
        rec = self._recorded(call, a, b)
        if rec is None:
            return call.run()
        ar, br = self._tiled(rec.refs[0], a, call.name), self._tiled(rec.refs[1], b, call.name)
        return shapley_product(call.substituted(), a, ar, b, br, call.name in ELEMENTWISE_PRODUCT)

    def _linear_layer(self, call: _Call) -> Any:
        """Convolution, linear or einsum with constant weights: forward on distinct rows only."""
        x = call.tensor(0)
        if self.phase == "record":
            self._record(Record(call.name, (), shape=tuple(x.shape)))
            return call.run()
        rec = self._next(call.name)
        plan = dedup_plan(call.name, call.func, call.args, call.kwargs, x)
        if plan is None or self.chunk < 2 or len(rec.shape) != x.dim():
            return call.run()
        try:
            d = batch_dim(x.shape, rec.shape, self.samples, self._what(call.name))
        except UnsupportedOperationError:
            return call.run()
        if d is None or rec.shape[d] % self.chunk:
            return call.run()
        d_out = plan.out_dim(d)
        if d_out is None:
            return call.run()
        layout = (self.samples, self.chunk, rec.shape[d] // self.chunk)
        return DedupFn.apply(x, call.substituted(), d, d_out, layout, plan.vjp)

    def _division(self, call: _Call) -> Any:
        if call.kwargs.get("rounding_mode") is not None:
            raise self._error(call.name, "division with rounding")
        args = list(call.args) + [call.kwargs.get("other")] * (2 - len(call.args))
        num, den = (args[1], args[0]) if call.name == "rdiv" else (args[0], args[1])
        if not _is_live(den):
            return call.run()
        rec = self._recorded(call, *(t for t in (num, den) if _is_live(t)))
        if rec is None:
            return call.run()
        what = self._what(call.name)
        if _is_live(num):
            num_r = self._tiled(rec.refs[0], num, call.name)
            den_r = self._tiled(rec.refs[1], den, call.name)
            return comp.divide(num, num_r, den, den_r, what)
        return comp.divide(num, num, den, self._tiled(rec.refs[0], den, call.name), what)

    # ------------------------------------------------------------------ composites with one live input
    def _single_live_input(self, call: _Call, first: str = "input") -> Tensor:
        x = call.tensor(0)
        if len(call.live) != 1 or (call.args[0] if call.args else call.kwargs.get(first)) is not x:
            raise self._error(call.name, "only the first operand may depend on the input")
        return x

    def _softmax(self, call: _Call) -> Any:
        x = self._single_live_input(call)
        names = ("input", "dim", "keepdim") if call.name == "logsumexp" else _SOFTMAX_NAMES
        p = call.params(names)
        if p.get("dim") is None:
            raise self._error(call.name, "softmax without an explicit dim")
        dims = p["dim"]
        if isinstance(dims, (tuple, list)):
            if len(dims) != 1:
                raise self._error(call.name, "over several dims")
            dims = dims[0]
        rec = self._recorded(call, x)
        if rec is None:
            return call.run()
        z, zr = x, self._tiled(rec.refs[0], x, call.name)
        if p.get("dtype") is not None:
            z, zr = z.to(p["dtype"]), zr.to(p["dtype"])
        return comp.softmax_family(z, zr, int(dims), call.name, bool(p.get("keepdim")), self._what(call.name))

    def _normalisation(self, call: _Call) -> Any:
        x = self._single_live_input(call)
        p = call.params(())
        if call.name == "instance_norm" and not p.get("use_input_stats", True):
            return call.run()
        rec = self._recorded(call, x)
        if rec is None:
            return call.run()
        xr = self._tiled(rec.refs[0], x, call.name)
        return comp.normalisation(call.name, x, xr, p, self._what(call.name))

    def _reduced_dims(self, name: str, dims: Any, ndim: int) -> tuple[int, ...]:
        """The non-negative dims of a reduction; an error when it reduces every dimension."""
        if dims is None or (isinstance(dims, (tuple, list)) and len(dims) == 0):
            raise self._error(name, "reduction over every dimension, including the sample dimension")
        return tuple(sorted({int(v) % ndim for v in ([dims] if isinstance(dims, int) else dims)}))

    # ------------------------------------------------------------------ moments and norms
    def _moments(self, call: _Call) -> Any:
        x = self._single_live_input(call)
        name = call.name
        if name in ("norm", "linalg_vector_norm"):
            p = call.params(("input", "ord", "dim", "keepdim"))
            order = p.get("ord", p.get("p", 2))
            order = 2 if order is None or order == "fro" else order
            if isinstance(order, str) or not 0 < float(order) < math.inf:
                raise self._error(name, f"norm of order {order!r}")
            if p.get("dtype") is not None:
                raise self._error(name, "norm with a dtype")
            params: dict[str, Any] = {"p": float(order)}
        else:
            p = call.params(("input", "dim", "unbiased", "keepdim"))
            if isinstance(p.get("dim"), bool):  # torch.var(x, unbiased)
                p["unbiased"], p["dim"] = p["dim"], None
            correction = p.get("correction")
            if correction is None:
                correction = 1 if p.get("unbiased", True) else 0
            params = {"correction": float(correction)}
        params["keepdim"] = bool(p.get("keepdim", False))
        dims = self._reduced_dims(name, p.get("dim"), x.dim())
        if math.prod(x.shape[d] for d in dims) <= params.get("correction", 0):
            raise self._error(name, f"correction {params['correction']:g} leaves no degrees of freedom")
        rec = self._recorded(call, x)
        if rec is None:
            return call.run()
        if batch_dim(x.shape, rec.refs[0].shape, self.samples, self._what(name)) in dims:
            raise self._error(name, "reduction over the sample dimension")
        xr = self._tiled(rec.refs[0], x, name)
        return comp.moments(name, x, xr, dims, params, self._what(name))

    # ------------------------------------------------------------------ attention
    def _attention(self, call: _Call) -> Any:
        """Fused attention, re-run as its elementary operations with this mode active."""
        if call.name == "multi_head_attention_forward":
            p = call.params(())
            why = attn.mha_unsupported(p)
            if why is not None:
                raise self._error(call.name, why)
            with self:
                return attn.multi_head_attention(p)
        p = call.params(attn.SDPA_NAMES)
        why = attn.sdpa_unsupported(p)
        if why is not None:
            raise self._error(call.name, why)
        with self:
            return attn.scaled_dot_product_attention(
                p["query"], p["key"], p["value"], p.get("attn_mask"), bool(p.get("is_causal")), p.get("scale")
            )

    # ------------------------------------------------------------------ max
    def _max(self, call: _Call) -> Any:
        name = call.name
        if name in ("max", "min") and (
            (len(call.args) > 1 and isinstance(call.args[1], Tensor)) or "other" in call.kwargs
        ):
            return self._rescale(call) if len(call.live) == 1 else self._binary_extremum(call)
        x = self._single_live_input(call)
        sel, out_dim, negate, as_tuple = self._max_selection(call, x)
        if self.phase == "record":
            r = -x.detach() if negate else x.detach()
            yr, ir = sel.select(r)
            self._record(Record(name, (r.clone(),), {"y": yr, "i": ir}))
            return call.run()
        rec = self._next(name)
        d = batch_dim(x.shape, rec.refs[0].shape, self.samples, self._what(name))
        r, yr, ir = rec.refs[0], rec.extra["y"], rec.extra["i"]
        if d is not None:
            r = repeat_along(r, d, self.samples)
            yr, ir = repeat_along(yr, out_dim(d), self.samples), repeat_along(ir, out_dim(d), self.samples)
        y, idx = MaxFn.apply(-x if negate else x, sel, r, yr, ir)
        if negate:
            y = -y
        if as_tuple == "return_types":
            return (torch.return_types.max if name == "max" else torch.return_types.min)((y, idx))
        return (y, idx) if as_tuple == "pair" else y

    def _max_selection(self, call: _Call, x: Tensor) -> tuple[MaxSelection, Callable[[int], int], bool, str]:
        name = call.name
        if "pool" in name:
            base = name.removesuffix("_with_indices")
            spatial = int(base[-2])
            pool_fn = getattr(torch.nn.functional, f"{base}_with_indices")
            p = bind_arguments(pool_fn, call.args, call.kwargs, ())
            wants = bool(p.pop("return_indices", False)) or name.endswith("_with_indices")
            p.pop("input")
            sel = pool_selection(pool_fn, spatial, p)  # the *_with_indices pools always return indices

            def pool_dim(d: int) -> int:
                if d >= x.dim() - spatial:
                    raise self._error(name, "pooling over the sample dimension")
                return d

            return sel, pool_dim, False, "pair" if wants else "values"
        p = call.params(_MAX_NAMES)
        dims = self._reduced_dims(name, p.get("dim"), x.dim())
        keepdim = bool(p.get("keepdim", False))
        sel = reduction_selection(dims, keepdim, x.dim())

        def red_dim(d: int) -> int:
            if d in dims:
                raise self._error(name, "reduction over the sample dimension")
            return d if keepdim else d - sum(1 for v in dims if v < d)

        as_tuple = "return_types" if name in ("max", "min") else "values"
        return sel, red_dim, name in ("min", "amin"), as_tuple


_FAMILIES: dict[Any, tuple[str, str]] = {}


def _family(func: Callable[..., Any]) -> tuple[str, str]:
    """``(op_name(func), classify(name))``, cached per function object."""
    try:
        return _FAMILIES[func]
    except KeyError:
        name = op_name(func)
        _FAMILIES[func] = found = (name, classify(name))
        return found
    except TypeError:  # unhashable callable
        name = op_name(func)
        return name, classify(name)


def _is_live(v: Any) -> bool:
    return isinstance(v, Tensor) and v.requires_grad


def _any_live(args: Any, kwargs: dict[str, Any]) -> bool:
    """Whether any tensor in the (nested) arguments requires grad."""
    for v in (*args, *kwargs.values()):
        if isinstance(v, Tensor):
            if v.requires_grad:
                return True
        elif isinstance(v, (list, tuple, dict)) and v:
            items = v.values() if isinstance(v, dict) else v
            if _any_live(tuple(items), {}):
                return True
    return False


# ====================================================================================== engine


@contextmanager
def frozen_eval(model: nn.Module, freeze: bool = True) -> Iterator[nn.Module]:
    """Put ``model`` in eval mode (and freeze its parameters); restore both afterwards."""
    modes = [(m, m.training) for m in model.modules()]
    params = [(p, p.requires_grad) for p in model.parameters()] if freeze else []
    try:
        model.eval()
        for p, _ in params:
            p.requires_grad_(False)
        yield model
    finally:
        for m, training in modes:
            m.training = training
        for p, flag in params:
            p.requires_grad_(flag)


def forward_rows(model: nn.Module, inputs: Sequence[Tensor], batch_size: int) -> Tensor:
    """Plain forward pass (no grad) of ``model(*inputs)`` in row batches; logits (sample, class)."""
    n = inputs[0].shape[0]
    outs = []
    with torch.no_grad():
        for i in range(0, n, batch_size):
            outs.append(model(*[x[i : i + batch_size] for x in inputs]))
    return torch.cat(outs) if outs else torch.zeros(0)


def reference_pass(model: nn.Module, background: Sequence[Tensor], tracker: _ModuleTracker) -> list[Record]:
    """Run the model on one background chunk and record the reference operands of every rule."""
    records: list[Record] = []
    refs = [b.detach().clone().requires_grad_(True) for b in background]
    with torch.enable_grad(), tracker.active(), DeepLiftMode("record", records, 1, tracker):
        model(*refs)
    return records


def paired_multipliers(
    model: nn.Module,
    samples: Sequence[Tensor],
    chunk: int,
    target: Tensor,
    records: list[Record],
) -> list[Tensor]:
    """Multipliers d logit[target] / d input of the ``len(samples[0]) * chunk`` (sample, background) pairs."""
    s = samples[0].shape[0]
    paired = [x.repeat_interleave(chunk, dim=0).requires_grad_(True) for x in samples]
    mode = DeepLiftMode("pair", records, s, None, chunk)
    with torch.enable_grad():
        with mode:
            out = model(*paired)
        if mode.cursor != len(records):
            raise RuntimeError(
                f"fast SHAP engine: the paired pass used {mode.cursor} of the reference pass's "
                f"{len(records)} recorded operations; the model's control flow depends on its batch"
            )
        if out.dim() != 2 or out.shape[0] != s * chunk:
            raise ValueError(f"model output must be (sample, class) logits, got shape {tuple(out.shape)}")
        picked = out.gather(1, target.repeat_interleave(chunk).view(-1, 1)).sum()
        grads = torch.autograd.grad(picked, paired, allow_unused=True)
    return [torch.zeros_like(p) if g is None else g for p, g in zip(paired, grads, strict=True)]


def deeplift_shap(
    model: nn.Module,
    inputs: Sequence[Tensor],
    background: Sequence[Tensor],
    target: Tensor,
    batch_size: int | None = None,
) -> list[Tensor]:
    """DeepSHAP values of the target logit, averaged over the background.

    Parameters
    ----------
    model
        Called as ``model(*inputs)``, returning logits (sample, class).
    inputs, background
        One tensor per model input, (sample, ...) and (background, ...).
    target
        int64 (sample,): the logit explained per sample.
    batch_size
        Pairs (sample x background) per forward/backward pass (default 64).

    Returns
    -------
    list of Tensor
        Float32 attributions shaped like ``inputs``.
    """
    batch = int(batch_size or DEFAULT_BATCH_SIZE)
    if batch < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch}")
    n, nb = inputs[0].shape[0], background[0].shape[0]
    # at least two samples per pass when possible, so that the distinct-row forward applies
    chunk = nb if 2 * nb <= batch or n < 2 else max(1, min(nb, batch // 2))
    per_batch = max(1, batch // chunk)
    sums = [torch.zeros(x.shape, dtype=torch.float64, device=x.device) for x in inputs]
    tracker = _ModuleTracker(model)
    started, steps = time.monotonic(), math.ceil(nb / chunk) * math.ceil(n / per_batch)
    done = 0
    with frozen_eval(model):
        for j0 in range(0, nb, chunk):
            bg = [b[j0 : j0 + chunk] for b in background]
            bc = bg[0].shape[0]
            records = reference_pass(model, bg, tracker)
            for i0 in range(0, n, per_batch):
                xs = [x[i0 : i0 + per_batch].detach() for x in inputs]
                grads = paired_multipliers(model, xs, bc, target[i0 : i0 + per_batch], records)
                for k, (x, b, g) in enumerate(zip(xs, bg, grads, strict=True)):
                    s = x.shape[0]
                    g = g.view(s, bc, *x.shape[1:])
                    phi = (g * (x.unsqueeze(1) - b.detach().unsqueeze(0))).sum(1)
                    sums[k][i0 : i0 + s] += phi.double()
                done += 1
                if done % 50 == 0 or done == steps:
                    log.info(
                        "fast SHAP: %d/%d pair batches (%.1f s)", done, steps, time.monotonic() - started
                    )
    return [(t / nb).float() for t in sums]
