"""Perturbation of the edge-importance matrices E guided by key-point rankings.

Follows the seed code's ``Perturber`` (DeepInMotion/ShapGCN ``src/xai/perturber.py``, used by
Tempel et al., "Choose your explanation", 2025, Sec. 3.3 and 4.4): the k most (or least)
important key points of each sample, by that sample's own ranking, are perturbed in the E of
every graph convolution of the model and the explained samples are classified again.

Modes (:class:`PerturbationSpec`):

``self_loop`` (the seed's)
    ``E[0, v, v] <- E[0, v, v] + sign(E[0, v, v]) * thresh * (max(E[0]) - min(E[0]))`` for
    each perturbed key point v: the hop-0 self-loop is moved away from zero by a fraction of
    the range of the whole hop-0 slice (off-diagonal entries included, as in the seed).
    Deviation: ``sign(0)`` is taken as +1, so a zero entry is moved too. With ``zero_out``,
    ``E[0, v, v] <- 1e-5`` instead.
``isolate``
    Every entry of row v and column v of every partition is set to 0: key point v neither
    sends messages to nor receives messages from any key point, itself included (its own
    features still reach it through the blocks' residual connections).

Deviations from the seed: k starts at 0 (the unperturbed baseline); k is not limited to key
points with a positive (negative) score, the k highest (lowest) scores are taken whatever
their sign; ties are broken by joint index; the random control repeats seeded draws
(per sample, per k and per draw) instead of one draw from the global RNG. The model's
weights on disk are never modified: E is edited in memory and restored afterwards.

Speed: every sample has its own key-point set, so a batch mixes sets. Instead of one network
pass per distinct set, :class:`EdgePerturbation` recomputes only the E-owning modules for
the samples of each distinct set (forward hooks) inside one network pass per batch.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Self

import numpy as np
import torch
from torch import nn

from ..explain.jobs import load_job_model
from ..io.contracts import PERTURBATION, PERTURBATION_RANDOM, ExplainSet
from ..models import edge_importance_parameters
from .curves import Curves
from .scoring import Panel, score_panels, scoring_panels
from .sources import (
    DatasetInfo,
    PathLike,
)

log = logging.getLogger(__name__)

MODES = ("self_loop", "isolate")
ZERO_OUT_VALUE = 1e-5
DEFAULT_BATCH_SIZE = 64


@dataclass(frozen=True)
class PerturbationSpec:
    """How the E entries of a perturbed key point are changed.

    Attributes
    ----------
    mode
        ``self_loop`` or ``isolate`` (see the module docstring).
    thresh
        ``self_loop`` step as a fraction of ``max(E[0]) - min(E[0])`` (seed 0.35).
    zero_out
        ``self_loop`` only: set ``E[0, v, v]`` to 1e-5 instead of moving it away from zero.
    """

    mode: str = "self_loop"
    thresh: float = 0.35
    zero_out: bool = False

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"perturbation mode must be one of {MODES}, not {self.mode!r}")


def perturb_edge_importance(
    edge: torch.Tensor, joints: Sequence[int], spec: PerturbationSpec
) -> torch.Tensor:
    """Return a perturbed copy of one edge-importance matrix.

    Parameters
    ----------
    edge
        E, shape (partition, joint, joint) or (joint, joint); not modified.
    joints
        Key points to perturb (indices).
    spec
        The perturbation.

    Returns
    -------
    torch.Tensor
        The perturbed copy, of the shape of ``edge``.
    """
    if edge.ndim == 2:  # one (joint, joint) matrix (external models): a single partition
        return perturb_edge_importance(edge[None], joints, spec)[0]
    out = edge.detach().clone()
    if len(joints) == 0:
        return out
    idx = torch.as_tensor(list(joints), dtype=torch.long, device=edge.device)
    if spec.mode == "isolate":
        out[:, idx, :] = 0.0
        out[:, :, idx] = 0.0
    elif spec.zero_out:
        out[0, idx, idx] = ZERO_OUT_VALUE
    else:
        hop0 = edge.detach()[0]
        delta = spec.thresh * (hop0.max() - hop0.min())
        diag = hop0[idx, idx]
        sign = torch.where(diag < 0, -torch.ones_like(diag), torch.ones_like(diag))
        out[0, idx, idx] = diag + sign * delta
    return out


def _groups(joint_sets: Sequence[Sequence[int]]) -> dict[tuple[int, ...], list[int]]:
    groups: dict[tuple[int, ...], list[int]] = defaultdict(list)
    for i, joints in enumerate(joint_sets):
        groups[tuple(sorted(int(j) for j in joints))].append(i)
    return groups


class EdgePerturbation:
    """Per-sample perturbation of every edge-importance matrix E of a model, in memory.

    A forward hook on each module owning an E recomputes that module's output for the
    samples of a batch whose key-point set is not empty: for each distinct set, E is set to
    its perturbed original, the module's ``forward`` is called on those samples' rows and
    the rows of the output are replaced; E is then restored. So a whole batch of samples,
    each with its own key-point set, needs one forward pass of the network, and the
    contraction runs once more per distinct set. This relies on the owning module working
    row by row with the rows sample-major (``sample * person``), as the harxai models do.
    The parameters are restored when the with-block ends, also on errors.

    Parameters
    ----------
    model
        The model (eval mode).
    params
        Name (as in ``model.named_parameters()``) -> edge-importance Parameter
        (partition, joint, joint), e.g. from :func:`harxai.models.edge_importance_parameters`.
    spec
        The perturbation.
    """

    def __init__(self, model: nn.Module, params: Mapping[str, nn.Parameter], spec: PerturbationSpec) -> None:
        if not params:
            raise ValueError("the model has no edge-importance parameters to perturb")
        self.model = model
        self.params = dict(params)
        self.spec = spec
        self._originals: dict[str, torch.Tensor] = {}
        self._handles: list[torch.utils.hooks.RemovableHandle] = []
        self._samples = 0
        self._groups: dict[tuple[int, ...], list[int]] = {}

    def __enter__(self) -> Self:
        self._originals = {name: p.detach().clone() for name, p in self.params.items()}
        for name in self.params:
            module = self.model.get_submodule(name.rpartition(".")[0])
            self._handles.append(module.register_forward_hook(self._hook(name)))
        return self

    def __exit__(self, *exc: object) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []
        self._restore()
        self._originals = {}

    def _restore(self) -> None:
        with torch.no_grad():
            for name, p in self.params.items():
                p.copy_(self._originals[name])

    def set_samples(self, joint_sets: Sequence[Sequence[int]]) -> None:
        """Key-point set of each sample of the next forward pass (in batch order)."""
        self._samples = len(joint_sets)
        self._groups = {k: v for k, v in _groups(joint_sets).items() if k}  # the empty set changes nothing

    def _hook(self, name: str) -> Callable[[nn.Module, tuple[Any, ...], torch.Tensor], torch.Tensor | None]:
        def hook(module: nn.Module, args: tuple[Any, ...], output: torch.Tensor) -> torch.Tensor | None:
            groups = self._groups
            if not groups:
                return None
            x = args[0]
            persons, rest = divmod(x.shape[0], self._samples)
            if rest:
                raise RuntimeError(f"{name}: {x.shape[0]} rows do not split into {self._samples} samples")
            out = output.clone()
            param = self.params[name]
            try:
                for key, members in groups.items():
                    rows = (torch.as_tensor(members)[:, None] * persons + torch.arange(persons)).reshape(-1)
                    rows = rows.to(x.device)
                    with torch.no_grad():
                        param.copy_(perturb_edge_importance(self._originals[name], key, self.spec))
                    out[rows] = module.forward(x[rows], *args[1:])
            finally:
                with torch.no_grad():
                    param.copy_(self._originals[name])
            return out

        return hook


def predict_probabilities(
    model: nn.Module,
    inputs: np.ndarray,
    device: torch.device,
    batch_size: int = DEFAULT_BATCH_SIZE,
    perturbation: EdgePerturbation | None = None,
    joint_sets: Sequence[Sequence[int]] | None = None,
) -> np.ndarray:
    """Class probabilities (softmax of the logits) of samples, optionally perturbed per sample.

    Parameters
    ----------
    model
        ``model(joint, velocity, bone, acceleration) -> logits (sample, class)`` in eval mode.
    inputs
        Shape (sample, group, channel, frame, joint, person), groups in the model's order.
    perturbation, joint_sets
        An active :class:`EdgePerturbation` of ``model`` and one key-point set per sample.

    Returns
    -------
    numpy.ndarray
        Shape (sample, class), float64.
    """
    out = []
    with torch.no_grad():
        for start in range(0, len(inputs), batch_size):
            x = torch.from_numpy(np.ascontiguousarray(inputs[start : start + batch_size])).to(device)
            if perturbation is not None and joint_sets is not None:
                perturbation.set_samples(joint_sets[start : start + batch_size])
            try:
                logits = model(*x.unbind(1))
            finally:
                if perturbation is not None:
                    perturbation.set_samples([])
            out.append(torch.softmax(logits.double(), dim=1).cpu().numpy())
    return np.concatenate(out, axis=0)


def perturbed_probabilities(
    model: nn.Module,
    perturbation: EdgePerturbation,
    inputs: np.ndarray,
    joint_sets: Sequence[Sequence[int]],
    device: torch.device,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> tuple[np.ndarray, int]:
    """Classify each sample with E perturbed at its own key-point set.

    Parameters
    ----------
    inputs
        Shape (sample, group, channel, frame, joint, person).
    joint_sets
        One key-point set per sample.

    Returns
    -------
    tuple
        Probabilities (sample, class) and the number of distinct key-point sets.
    """
    if len(joint_sets) != len(inputs):
        raise ValueError(f"{len(joint_sets)} key-point sets for {len(inputs)} samples")
    probs = predict_probabilities(model, inputs, device, batch_size, perturbation, joint_sets)
    return probs, len(_groups(joint_sets))


def top_keypoints(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k highest scores per sample (ties broken by joint index), shape (sample, k)."""
    return np.argsort(-np.asarray(scores), axis=1, kind="stable")[:, :k]


