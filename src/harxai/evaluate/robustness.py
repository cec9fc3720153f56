"""Robustness of explanations from captum: max-sensitivity and infidelity (Yeh et al. 2019, NeurIPS).

Both metrics come from ``captum.metrics``; this module only adapts harxai's map methods
(:data:`harxai.explain.baselines.MapMethod`) and feature-group inputs to them.

``sensitivity_max`` (:func:`captum.metrics.sensitivity_max`)
    The largest relative change of a sample's map, ``max ||map(x + d) - map(x)|| / ||map(x)||``
    (Frobenius norms), over ``n_perturb_samples`` perturbations ``d`` drawn uniformly from an
    L-infinity ball. Deviation from captum's default perturbation: the radius is
    ``perturb_radius`` times each feature group's standard deviation over the evaluated
    samples (the groups differ in scale by orders of magnitude: coordinates vs accelerations),
    drawn from a seeded generator. Lower is better (a map that does not change under tiny
    input noise); a constant map scores 0, so it must be read together with faithfulness.
``infidelity`` (:func:`captum.metrics.infidelity`)
    ``E[(I . phi - (f(x) - f(x - I)))^2]`` for Gaussian perturbations ``I`` with standard
    deviation ``noise_scale`` times each group's standard deviation, ``f`` the target logit,
    and ``phi`` the map broadcast from its (frame, joint) cell to every group, channel and
    person of the cell (maps at a coarser frame resolution are linearly resampled to the
    input's frames first). With ``normalize=True`` (the default here) captum rescales ``phi``
    by the least-squares optimal factor, so methods with different units compare. Lower is
    better.

Values are per sample; the summary is the mean with a 95 % t-interval over the evaluated
samples (the workflow chooses a seeded class-balanced subset with :func:`stratified_subset`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from captum.metrics import infidelity as captum_infidelity
from captum.metrics import sensitivity_max
from scipy import stats
from torch import nn

from ..explain.baselines import MapMethod
from .faithfulness import resample_frames

log = logging.getLogger(__name__)

ROBUSTNESS_COLUMNS = ("method", "criterion", "value", "ci_low", "ci_high", "n")


@dataclass(frozen=True)
class RobustnessSpec:
    """Parameters of the robustness metrics.

    Attributes
    ----------
    perturb_radius
        ``sensitivity_max``: L-infinity radius as a fraction of each group's std.
    noise_scale
        ``infidelity``: Gaussian std as a fraction of each group's std.
    n_perturb_samples
        Perturbations per sample (both metrics).
    normalize
        ``infidelity``: rescale the attributions by the optimal factor (captum's ``normalize``).
    seed
        Seed of the perturbations.
    """

    perturb_radius: float = 0.02
    noise_scale: float = 0.1
    n_perturb_samples: int = 10
    normalize: bool = True
    seed: int = 0

    def __post_init__(self) -> None:
        if self.perturb_radius <= 0 or self.noise_scale <= 0 or self.n_perturb_samples < 1:
            raise ValueError(
                "robustness needs perturb_radius > 0, noise_scale > 0 and n_perturb_samples >= 1, got "
                f"{self.perturb_radius}, {self.noise_scale}, {self.n_perturb_samples}"
            )


def subset_indices(samples: int, size: int | None, seed: int) -> np.ndarray:
    """Sorted seeded choice of ``size`` of ``samples`` indices (all when ``size`` is None or larger)."""
    if size is None or size >= samples:
        return np.arange(samples)
    if size < 1:
        raise ValueError(f"robustness subset size must be >= 1, got {size}")
    return np.sort(np.random.default_rng(seed).choice(samples, size, replace=False))


def stratified_subset(labels: np.ndarray, size: int | None, seed: int) -> np.ndarray:
    """Sorted seeded choice of ``size`` indices balanced over the classes of ``labels``.

    Each class's indices are shuffled with ``default_rng([seed, label])``; the classes then give
    one index each in turn (in label order) until ``size`` are taken, so every class is
    represented while it has samples. All indices when ``size`` is None or not smaller.
    """
    labels = np.asarray(labels)
    if size is None or size >= len(labels):
        return np.arange(len(labels))
    if size < 1:
        raise ValueError(f"subset size must be >= 1, got {size}")
    queues = [
        list(np.random.default_rng([seed, int(c)]).permutation(np.flatnonzero(labels == c)))
        for c in np.unique(labels)
    ]
    chosen: list[int] = []
    while len(chosen) < size:
        for q in queues:
            if q and len(chosen) < size:
                chosen.append(int(q.pop(0)))
    return np.sort(np.array(chosen, dtype=np.int64))


def _device(model: nn.Module) -> torch.device:
    first = next(model.parameters(), None)
    return first.device if first is not None else torch.device("cpu")


def _group_scales(inputs: np.ndarray) -> list[float]:
    scales = np.asarray(inputs, dtype=np.float64).std(axis=(0, 2, 3, 4, 5))
    return [float(s) if s > 0 else 1.0 for s in scales]


def _map_tensor(
    method: MapMethod, model: nn.Module, groups: tuple[torch.Tensor, ...], target: torch.Tensor
) -> torch.Tensor:
    x = torch.stack([g.detach() for g in groups], dim=1).cpu().numpy()
    out = np.asarray(method(model, x, target.detach().cpu().numpy()), dtype=np.float64)
    return torch.from_numpy(out)


def sensitivity(
    model: nn.Module, inputs: np.ndarray, target: np.ndarray, method: MapMethod, spec: RobustnessSpec
) -> np.ndarray:
    """Per-sample ``captum.metrics.sensitivity_max`` of one method, float64 (sample,)."""
    device = _device(model)
    groups = tuple(
        torch.as_tensor(np.ascontiguousarray(inputs[:, g], dtype=np.float32), device=device)
        for g in range(inputs.shape[1])
    )
    scales = _group_scales(inputs)
    gen = torch.Generator(device="cpu").manual_seed(spec.seed)

    def perturb(xs: torch.Tensor | tuple[torch.Tensor, ...], radius: float) -> tuple[torch.Tensor, ...]:
        xs = xs if isinstance(xs, tuple) else (xs,)
        return tuple(
            x + ((torch.rand(x.shape, generator=gen) * 2 - 1) * radius * s).to(x.device)
            for x, s in zip(xs, scales, strict=True)
        )

    def explain(xs: torch.Tensor | tuple[torch.Tensor, ...], target: torch.Tensor) -> tuple[torch.Tensor]:
        # a tuple: captum iterates over the original explanation, which for a bare tensor means its rows
        return (_map_tensor(method, model, xs if isinstance(xs, tuple) else (xs,), target),)

    t = torch.as_tensor(np.asarray(target, dtype=np.int64), device=device)
    out = sensitivity_max(
        explain,
        groups,
        perturb_func=perturb,
        perturb_radius=spec.perturb_radius,
        n_perturb_samples=spec.n_perturb_samples,
        target=t,
    )
    return np.asarray(out.detach().cpu().double().numpy())


def infidelity(
    model: nn.Module, inputs: np.ndarray, target: np.ndarray, maps: np.ndarray, spec: RobustnessSpec
) -> np.ndarray:
    """Per-sample ``captum.metrics.infidelity`` of one method's maps (sample, frame', joint) or (sample, joint)."""
    device = _device(model)
    n, _, _, frames, joints, _ = inputs.shape
    m = np.asarray(maps, dtype=np.float64)
    m = np.broadcast_to(m[:, None, :], (n, frames, joints)) if m.ndim == 2 else resample_frames(m, frames)
    phi = torch.as_tensor(np.ascontiguousarray(m), dtype=torch.float32, device=device)
    groups = tuple(
        torch.as_tensor(np.ascontiguousarray(inputs[:, g], dtype=np.float32), device=device)
        for g in range(inputs.shape[1])
    )
    attributions = tuple(phi[:, None, :, :, None].expand_as(g).contiguous() for g in groups)
    scales = _group_scales(inputs)
    gen = torch.Generator(device="cpu").manual_seed(spec.seed)

    def perturb(
        inputs: torch.Tensor | tuple[torch.Tensor, ...],
    ) -> tuple[tuple[torch.Tensor, ...], tuple[torch.Tensor, ...]]:
        xs = inputs if isinstance(inputs, tuple) else (inputs,)
        noise = tuple(
            (torch.randn(x.shape, generator=gen) * spec.noise_scale * s).to(x.device)
            for x, s in zip(xs, scales, strict=True)
        )
        return noise, tuple(x - d for x, d in zip(xs, noise, strict=True))

    def forward(*xs: torch.Tensor) -> torch.Tensor:
        return model(*xs)

    t = torch.as_tensor(np.asarray(target, dtype=np.int64), device=device)
    with torch.no_grad():
        out = captum_infidelity(
            forward,
            perturb,
            groups,
            attributions,
            target=t,
            n_perturb_samples=spec.n_perturb_samples,
            normalize=spec.normalize,
        )
    return np.asarray(out.detach().cpu().double().numpy())


def _summary(method: str, criterion: str, values: np.ndarray) -> dict[str, object]:
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if len(v) == 0:
        return {
            "method": method,
            "criterion": criterion,
            "value": np.nan,
            "ci_low": np.nan,
            "ci_high": np.nan,
            "n": 0,
        }
    mean = float(v.mean())
    half = float(stats.t.ppf(0.975, len(v) - 1) * v.std(ddof=1) / np.sqrt(len(v))) if len(v) > 1 else np.nan
    return {
        "method": method,
        "criterion": criterion,
        "value": mean,
        "ci_low": mean - half,
        "ci_high": mean + half,
        "n": len(v),
    }


def robustness_table(
    model: nn.Module,
    inputs: np.ndarray,
    target: np.ndarray,
    methods: Mapping[str, MapMethod],
    spec: RobustnessSpec,
) -> pd.DataFrame:
    """``sensitivity_max`` and ``infidelity`` of every method (:data:`ROBUSTNESS_COLUMNS`).

    Parameters
    ----------
    model
        ``model(*groups) -> logits`` in eval mode.
    inputs
        The (subset of) samples, (sample, group, channel, frame, joint, person).
    target
        Class explained per sample, (sample,).
    methods
        Name -> map method (recomputed on the perturbed inputs for ``sensitivity_max``).
    spec
        Radii, number of perturbations, seed.
    """
    rows = []
    for name, method in methods.items():
        sens = sensitivity(model, inputs, target, method, spec)
        infid = infidelity(model, inputs, target, method(model, inputs, target), spec)
        rows += [_summary(name, "sensitivity_max", sens), _summary(name, "infidelity", infid)]
        log.info(
            "robustness %s: sensitivity_max %.4g, infidelity %.4g", name, np.nanmean(sens), np.nanmean(infid)
        )
    return pd.DataFrame(rows, columns=list(ROBUSTNESS_COLUMNS))
