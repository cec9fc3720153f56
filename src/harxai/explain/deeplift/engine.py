"""harxai's ``fast`` SHAP engine: DeepLIFT rescale / DeepSHAP at the level of torch operations.

The attribution is shap's DeepSHAP (Lundberg & Lee, "A Unified Approach to Interpreting Model
Predictions", NeurIPS 2017): for every explained sample ``x`` and background sample ``b``,
DeepLIFT multipliers are propagated from the target logit to the inputs, ``phi = m * (x - b)``,
and the attributions are averaged over the background. Instead of module hooks keyed by class
name (shap's ``DeepExplainer``), a :class:`torch.overrides.TorchFunctionMode` intercepts every
torch function and Tensor method, so functional operations (``x * torch.sigmoid(g)``,
``F.softmax``, ``torch.einsum``, residual additions) get their rule wherever they appear.
Each operation is handled by its rule (:mod:`harxai.explain.deeplift.rules`, one object per
family, looked up by name in one table); an operation without a rule raises
:class:`~harxai.explain.deeplift.functions.UnsupportedOperationError` naming it and its module.

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
   (:mod:`harxai.explain.deeplift.dedup`); the backward pass runs on every pair row.

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
from typing import Any

import torch
from torch import Tensor, nn
from torch.overrides import TorchFunctionMode

from .calls import Call, ModuleTracker, Record, any_live
from .context import PassContext
from .rules import PLAIN, Rule, rule_of

log = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 64
"""Pairs per pass on a GPU (and rows of the plain forward passes) when no batch size is given."""
PASS_BYTES = 48 << 20
"""CPU: pairs per pass such that the model's largest tensor of a pass holds about this many bytes."""
MAX_AUTO_BATCH = DEFAULT_BATCH_SIZE
"""CPU: the most pairs per pass :func:`auto_batch_size` chooses: models with small tensors keep the
fixed default's passes (and values); larger sizes were no faster for them (docs/shap-engine.md)."""


class Pass(PassContext):
    """One pass of the model under the engine: every operation on a live tensor goes to its rule.

    Subclasses say what a pass does with a rule (:class:`ReferencePass`: ``rule.reference``
    and keep the record; :class:`PairedPass`: ``rule.paired`` with the next record).

    Attributes
    ----------
    records
        The reference pass's records (appended to, or consumed in order).
    samples
        Number of samples s of the paired batch (rows ``s * chunk``); 1 in the reference pass.
    chunk
        Background rows per sample in the paired batch (1 in the reference pass).
    """

    def __init__(self, records: list[Record], samples: int = 1, chunk: int = 1) -> None:
        super().__init__()
        self.records, self.samples, self.chunk = records, samples, chunk
        self.cursor = 0

    def __torch_function__(
        self,
        func: Callable[..., Any],
        types: Any,
        args: tuple[Any, ...] = (),
        kwargs: dict[str, Any] | None = None,
    ) -> Any:
        kwargs = kwargs or {}
        if not any_live(args, kwargs):
            return func(*args, **kwargs)
        name, rule = rule_of(func)
        if rule.passive:
            return func(*args, **kwargs)
        if not torch.is_grad_enabled():
            raise self.error(name, "runs under torch.no_grad() or inside a custom autograd.Function")
        if rule.plain:
            return func(*args, **kwargs)
        call = Call(func, name, args, kwargs)
        if not call.live:
            return call.run()
        rule = rule.resolve(self, call)
        plan = rule.prepare(self, call)
        if plan is PLAIN:
            return call.run()
        return self.apply(rule, call, plan)

    def apply(self, rule: Rule, call: Call, plan: Any) -> Any:
        raise NotImplementedError


class ReferencePass(Pass):
    """The model on a background chunk: every rule records its reference-side operands."""

    def __init__(self, records: list[Record], tracker: ModuleTracker) -> None:
        super().__init__(records)
        self.tracker = tracker

    def apply(self, rule: Rule, call: Call, plan: Any) -> Any:
        rec, out = rule.reference(self, call, plan)
        if rule.records:
            if rec is None:
                raise RuntimeError(f"fast SHAP engine: rule {rule.family} made no record for '{call.name}'")
            rec.where = self.where()
            self.records.append(rec)
        return out

    def where(self) -> str:
        return self.tracker.where()