def random_keypoints(n_samples: int, n_joints: int, k: int, seed: int, draw: int) -> np.ndarray:
    """k distinct random key points per sample, reproducible from (seed, draw, k), shape (sample, k)."""
    rng = np.random.default_rng([seed, draw, k])
    return np.argsort(rng.random((n_samples, n_joints)), axis=1)[:, :k]


def _mask(sets: np.ndarray, n_joints: int) -> np.ndarray:
    mask = np.zeros((sets.shape[0], n_joints), dtype=np.int8)
    np.put_along_axis(mask, sets, 1, axis=1)
    return mask


@dataclass(frozen=True)
class CurveData:
    """Curves of one perturbation run.

    Attributes
    ----------
    metric
        Shape (step, item) or (draw, step, item): one value per k and panel.
    probability
        Shape (step, sample, class) or (draw, step, sample, class).
    perturbed
        1 where a key point was perturbed, shape (step, sample, joint) or (draw, step, sample, joint).
    forward_groups
        Distinct key-point sets evaluated, summed over k (and draws): each costs one extra
        pass of the E-owning modules on its samples.
    """

    metric: np.ndarray
    probability: np.ndarray
    perturbed: np.ndarray
    forward_groups: int


@dataclass(frozen=True)
class EvaluationSet:
    """What a perturbation curve is evaluated on."""

    inputs: np.ndarray
    label: np.ndarray
    recording_id: np.ndarray
    panels: tuple[Panel, ...]
    num_joints: int


