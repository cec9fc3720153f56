"""SHAP values of one logit per sample: the public API over two backends.

``fast``
    harxai's own DeepLIFT-rescale / DeepSHAP engine (:mod:`harxai.explain.deeplift`), applied
    at the level of torch operations, batched over (sample x background) pairs, explaining only
    the target logit. Exact completeness on every supported operation (products and softmax
    included); unsupported operations raise an error naming them.
``deepexplainer``
    The unmodified ``shap.DeepExplainer`` (:mod:`harxai.explain.deepexplainer`): the reference.
    Its module-level rules are not exact for products, softmax or functional operations; the
    resulting completeness error is reported, never hidden.

Both return :class:`ShapResult` with ``completeness_error`` =
``max_i |sum(phi_i) - (f(x_i) - E_i)| / max(max_i |f(x_i) - E_i|, 1e-6)``, where ``f(x_i)`` is
the target logit of sample i and ``E_i`` its mean over the background. A ``fast`` result whose
error exceeds ``completeness_tolerance`` raises :class:`IncompleteAttributionError` naming the
model, the worst sample and the operations most likely responsible
(:func:`harxai.explain.deeplift.diagnosis.diagnose`); ``deepexplainer`` results only report it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from .deepexplainer import deepexplainer_values
from .deeplift import DEFAULT_BATCH_SIZE, deeplift_shap, forward_rows, frozen_eval
from .deeplift.diagnosis import diagnose
from .deeplift.engine import pairs_per_pass, pass_layout

log = logging.getLogger(__name__)

BACKENDS = ("fast", "deepexplainer")
COMPLETENESS_TOLERANCE = 1e-4
"""Default ``completeness_tolerance`` of :func:`shap_values` (config ``shap.completeness_tolerance``)."""
_COMPLETENESS_WARN = 1e-3
_LOCALLY_EXACT = 1e-4  # local relative error of an exact rule is float rounding (~1e-7)
ROUNDING_FLOOR = 1e-6
"""Misses below ``ROUNDING_FLOOR * max(|f(x)|, |E|, 1)`` are float32 rounding: never an error
(on a model with random weights ``f(x) - E`` can be ~1e-5, and rounding alone ~1e-4 of it)."""


class IncompleteAttributionError(RuntimeError):
    """A ``fast`` SHAP result breaks completeness beyond the tolerance (a bug, never hidden)."""


@dataclass(frozen=True, eq=False)
class ShapResult:
    """SHAP values of the target logit of each sample.

    Attributes
    ----------
    values
        float32 arrays shaped like the model inputs, (sample, ...) each.
    expected_value
        float64 (sample,): mean over the background of the sample's target logit.
    output
        float64 (sample,): the target logit f(x) of each sample.
    target
        int64 (sample,): the explained logit per sample.
    completeness_error
        ``max |sum(phi) - (output - expected_value)|`` over samples, relative to
        ``max(max |output - expected_value|, 1e-6)``.
    backend
        ``fast`` or ``deepexplainer``.
    elapsed_s
        Wall time of the attribution (seconds).
    """

    values: list[np.ndarray]
    expected_value: np.ndarray
    output: np.ndarray
    target: np.ndarray
    completeness_error: float
    backend: str
    elapsed_s: float


def _misses(
    values: np.ndarray | Sequence[np.ndarray], output: np.ndarray, expected_value: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per sample: ``sum(phi)`` and ``f(x) - E`` (float64)."""
    n = len(output)
    items = [values] if isinstance(values, np.ndarray) else list(values)
    total = sum((np.asarray(v, np.float64).reshape(n, -1).sum(axis=1) for v in items), np.zeros(n))
    return total, np.asarray(output, np.float64) - np.asarray(expected_value, np.float64)


def completeness_error(
    values: np.ndarray | Sequence[np.ndarray], output: np.ndarray, expected_value: np.ndarray
) -> float:
    """Relative completeness error (see :class:`ShapResult`); 0 for no samples.

    ``values``: one array (sample, ...) or one per model input, each (sample, ...).
    """
    if len(output) == 0:
        return 0.0
    total, gap = _misses(values, output, expected_value)
    return float(np.max(np.abs(total - gap)) / max(float(np.max(np.abs(gap))), 1e-6))