class PairedPass(Pass):
    """The model on (sample, background) pair rows: every rule applies itself against its record.

    Runs without module hooks (they cost about a fifth of the pass); messages name the module
    each record was made in.
    """

    def apply(self, rule: Rule, call: Call, plan: Any) -> Any:
        return rule.paired(self, call, plan, self.next(call.name) if rule.records else None)

    def where(self) -> str:
        if self.cursor:
            return self.records[self.cursor - 1].where
        return "the model's top level"

    def next(self, name: str) -> Record:
        """The next record, which must belong to an operation of the same name."""
        if self.cursor >= len(self.records) or self.records[self.cursor].name != name:
            expected = self.records[self.cursor].name if self.cursor < len(self.records) else "nothing"
            after = f" after {self.where()}" if self.cursor else ""
            raise RuntimeError(
                f"fast SHAP engine: the paired pass called '{name}'{after} where the reference pass "
                f"called {expected}; the model's control flow depends on its batch"
            )
        rec = self.records[self.cursor]
        self.cursor += 1
        return rec


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


class _LargestTensor(TorchFunctionMode):
    """Records the size in bytes of the largest tensor any torch function returns."""

    def __init__(self) -> None:
        super().__init__()
        self.bytes = 0

    def __torch_function__(
        self,
        func: Callable[..., Any],
        types: Any,
        args: tuple[Any, ...] = (),
        kwargs: dict[str, Any] | None = None,
    ) -> Any:
        out = func(*args, **(kwargs or {}))
        for t in out if isinstance(out, (tuple, list)) else (out,):
            if isinstance(t, Tensor):
                self.bytes = max(self.bytes, t.numel() * t.element_size())
        return out


def auto_batch_size(model: nn.Module, background: Sequence[Tensor]) -> int:
    """Pairs per pass for ``model``: :data:`DEFAULT_BATCH_SIZE` on a GPU; on a CPU as many as keep
    the largest tensor of a pass near :data:`PASS_BYTES`, between 2 and :data:`MAX_AUTO_BATCH` (64).

    On a CPU the engine's time per pair grows with the pass once its tensors outgrow the caches
    (measured in ``docs/shap-engine.md``: ST-GCN best at 8 pairs, EfficientGCN at about 16,
    harxai's tiny preset flat from 64 up, so it keeps 64), so the size follows the model's
    largest tensor per row, measured by one plain forward pass of (at most) two background rows.
    """
    if background[0].device.type != "cpu" or background[0].shape[0] == 0:
        return DEFAULT_BATCH_SIZE
    rows = min(2, int(background[0].shape[0]))
    probe = _LargestTensor()
    with frozen_eval(model), torch.no_grad(), probe:
        model(*[b[:rows] for b in background])
    per_row = max(probe.bytes / rows, 1.0)
    return int(max(2, min(MAX_AUTO_BATCH, PASS_BYTES // per_row)))


def pairs_per_pass(model: nn.Module, background: Sequence[Tensor], batch_size: int | None) -> int:
    """``batch_size`` when given, else :func:`auto_batch_size` (the one place the engine's pass size is decided)."""
    return int(batch_size) if batch_size else auto_batch_size(model, background)


def forward_rows(model: nn.Module, inputs: Sequence[Tensor], batch_size: int) -> Tensor:
    """Plain forward pass (no grad) of ``model(*inputs)`` in row batches; logits (sample, class)."""
    n = inputs[0].shape[0]
    outs = []
    with torch.no_grad():
        for i in range(0, n, batch_size):
            outs.append(model(*[x[i : i + batch_size] for x in inputs]))
    return torch.cat(outs) if outs else torch.zeros(0)


def reference_pass(model: nn.Module, background: Sequence[Tensor], tracker: ModuleTracker) -> list[Record]:
    """Run the model on one background chunk and record the reference operands of every rule."""
    records: list[Record] = []
    refs = [b.detach().clone().requires_grad_(True) for b in background]
    with torch.enable_grad(), tracker.active(), ReferencePass(records, tracker):
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
    mode = PairedPass(records, s, chunk)
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


def pass_layout(samples: int, background: int, batch: int) -> tuple[int, int]:
    """``(background rows per chunk, samples per paired pass)`` for ``batch`` pairs per pass.

    At least two samples per pass when possible, so that the distinct-row forward applies.
    """
    chunk = background if 2 * background <= batch or samples < 2 else max(1, min(background, batch // 2))
    return chunk, max(1, batch // chunk)


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
        Pairs (sample x background) per forward/backward pass (default: :func:`auto_batch_size`).

    Returns
    -------
    list of Tensor
        Float32 attributions shaped like ``inputs``.
    """
    batch = pairs_per_pass(model, background, batch_size)
    if batch < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch}")
    n, nb = inputs[0].shape[0], background[0].shape[0]
    chunk, per_batch = pass_layout(n, nb, batch)
    sums = [torch.zeros(x.shape, dtype=torch.float64, device=x.device) for x in inputs]
    tracker = ModuleTracker(model)
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