def _curve(
    model: nn.Module,
    perturbation: EdgePerturbation,
    data: EvaluationSet,
    sets_of_k: Sequence[np.ndarray],
    device: torch.device,
    batch_size: int,
) -> CurveData:
    metrics, probs, masks, groups = [], [], [], 0
    for k, sets in enumerate(sets_of_k):
        p, g = perturbed_probabilities(model, perturbation, data.inputs, sets.tolist(), device, batch_size)
        metrics.append(score_panels(p, data.label, data.recording_id, data.panels))
        probs.append(p)
        masks.append(_mask(sets, data.num_joints))
        groups += g
        log.info("k=%d: %s (%d key-point sets)", k, np.round(metrics[-1], 4).tolist(), g)
    return CurveData(np.stack(metrics), np.stack(probs), np.stack(masks), groups)


def selection_curve(
    model: nn.Module,
    params: Mapping[str, nn.Parameter],
    data: EvaluationSet,
    scores: np.ndarray,
    max_keypoints: int,
    spec: PerturbationSpec,
    device: torch.device,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> CurveData:
    """Perturb each sample's k highest-scoring key points, k = 0..max_keypoints.

    Parameters
    ----------
    scores
        Selection score per sample, shape (sample, joint) (the highest are perturbed first).
    """
    ks = range(min(max_keypoints, data.num_joints) + 1)
    sets = [top_keypoints(scores, k) for k in ks]
    with EdgePerturbation(model, params, spec) as perturbation:
        return _curve(model, perturbation, data, sets, device, batch_size)


def random_curves(
    model: nn.Module,
    params: Mapping[str, nn.Parameter],
    data: EvaluationSet,
    max_keypoints: int,
    draws: int,
    seed: int,
    spec: PerturbationSpec,
    device: torch.device,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> CurveData:
    """Perturb k random key points per sample, k = 0..max_keypoints, in ``draws`` seeded draws."""
    n = len(data.label)
    ks = range(min(max_keypoints, data.num_joints) + 1)
    runs = []
    with EdgePerturbation(model, params, spec) as perturbation:
        for draw in range(draws):
            log.info("random draw %d of %d", draw + 1, draws)
            sets = [random_keypoints(n, data.num_joints, k, seed, draw) for k in ks]
            runs.append(_curve(model, perturbation, data, sets, device, batch_size))
    return CurveData(
        np.stack([r.metric for r in runs]),
        np.stack([r.probability for r in runs]),
        np.stack([r.perturbed for r in runs]),
        sum(r.forward_groups for r in runs),
    )


def load_checkpoint(path: PathLike, device: torch.device) -> tuple[nn.Module, dict[str, nn.Parameter]]:
    """Load a model.pt (eval mode) on ``device`` and its edge-importance parameters."""
    model = load_job_model(path, device)
    return model, edge_importance_parameters(model)


def evaluation_set(info: DatasetInfo, explain: ExplainSet) -> EvaluationSet:
    """The explain set's inputs and labels with the scoring panels of the dataset."""
    if explain.inputs is None:
        raise ValueError("the evaluation set needs the explain set's inputs")
    return EvaluationSet(
        inputs=explain.inputs,
        label=explain.label,
        recording_id=explain.recording_id,
        panels=scoring_panels(info.task, info.class_names, explain.label),
        num_joints=info.layout.num_joints,
    )


def write_curves(
    output_h5: PathLike,
    curves: CurveData,
    data: EvaluationSet,
    random: bool,
    config: Mapping[str, object],
    inputs: Sequence[PathLike],
    attrs: Mapping[str, object],
    seed: int | None = None,
) -> Curves:
    """Write a perturbation file and return its curves as stored (metric rounded to float32)."""
    steps = curves.metric.shape[1 if random else 0]
    contract = PERTURBATION_RANDOM if random else PERTURBATION
    contract.write(
        output_h5,
        {
            "k": np.arange(steps, dtype=np.int64),
            "metric": curves.metric,
            "panel": np.array([p.name for p in data.panels]),
            "metric_name": np.array([p.metric for p in data.panels]),
            "probability": curves.probability,
            "perturbed": curves.perturbed,
            "label": data.label,
            "recording_id": data.recording_id,
        },
        config=config,
        inputs=inputs,
        seed=seed,
        attrs={**attrs, "forward_groups": curves.forward_groups},
    )
    return Curves(
        method=str(attrs["method"]),
        selection=str(attrs["selection"]),
        k=np.arange(steps, dtype=np.int64),
        panels=tuple(p.name for p in data.panels),
        metrics=tuple(p.metric for p in data.panels),
        values=np.asarray(curves.metric, dtype=np.float32).astype(np.float64),
    )