def _as_tensors(x: Tensor | Sequence[Tensor], what: str) -> list[Tensor]:
    items = [x] if isinstance(x, Tensor) else list(x)
    if not items or not all(isinstance(t, Tensor) for t in items):
        raise TypeError(f"{what} must be a tensor or a non-empty list of tensors")
    rows = {t.shape[0] if t.dim() else -1 for t in items}
    if len(rows) != 1 or -1 in rows:
        raise ValueError(f"{what}: every tensor needs the same first (sample) dimension, got {sorted(rows)}")
    return [t.detach() for t in items]


def _check_inputs(xs: list[Tensor], bs: list[Tensor]) -> list[Tensor]:
    if len(xs) != len(bs):
        raise ValueError(f"{len(xs)} input tensors but {len(bs)} background tensors")
    for k, (x, b) in enumerate(zip(xs, bs, strict=True)):
        if x.shape[1:] != b.shape[1:]:
            raise ValueError(f"input {k} is {tuple(x.shape)} but background {k} is {tuple(b.shape)}")
    if bs[0].shape[0] == 0:
        raise ValueError("the background is empty")
    return [b.to(xs[0].device) for b in bs]


@contextmanager
def ieee_float32() -> Iterator[None]:
    """Switch TF32 off in CUDA matrix products and cuDNN convolutions; restore it afterwards.

    cuDNN convolutions use TF32 (10-bit mantissa) by default on Ampere and later GPUs. That
    rounding alone broke completeness beyond 1e-4 relative on an H200 (1.7e-4 to 1.9e-4 on
    the default infant model, against 3e-7 on CPU), so attributions run in full float32.
    No effect on CPU.
    """
    saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved


def _as_target(target: int | Sequence[int] | np.ndarray | Tensor, n: int, classes: int) -> np.ndarray:
    t = np.asarray(target.cpu() if isinstance(target, Tensor) else target)
    t = np.full(n, int(t)) if t.ndim == 0 else t
    if t.shape != (n,) or not np.issubdtype(t.dtype, np.integer):
        raise ValueError(f"target must be integers shaped ({n},), got {t.dtype} {t.shape}")
    if n and (t.min() < 0 or t.max() >= classes):
        raise ValueError(f"target out of range [0, {classes}): min {t.min()}, max {t.max()}")
    return t.astype(np.int64)


