"""The rules of the fast SHAP engine: one object per operation family, registered in one table.

Every torch operation on an input-dependent ("live") tensor is looked up by name in
:data:`RULES` (:func:`rule_for`) and handled by its rule in both passes of the engine
(:mod:`harxai.explain.deeplift.engine`):

``prepare(p, call)``
    Both passes: validate the call and parse what the rule needs (the *plan*); raise
    ``p.error(...)`` when the rule cannot be exact, return :data:`PLAIN` to run the
    operation unchanged.
``reference(p, call, plan)``
    Reference pass (the model on a background chunk): return ``(record, output)``; the
    record holds the reference-side operands the paired pass needs (``None`` when
    ``records`` is False).
``paired(p, call, plan, record)``
    Paired pass (``samples x background`` rows): return the output with the rule's
    multipliers in its backward pass, given the record the reference pass made.

Each rule is exact locally, ``sum_inputs m * (x - x') = f(x) - f(x')`` for every pair, so
the multipliers chain to completeness (how each family is tested: README.md in this folder;
:func:`harxai.explain.deeplift.diagnosis.diagnose` checks every operation of a model locally).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, ClassVar

import torch
from torch import Tensor

from . import attention as attn
from . import composites as comp
from . import names as n
from .calls import Call, Record, is_live
from .context import PassContext
from .dedup import DEDUP_OPS, AffineFn, DedupFn, dedup_plan
from .functions import (
    MaxFn,
    MaxSelection,
    RescaleFn,
    UnsupportedOperationError,
    batch_dim,
    bind_arguments,
    local_derivative,
    pool_selection,
    reduction_selection,
    repeat_along,
    shapley_product,
)


class _Plain:
    def __repr__(self) -> str:
        return "PLAIN"


PLAIN: Any = _Plain()
"""Plan meaning: run the operation unchanged (its plain gradient is exact)."""

_BATCH_NORM_NAMES = ("input", "weight", "bias", "running_mean", "running_var", "training", "momentum", "eps")
_DROPOUT_NAMES = ("input", "p", "train")
_SOFTMAX_NAMES = ("input", "dim", "dtype")
_MAX_NAMES = ("input", "dim", "keepdim")


class Rule:
    """One operation family (see the module docstring)."""

    family: ClassVar[str] = ""
    names: ClassVar[frozenset[str]] = frozenset()
    records: ClassVar[bool] = True  # the reference pass makes a record the paired pass consumes
    passive: ClassVar[bool] = False  # never touches values: not even a Call is built
    plain: ClassVar[bool] = False  # always runs unchanged (affine in its live operands)

    def resolve(self, p: PassContext, call: Call) -> Rule:
        """A more specific rule for this call (e.g. a product with one live operand is linear)."""
        return self

    def prepare(self, p: PassContext, call: Call) -> Any:
        return None

    def reference(self, p: PassContext, call: Call, plan: Any) -> tuple[Record | None, Any]:
        """Default: record clones of the live operands, run the operation."""
        return Record(call.name, tuple(t.detach().clone() for t in call.live_tensors())), call.run()

    def paired(self, p: PassContext, call: Call, plan: Any, rec: Record | None) -> Any:
        raise NotImplementedError(f"rule {self.family} has no paired pass")


# ---------------------------------------------------------------------------------- no-op families
class PassiveRule(Rule):
    """Metadata (shape, dtype, ...), tests on values that leave no trace, ``*_like`` factories."""

    family, names, passive = "passive", n.PASSIVE, True


class LinearRule(Rule):
    """Affine in the live operands (sums, reshapes, indexing, average pooling, ...): plain gradient."""

    family, names, plain, records = "linear", n.LINEAR, True, False

    def prepare(self, p: PassContext, call: Call) -> Any:
        return PLAIN


class ForbiddenRule(Rule):
    """Operations that hide a live tensor from the attribution (detach, item, control flow)."""

    family, names = "forbidden", frozenset(n.FORBIDDEN)

    def prepare(self, p: PassContext, call: Call) -> Any:
        raise p.error(call.name, n.FORBIDDEN[call.name])


class UnsupportedRule(Rule):
    """Everything without a rule."""

    family = "unsupported"

    def prepare(self, p: PassContext, call: Call) -> Any:
        raise p.error(call.name)


class InplaceRule(Rule):
    """In-place forms of nonlinear operations: only those that stay affine in their live operand."""

    family = "inplace"

    def prepare(self, p: PassContext, call: Call) -> Any:
        base = rule_for(call.name[:-1])
        if isinstance(base, ProductRule) and len(call.live) == 1:
            return PLAIN
        if isinstance(base, DivisionRule) and not is_live(call.args[1] if len(call.args) > 1 else None):
            return PLAIN
        raise p.error(call.name, "in-place nonlinear operation; use the out-of-place form")


# ---------------------------------------------------------------------------------- training flags
class BatchNormRule(Rule):
    """Batch norm in eval mode: a per-channel affine map, backward one multiplication."""

    family, names, records = "batch_norm", frozenset({"batch_norm"}), False

    def prepare(self, p: PassContext, call: Call) -> Any:
        params = call.params(_BATCH_NORM_NAMES)
        if params.get("training"):
            raise p.error(call.name, "training=True uses batch statistics; call model.eval()")
        return params

    def reference(self, p: PassContext, call: Call, plan: Any) -> tuple[Record | None, Any]:
        return None, call.run()

    def paired(self, p: PassContext, call: Call, plan: Any, rec: Record | None) -> Any:
        var, weight = plan.get("running_var"), plan.get("weight")
        x = call.tensor(0)
        if len(call.live) != 1 or plan.get("input") is not x or not isinstance(var, Tensor):
            return call.run()
        scale = torch.rsqrt(var + float(plan.get("eps", 1e-5)))
        if isinstance(weight, Tensor):
            scale = scale * weight
        return AffineFn.apply(x, call.substituted(), scale.reshape(-1, *([1] * (x.dim() - 2))))


class DropoutRule(Rule):
    """Dropout: the identity in eval mode."""

    family, names = "dropout", n.TRAINING_FLAG - {"batch_norm"}

    def prepare(self, p: PassContext, call: Call) -> Any:
        params = call.params(_DROPOUT_NAMES)
        training = params.get("training", params.get("train", True))
        if training and float(params.get("p", 0.5)) > 0:
            raise p.error(call.name, "dropout is active (training=True)")
        return PLAIN


# ---------------------------------------------------------------------------------- rescale
class RescaleRule(Rule):
    """Element-wise function of one live tensor: the DeepLIFT rescale multiplier."""

    family, names = "rescale", n.RESCALE

    def resolve(self, p: PassContext, call: Call) -> Rule:
        if len(call.live) > 1:
            if call.name in EXTREMUM.names:
                return EXTREMUM
            raise p.error(call.name, "element-wise function of several input-dependent tensors")
        return self

    def prepare(self, p: PassContext, call: Call) -> Any:
        return call.substituted()

    def reference(self, p: PassContext, call: Call, plan: Any) -> tuple[Record | None, Any]:
        x = call.tensor(0)
        y = plan(x)
        r = x.detach()
        r = r.expand(y.shape).clone() if r.shape != y.shape else r.clone()
        return Record(call.name, (r,), {"y": y.detach().clone()}), y

    def paired(self, p: PassContext, call: Call, plan: Any, rec: Record | None) -> Any:
        assert rec is not None
        f = plan

        def derivative() -> Tensor:
            if "dy" not in rec.extra:
                rec.extra["dy"] = local_derivative(f, rec.refs[0])
            return rec.extra["dy"]

        return RescaleFn.apply(
            call.tensor(0), f, rec.refs[0], rec.extra["y"], derivative, p.samples, p.what(call.name)
        )


class ExtremumRule(Rule):
    """Element-wise maximum/minimum of two live tensors: ``a + relu(b - a)`` / ``a - relu(a - b)``."""

    family, names = "extremum", frozenset({"maximum", "minimum", "fmax", "fmin"})

    def paired(self, p: PassContext, call: Call, plan: Any, rec: Record | None) -> Any:
        assert rec is not None
        a, b = call.tensor(0), call.tensor(1)
        ar, br = p.tiled(rec.refs[0], a, call.name), p.tiled(rec.refs[1], b, call.name)
        return comp.binary_extremum(call.name, a, ar, b, br, p.what(call.name))


# ---------------------------------------------------------------------------------- products
class ProductRule(Rule):
    """Products of two live tensors: the exact Shapley product rule (VJPs at the midpoints)."""

    family, names = "multilinear", n.MULTILINEAR

    def resolve(self, p: PassContext, call: Call) -> Rule:
        if len(call.live) == 1:
            return LINEAR_LAYER if call.name in DEDUP_OPS else LINEAR
        if len(call.live) > 2:
            raise p.error(call.name, f"{len(call.live)} input-dependent operands (at most 2 supported)")
        return self

    def paired(self, p: PassContext, call: Call, plan: Any, rec: Record | None) -> Any:
        assert rec is not None
        a, b = call.tensor(0), call.tensor(1)
        ar, br = p.tiled(rec.refs[0], a, call.name), p.tiled(rec.refs[1], b, call.name)
        return shapley_product(call.substituted(), a, ar, b, br, call.name in n.ELEMENTWISE_PRODUCT)


class LinearLayerRule(Rule):
    """Convolution, linear or einsum with constant weights: forward on distinct rows only."""

    family, names = "linear_layer", DEDUP_OPS

    def reference(self, p: PassContext, call: Call, plan: Any) -> tuple[Record | None, Any]:
        return Record(call.name, (), shape=tuple(call.tensor(0).shape)), call.run()

    def paired(self, p: PassContext, call: Call, plan: Any, rec: Record | None) -> Any:
        assert rec is not None
        x = call.tensor(0)
        dedup = dedup_plan(call.name, call.func, call.args, call.kwargs, x)
        if dedup is None or p.chunk < 2 or len(rec.shape) != x.dim():
            return call.run()
        try:
            d = batch_dim(x.shape, rec.shape, p.samples, p.what(call.name))
        except UnsupportedOperationError:
            return call.run()
        if d is None or rec.shape[d] % p.chunk:
            return call.run()
        d_out = dedup.out_dim(d)
        if d_out is None:
            return call.run()
        layout = (p.samples, p.chunk, rec.shape[d] // p.chunk)
        rows = x.detach().unflatten(d, layout)
        first, second = rows.select(d + 1, 0), rows.select(d + 1, 1)
        if float((second - first).abs().max()) > 1e-4 * float(first.abs().max()) + 1e-30:
            # the rows of one sample differ (beyond rounding): d holds the pairs in another order than
            # (sample, background, inner) (a model merged the sample dimension inside another)
            return call.run()
        return DedupFn.apply(x, call.substituted(), d, d_out, layout, dedup.vjp)


# ---------------------------------------------------------------------------------- composites
class DivisionRule(Rule):
    """Division by a live tensor: rescale of the reciprocal, then the product rule."""

    family, names = "division", n.DIVISION

    def prepare(self, p: PassContext, call: Call) -> Any:
        if call.kwargs.get("rounding_mode") is not None:
            raise p.error(call.name, "division with rounding")
        args = list(call.args) + [call.kwargs.get("other")] * (2 - len(call.args))
        num, den = (args[1], args[0]) if call.name == "rdiv" else (args[0], args[1])
        return PLAIN if not is_live(den) else (num, den)

    def reference(self, p: PassContext, call: Call, plan: Any) -> tuple[Record | None, Any]:
        refs = tuple(t.detach().clone() for t in plan if is_live(t))
        return Record(call.name, refs), call.run()

    def paired(self, p: PassContext, call: Call, plan: Any, rec: Record | None) -> Any:
        assert rec is not None
        num, den = plan
        what = p.what(call.name)
        if is_live(num):
            num_r = p.tiled(rec.refs[0], num, call.name)
            den_r = p.tiled(rec.refs[1], den, call.name)
            return comp.divide(num, num_r, den, den_r, what)
        return comp.divide(num, num, den, p.tiled(rec.refs[0], den, call.name), what)


def single_live_input(p: PassContext, call: Call, first: str = "input") -> Tensor:
    """The only live operand, which must be the first argument; an error otherwise."""
    x = call.tensor(0)
    if len(call.live) != 1 or (call.args[0] if call.args else call.kwargs.get(first)) is not x:
        raise p.error(call.name, "only the first operand may depend on the input")
    return x


def reduced_dims(p: PassContext, name: str, dims: Any, ndim: int) -> tuple[int, ...]:
    """The non-negative dims of a reduction; an error when it reduces every dimension."""
    if dims is None or (isinstance(dims, (tuple, list)) and len(dims) == 0):
        raise p.error(name, "reduction over every dimension, including the sample dimension")
    return tuple(sorted({int(v) % ndim for v in ([dims] if isinstance(dims, int) else dims)}))


class SoftmaxRule(Rule):
    """softmax, log_softmax, softmin, logsumexp: exp, sum, reciprocal (or log) and the product rule."""

    family, names = "softmax", n.SOFTMAX

    def prepare(self, p: PassContext, call: Call) -> Any:
        single_live_input(p, call)
        params = call.params(("input", "dim", "keepdim") if call.name == "logsumexp" else _SOFTMAX_NAMES)
        if params.get("dim") is None:
            raise p.error(call.name, "softmax without an explicit dim")
        dims = params["dim"]
        if isinstance(dims, (tuple, list)):
            if len(dims) != 1:
                raise p.error(call.name, "over several dims")
            dims = dims[0]
        params["dim"] = int(dims)
        return params

    def paired(self, p: PassContext, call: Call, plan: Any, rec: Record | None) -> Any:
        assert rec is not None
        x = call.tensor(0)
        z, zr = x, p.tiled(rec.refs[0], x, call.name)
        if plan.get("dtype") is not None:
            z, zr = z.to(plan["dtype"]), zr.to(plan["dtype"])
        return comp.softmax_family(
            z, zr, plan["dim"], call.name, bool(plan.get("keepdim")), p.what(call.name)
        )


class NormalisationRule(Rule):
    """layer/group/instance/RMS norm and F.normalize: centring, square, mean, rsqrt, product."""

    family, names = "normalisation", n.NORMALISATION

    def prepare(self, p: PassContext, call: Call) -> Any:
        single_live_input(p, call)
        params = call.params(())
        if call.name == "instance_norm" and not params.get("use_input_stats", True):
            return PLAIN
        return params

    def paired(self, p: PassContext, call: Call, plan: Any, rec: Record | None) -> Any:
        assert rec is not None
        x = call.tensor(0)
        xr = p.tiled(rec.refs[0], x, call.name)
        return comp.normalisation(call.name, x, xr, plan, p.what(call.name))


class MomentsRule(Rule):
    """var, std, var_mean, std_mean and p-norms over non-sample dimensions."""

    family, names = "moments", n.MOMENTS

    def prepare(self, p: PassContext, call: Call) -> Any:
        x = single_live_input(p, call)
        name = call.name
        if name in ("norm", "linalg_vector_norm"):
            bound = call.params(("input", "ord", "dim", "keepdim"))
            order = bound.get("ord", bound.get("p", 2))
            order = 2 if order is None or order == "fro" else order
            if isinstance(order, str) or not 0 < float(order) < math.inf:
                raise p.error(name, f"norm of order {order!r}")
            if bound.get("dtype") is not None:
                raise p.error(name, "norm with a dtype")
            params: dict[str, Any] = {"p": float(order)}
        else:
            bound = call.params(("input", "dim", "unbiased", "keepdim"))
            if isinstance(bound.get("dim"), bool):  # torch.var(x, unbiased)
                bound["unbiased"], bound["dim"] = bound["dim"], None
            correction = bound.get("correction")
            if correction is None:
                correction = 1 if bound.get("unbiased", True) else 0
            params = {"correction": float(correction)}
        params["keepdim"] = bool(bound.get("keepdim", False))
        dims = reduced_dims(p, name, bound.get("dim"), x.dim())
        if math.prod(x.shape[d] for d in dims) <= params.get("correction", 0):
            raise p.error(name, f"correction {params['correction']:g} leaves no degrees of freedom")
        return dims, params

    def paired(self, p: PassContext, call: Call, plan: Any, rec: Record | None) -> Any:
        assert rec is not None
        dims, params = plan
        x, name = call.tensor(0), call.name
        if batch_dim(x.shape, rec.refs[0].shape, p.samples, p.what(name)) in dims:
            raise p.error(name, "reduction over the sample dimension")
        xr = p.tiled(rec.refs[0], x, name)
        return comp.moments(name, x, xr, dims, params, p.what(name))


class AttentionRule(Rule):
    """Fused attention, re-run as its elementary operations with the pass active (both passes)."""

    family, names, records = "attention", n.ATTENTION, False

    def prepare(self, p: PassContext, call: Call) -> Any:
        if call.name == "multi_head_attention_forward":
            params = call.params(())
            why = attn.mha_unsupported(params)
        else:
            params = call.params(attn.SDPA_NAMES)
            why = attn.sdpa_unsupported(params)
        if why is not None:
            raise p.error(call.name, why)
        return params

    def _decomposed(self, p: PassContext, call: Call, plan: Any) -> Any:
        with p:
            if call.name == "multi_head_attention_forward":
                return attn.multi_head_attention(plan)
            return attn.scaled_dot_product_attention(
                plan["query"],
                plan["key"],
                plan["value"],
                plan.get("attn_mask"),
                bool(plan.get("is_causal")),
                plan.get("scale"),
            )

    def reference(self, p: PassContext, call: Call, plan: Any) -> tuple[Record | None, Any]:
        return None, self._decomposed(p, call, plan)

    def paired(self, p: PassContext, call: Call, plan: Any, rec: Record | None) -> Any:
        return self._decomposed(p, call, plan)


# ---------------------------------------------------------------------------------- max
class MaxRule(Rule):
    """Max pooling and max/min reductions: shap's cross-max rule."""

    family, names = "max", n.MAX

    def resolve(self, p: PassContext, call: Call) -> Rule:
        if call.name in ("max", "min") and (
            (len(call.args) > 1 and isinstance(call.args[1], Tensor)) or "other" in call.kwargs
        ):
            return RESCALE.resolve(p, call)
        return self

    def prepare(self, p: PassContext, call: Call) -> Any:
        x = single_live_input(p, call)
        name = call.name
        if "pool" in name:
            base = name.removesuffix("_with_indices")
            spatial = int(base[-2])
            pool_fn = getattr(torch.nn.functional, f"{base}_with_indices")
            params = bind_arguments(pool_fn, call.args, call.kwargs, ())
            wants = bool(params.pop("return_indices", False)) or name.endswith("_with_indices")
            params.pop("input")
            sel = pool_selection(pool_fn, spatial, params)  # the *_with_indices pools return indices

            def pool_dim(d: int) -> int:
                if d >= x.dim() - spatial:
                    raise p.error(name, "pooling over the sample dimension")
                return d

            return sel, pool_dim, False, "pair" if wants else "values"
        params = call.params(_MAX_NAMES)
        dims = reduced_dims(p, name, params.get("dim"), x.dim())
        keepdim = bool(params.get("keepdim", False))

        def red_dim(d: int) -> int:
            if d in dims:
                raise p.error(name, "reduction over the sample dimension")
            return d if keepdim else d - sum(1 for v in dims if v < d)

        as_tuple = "return_types" if name in ("max", "min") else "values"
        return reduction_selection(dims, keepdim, x.dim()), red_dim, name in ("min", "amin"), as_tuple

    def reference(self, p: PassContext, call: Call, plan: Any) -> tuple[Record | None, Any]:
        sel, _, negate, _ = plan
        x = call.tensor(0).detach()
        yr, ir = sel.select(-x if negate else x)
        return Record(call.name, (x.clone(),), {"y": yr, "i": ir}), call.run()

    def paired(self, p: PassContext, call: Call, plan: Any, rec: Record | None) -> Any:
        assert rec is not None
        sel, out_dim, negate, as_tuple = plan
        x, name = call.tensor(0), call.name
        d = batch_dim(x.shape, rec.refs[0].shape, p.samples, p.what(name))
        r, yr, ir = rec.refs[0], rec.extra["y"], rec.extra["i"]
        r = -r if negate else r
        if d is not None:
            r = repeat_along(r, d, p.samples)
            yr, ir = repeat_along(yr, out_dim(d), p.samples), repeat_along(ir, out_dim(d), p.samples)
        sel_: MaxSelection = sel
        y, idx = MaxFn.apply(-x if negate else x, sel_, r, yr, ir)
        if negate:
            y = -y
        if as_tuple == "return_types":
            return (torch.return_types.max if name == "max" else torch.return_types.min)((y, idx))
        return (y, idx) if as_tuple == "pair" else y