def shap_values(
    model: nn.Module,
    inputs: Tensor | Sequence[Tensor],
    background: Tensor | Sequence[Tensor],
    target: int | Sequence[int] | np.ndarray | Tensor,
    backend: str = "fast",
    batch_size: int | None = None,
    completeness_tolerance: float | None = COMPLETENESS_TOLERANCE,
) -> ShapResult:
    """DeepSHAP values of one logit per sample.

    Parameters
    ----------
    model
        Called as ``model(*inputs)``, returning logits (sample, class). Used in eval mode
        (its train/eval flags and parameters' ``requires_grad`` are restored afterwards).
    inputs
        One tensor or a list, one per model input, each (sample, ...). harxai's model takes
        four, each (sample, channel, frame, joint, person).
    background
        Same structure as ``inputs``, each (background, ...).
    target
        int (sample,): the logit explained for each sample (or one int for all).
    backend
        ``fast`` (default) or ``deepexplainer`` (the unmodified shap.DeepExplainer).
    batch_size
        ``fast``: (sample x background) pairs per forward/backward pass, which bounds peak
        memory (the tiny preset needs about 10 MB per pair at 64 frames and 22 MB at 150
        frames on CPU). Default (None): on a GPU 64; on a CPU chosen from the model's largest
        tensor (:func:`~harxai.explain.deeplift.engine.auto_batch_size`, at most 64), which is
        faster than any fixed size across models. Also the row batch of the plain forward passes.
    completeness_tolerance
        ``fast``: the largest relative completeness error accepted (default 1e-4; None: no
        check). Beyond it :class:`IncompleteAttributionError` names the model, the worst
        sample and the operations most likely responsible; an absolute miss within float32
        rounding (``ROUNDING_FLOOR * max(|f(x)|, |E|, 1)``) never fails. ``deepexplainer`` only reports
        its error (it is the reference, with known gaps).

    Returns
    -------
    ShapResult

    Raises
    ------
    IncompleteAttributionError
        ``fast`` only, when ``completeness_error > completeness_tolerance``.
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, not {backend!r}")
    xs = _as_tensors(inputs, "inputs")
    bs = _check_inputs(xs, _as_tensors(background, "background"))
    rows = int(batch_size or DEFAULT_BATCH_SIZE)
    with ieee_float32():
        if backend == "fast":
            rows = pairs_per_pass(model, bs, batch_size)
            log.debug("fast SHAP: %d pairs per pass", rows)
        result = _shap_values(model, xs, bs, target, backend, rows)
        if backend == "fast" and _beyond(result, completeness_tolerance):
            assert completeness_tolerance is not None
            raise _incomplete(model, xs, bs, result, rows, float(completeness_tolerance))
    return result


def _beyond(result: ShapResult, tolerance: float | None) -> bool:
    """Whether the completeness error exceeds ``tolerance`` and float32 rounding (a NaN error always does)."""
    if tolerance is None or not len(result.output):
        return False
    if not np.isfinite(result.completeness_error):
        return True
    if result.completeness_error <= tolerance:
        return False
    total, gap = _misses(result.values, result.output, result.expected_value)
    scale = max(float(np.abs(result.output).max()), float(np.abs(result.expected_value).max()), 1.0)
    return float(np.abs(total - gap).max()) > ROUNDING_FLOOR * scale


def _incomplete(
    model: nn.Module, xs: list[Tensor], bs: list[Tensor], result: ShapResult, batch: int, tolerance: float
) -> IncompleteAttributionError:
    """The error for an incomplete ``fast`` result, with the engine's local diagnosis."""
    total, gap = _misses(result.values, result.output, result.expected_value)
    worst = int(np.argmax(np.abs(total - gap)))
    n, nb = xs[0].shape[0], bs[0].shape[0]
    chunk, per_batch = pass_layout(n, nb, batch)
    start = worst - worst % per_batch  # the samples that shared the worst sample's paired pass
    group = [x[start : start + per_batch] for x in xs]
    checks = diagnose(model, group, [b[:chunk] for b in bs])
    found = [c for c in checks if c.error > _LOCALLY_EXACT]
    if found:
        culprit = f"the operation most likely responsible: {found[0]}" + "".join(
            f"; then {c}" for c in found[1:]
        )
    else:
        culprit = (
            "no operation breaks its own completeness in a re-run of that pass (largest local error "
            f"{checks[0].error if checks else 0.0:.3g}); the model may mix samples or background rows"
        )
    return IncompleteAttributionError(
        f"fast SHAP: completeness error {result.completeness_error:.3g} exceeds completeness_tolerance "
        f"{tolerance:g} on model {type(model).__name__}; worst sample {worst} (target "
        f"{int(result.target[worst])}: sum(phi) = {total[worst]:.6g}, f(x) - E[f(b)] = {gap[worst]:.6g}); "
        f"{culprit}. Check that the model runs in eval mode on (sample, ...) tensors, or use "
        "backend='deepexplainer'."
    )


def _shap_values(
    model: nn.Module,
    xs: list[Tensor],
    bs: list[Tensor],
    target: int | Sequence[int] | np.ndarray | Tensor,
    backend: str,
    rows: int,
) -> ShapResult:
    with frozen_eval(model):
        fx, fb = forward_rows(model, xs, rows), forward_rows(model, bs, rows)
    if fb.dim() != 2:
        raise ValueError(f"model output must be (sample, class) logits, got shape {tuple(fb.shape)}")
    n = xs[0].shape[0]
    t = _as_target(target, n, fb.shape[1])
    tt = torch.as_tensor(t, device=fb.device)
    output = fx.gather(1, tt.view(-1, 1)).squeeze(1).double().cpu().numpy() if n else np.zeros(0)
    expected = fb[:, tt].mean(0).double().cpu().numpy()
    started = time.monotonic()
    if backend == "fast":
        phis = deeplift_shap(model, xs, bs, tt, rows)
        values = [p.cpu().numpy().astype(np.float32) for p in phis]
    else:
        values = deepexplainer_values(model, xs, bs, t)
    elapsed = time.monotonic() - started
    err = completeness_error(values, output, expected)
    level = logging.WARNING if err > _COMPLETENESS_WARN else logging.INFO
    log.log(
        level,
        "SHAP (%s): %d samples x %d background in %.2f s; completeness error %.3g (relative)",
        backend,
        n,
        bs[0].shape[0],
        elapsed,
        err,
    )
    return ShapResult(
        values=values,
        expected_value=expected,
        output=output,
        target=t,
        completeness_error=err,
        backend=backend,
        elapsed_s=elapsed,
    )