# ---------------------------------------------------------------------------------- the table
PASSIVE, LINEAR, RESCALE, EXTREMUM = PassiveRule(), LinearRule(), RescaleRule(), ExtremumRule()
LINEAR_LAYER, UNSUPPORTED, INPLACE = LinearLayerRule(), UnsupportedRule(), InplaceRule()

_TABLE_ORDER: tuple[Rule, ...] = (
    PASSIVE,
    LINEAR,
    RESCALE,
    ProductRule(),
    DivisionRule(),
    SoftmaxRule(),
    NormalisationRule(),
    MomentsRule(),
    AttentionRule(),
    MaxRule(),
    BatchNormRule(),
    DropoutRule(),
    ForbiddenRule(),
)


def _table(rules: tuple[Rule, ...]) -> dict[str, Rule]:
    table: dict[str, Rule] = {}
    for rule in rules:
        for name in rule.names:
            table.setdefault(name, rule)  # first rule wins (a name listed twice keeps its first family)
    return table


RULES: dict[str, Rule] = _table(_TABLE_ORDER)
"""Operation name -> rule. In-place forms (``name_``) are derived in :func:`rule_for`."""


def rule_for(name: str) -> Rule:
    """The rule of an operation name (see :func:`~harxai.explain.deeplift.names.op_name`)."""
    rule = RULES.get(name)
    if rule is not None:
        return rule
    if name.endswith("_") and not name.startswith("_"):
        base = RULES.get(name[:-1])
        if base is LINEAR:
            return LINEAR
        if base is not None and not base.passive:
            return INPLACE
    return UNSUPPORTED


def classify(name: str) -> str:
    """The family name of an operation's rule (``passive``, ``linear``, ``rescale``, ...)."""
    return rule_for(name).family


def register(rule: Rule) -> Callable[[], None]:
    """Add ``rule`` for each of its names (replacing their rule); returns a function that undoes it.

    For experiments and tests; the shipped rules are the table above.
    """
    saved = {name: RULES.get(name) for name in rule.names}
    for name in rule.names:
        RULES[name] = rule
    _rule_cache.clear()

    def undo() -> None:
        for name, old in saved.items():
            if old is None:
                RULES.pop(name, None)
            else:
                RULES[name] = old
        _rule_cache.clear()

    return undo


_rule_cache: dict[Any, tuple[str, Rule]] = {}


def rule_of(func: Callable[..., Any]) -> tuple[str, Rule]:
    """``(op_name(func), rule_for(name))``, cached per function object."""
    try:
        return _rule_cache[func]
    except KeyError:
        name = n.op_name(func)
        _rule_cache[func] = found = (name, rule_for(name))
        return found
    except TypeError:  # unhashable callable
        name = n.op_name(func)
        return name, rule_for(name)
