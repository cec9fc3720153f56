"""Model-agnostic faithfulness: deletion and insertion of key points (or joint x time cells) at the input.

Unlike the edge-importance perturbation (:mod:`harxai.evaluate.perturbation`), which needs a
GCN with an E matrix, this works for any model ``model(*groups) -> logits`` by changing the
input itself.

Cells
    ``segment_frames=None``: one cell per key point (all frames of that joint). Otherwise one
    cell per (time segment, joint), segments of ``segment_frames`` input frames (the last one
    may be shorter); cell index ``segment * joints + joint``. A cell is perturbed in every
    feature group, channel and person at once.
Ranking
    Key-point cells are ranked by the map's mean over frames; time cells by the map's mean
    over the segment's frames, after a map at a coarser frame resolution (GradCAM of a strided
    layer) is linearly resampled to the input's frames (:func:`resample_frames`). ``most``
    takes the highest scores first, ``least`` the lowest; ties go to the lower cell index.
Deletion and insertion (Petsiuk et al. 2018, RISE; Samek et al. 2017)
    Step k of a deletion curve imputes the first k cells of the sample's order; step k of an
    insertion curve imputes every cell *except* the first k (k = 0 is the all-imputed
    baseline input). k = 0..K.
Imputation (:class:`Imputation`)
    ``mean``: the background set's mean of each (group, channel, frame, joint, person).
    ``linear``: a ROAD-style noisy linear imputation (Rong et al. 2022, "A Consistent and
    Efficient Evaluation Strategy for Attribution Methods", ICML): the imputed cells solve
    ``(deg(u) + a) x_u - sum_{w in N(u)} x_w = a * mu_u`` jointly, where ``N(u)`` are the
    skeleton neighbours of the joint in the same frame and the same joint in the frames
    before and after (graph x time neighbours), known neighbours enter with their values, and
    ``mu`` is the background mean. Gaussian noise with standard deviation ``noise`` times the
    background's standard deviation of each (group, channel) is added to the imputed values.
    Deviations from ROAD: the neighbourhood is the skeleton graph and time instead of the
    8 pixel neighbours with weights 1/6 and 1/12; the anchor term ``a`` (default 0.1) ties the
    solution to the background mean so the system is well posed when every neighbour is
    imputed (insertion at k = 0, where it gives a smoothed background mean).
    The imputation noise of step k comes from ``numpy.random.default_rng([seed, k])``, the
    same for every method and random draw (common random numbers, so curves compare
    paired).
Random control
    ``draws`` seeded random orders per sample (``default_rng([seed, draw])``); the random
    sets are nested in k within a draw. A map named ``random`` is not run as a method: the
    ``random`` method *is* this control, and its area row is each draw against the draws' mean
    (0 on average, interval over draws).
Metrics
    :func:`harxai.evaluate.scoring.score_panels`: top-1 accuracy (overall and per class) or
    recording- and window-level ROC AUC for binary tasks, and the mean true-class probability
    (panel ``confidence``).
Area between curves
    ``area = trapezoid(curve - random_mean, k / K)``: in metric units, negative when the
    method's deletion hurts more than chance (good for deletion), positive when its insertion
    recovers faster (good for insertion). For the ``confidence`` panel the area is the mean of
    per-sample areas and its 95 % interval a t-interval over samples (it includes the spread of
    samples and, through the random mean, of the draws); for the other panels the interval is a
    t-interval over the areas against each random draw (the random control's uncertainty only).
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import torch
from scipy import sparse, stats
from scipy.sparse.linalg import splu
from torch import nn

from .scoring import Panel, score_panels

log = logging.getLogger(__name__)

IMPUTATIONS = ("mean", "linear")
MODES = ("deletion", "insertion")
ORDERS = ("most", "least")
RANDOM = "random"
CONFIDENCE = "confidence"
DEFAULT_BATCH = 64
CURVE_COLUMNS = ("method", "selection", "k", "panel", "metric", "value", "sd", "ci_low", "ci_high", "n_draws")
AREA_COLUMNS = ("method", "selection", "panel", "metric", "area", "ci_low", "ci_high", "ci_over", "n")


# ----------------------------------------------------------------------------- cells and rankings


def resample_frames(maps: np.ndarray, frames: int) -> np.ndarray:
    """Linearly resample (sample, frame', joint) maps to ``frames`` frames (no-op when equal).

    Frame centres are aligned as ``torch.nn.functional.interpolate(mode="linear",
    align_corners=False)`` does, matching a strided layer's receptive-field centres.
    """
    m = np.asarray(maps, dtype=np.float64)
    if m.ndim != 3:
        raise ValueError(f"a time map must be (sample, frame, joint), got shape {m.shape}")
    if m.shape[1] == frames:
        return m
    t = torch.from_numpy(m).permute(0, 2, 1)  # (sample, joint, frame')
    out = torch.nn.functional.interpolate(t, size=frames, mode="linear", align_corners=False)
    return np.asarray(out.permute(0, 2, 1).numpy())


def num_segments(frames: int, segment_frames: int) -> int:
    """Number of time segments of ``segment_frames`` frames covering ``frames`` (last may be shorter)."""
    if segment_frames < 1:
        raise ValueError(f"segment_frames must be >= 1, got {segment_frames}")
    return -(-frames // segment_frames)


def cell_scores(maps: np.ndarray, frames: int, joints: int, segment_frames: int | None) -> np.ndarray:
    """Score of every cell per sample (see the module docstring).

    Parameters
    ----------
    maps
        (sample, joint) or (sample, frame', joint); time cells need a frame axis.
    frames, joints
        The input's frame and joint counts.
    segment_frames
        None for key-point cells, else the segment length in input frames.

    Returns
    -------
    numpy.ndarray
        float64 (sample, cell).
    """
    m = np.asarray(maps, dtype=np.float64)
    if m.shape[-1] != joints:
        raise ValueError(f"map has {m.shape[-1]} joints, the inputs {joints}")
    if not np.all(np.isfinite(m)):
        raise ValueError("map holds NaN or inf values")
    if segment_frames is None:
        return m if m.ndim == 2 else m.mean(axis=1)
    if m.ndim != 3:
        raise ValueError("time cells need a (sample, frame, joint) map, got a map without a frame axis")
    m = resample_frames(m, frames)
    s = num_segments(frames, segment_frames)
    out = np.stack(
        [m[:, i * segment_frames : (i + 1) * segment_frames].mean(axis=1) for i in range(s)], axis=1
    )
    return out.reshape(len(m), s * joints)


def rank_cells(scores: np.ndarray, order: str) -> np.ndarray:
    """Cell indices per sample, highest score first (``most``) or lowest first (``least``); stable."""
    if order not in ORDERS:
        raise ValueError(f"order must be one of {ORDERS}, not {order!r}")
    s = np.asarray(scores, dtype=np.float64)
    return np.argsort(-s if order == "most" else s, axis=1, kind="stable")


def random_order(samples: int, cells: int, seed: int, draw: int) -> np.ndarray:
    """A seeded random permutation of the cells per sample, (sample, cell)."""
    rng = np.random.default_rng([seed, draw])
    return np.argsort(rng.random((samples, cells)), axis=1)


def cells_mask(selected: np.ndarray, frames: int, joints: int, segment_frames: int | None) -> np.ndarray:
    """Boolean (sample, frame, joint) mask of the selected cells (``selected``: (sample, k) indices)."""
    sel = np.asarray(selected, dtype=np.int64)
    n = sel.shape[0]
    if segment_frames is None:
        cells = np.zeros((n, joints), dtype=bool)
        np.put_along_axis(cells, sel, True, axis=1)
        return np.broadcast_to(cells[:, None, :], (n, frames, joints)).copy()
    s = num_segments(frames, segment_frames)
    cells = np.zeros((n, s * joints), dtype=bool)
    np.put_along_axis(cells, sel, True, axis=1)
    per_frame = np.repeat(cells.reshape(n, s, joints), segment_frames, axis=1)[:, :frames]
    return np.ascontiguousarray(per_frame)


# ----------------------------------------------------------------------------- imputation


@dataclass(frozen=True)
class Imputation:
    """How perturbed cells are filled (see the module docstring).

    Attributes
    ----------
    kind
        ``mean`` or ``linear``.
    noise
        ``linear``: noise standard deviation as a fraction of the background's (group, channel) std.
    anchor
        ``linear``: weight of the background mean in each imputed cell's equation (> 0).
    """

    kind: str = "mean"
    noise: float = 0.05
    anchor: float = 0.1

    def __post_init__(self) -> None:
        if self.kind not in IMPUTATIONS:
            raise ValueError(f"imputation must be one of {IMPUTATIONS}, not {self.kind!r}")
        if self.noise < 0 or self.anchor <= 0:
            raise ValueError(f"imputation needs noise >= 0 and anchor > 0, got {self.noise}, {self.anchor}")


def grid_laplacian(adjacency: np.ndarray, frames: int) -> sparse.csr_matrix:
    """Graph Laplacian ``D - A`` of the (frame x joint) grid: skeleton edges in each frame, time edges per joint.

    Cell index ``frame * joints + joint``.
    """
    a = np.asarray(adjacency) != 0
    np.fill_diagonal(a, False)
    spatial = sparse.kron(sparse.identity(frames), sparse.csr_matrix(a.astype(np.float64)))
    line = sparse.diags([np.ones(frames - 1), np.ones(frames - 1)], [-1, 1], shape=(frames, frames))
    temporal = sparse.kron(line, sparse.identity(a.shape[0]))
    adj = (spatial + temporal).tocsr()
    degree = np.asarray(adj.sum(axis=1)).ravel()
    return (sparse.diags(degree) - adj).tocsr()


class Imputer:
    """Fills masked cells of inputs from a background set.

    Parameters
    ----------
    background
        (background, group, channel, frame, joint, person), the frames of the inputs.
    adjacency
        (joint, joint) skeleton adjacency (nonzero = edge; the diagonal is ignored); only for ``linear``.
    imputation
        The :class:`Imputation`.
    """

    def __init__(self, background: np.ndarray, adjacency: np.ndarray | None, imputation: Imputation) -> None:
        b = np.asarray(background, dtype=np.float64)
        if b.ndim != 6 or len(b) == 0:
            raise ValueError(f"background must be a non-empty 6-D array, got shape {b.shape}")
        if not np.all(np.isfinite(b)):
            raise ValueError("background holds NaN or inf values")
        self.imputation = imputation
        self.mean = b.mean(axis=0)  # (group, channel, frame, joint, person)
        self.std = b.std(axis=(0, 3, 4, 5))  # (group, channel)
        self.laplacian: sparse.csr_matrix | None = None
        self.spatial: np.ndarray | None = None
        self.temporal_eig: tuple[np.ndarray, np.ndarray] | None = None
        if imputation.kind == "linear":
            if adjacency is None:
                raise ValueError("linear imputation needs the skeleton adjacency")
            frames = b.shape[3]
            self.laplacian = grid_laplacian(adjacency, frames)
            spatial = (np.asarray(adjacency) != 0).astype(np.float64)
            np.fill_diagonal(spatial, 0.0)
            self.spatial = spatial
            path = (
                np.diag(np.r_[1.0, np.full(max(frames - 2, 0), 2.0), 1.0][:frames])
                if frames > 1
                else np.zeros((1, 1))
            )
            path -= np.eye(frames, k=1) + np.eye(frames, k=-1)
            self.temporal_eig = np.linalg.eigh(path)

    def impute(self, inputs: np.ndarray, mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Return a copy of ``inputs`` (sample, group, channel, frame, joint, person) with ``mask`` (sample, frame, joint) cells imputed."""
        x = np.asarray(inputs, dtype=np.float32)
        if x.shape[1:] != self.mean.shape:
            raise ValueError(f"inputs {x.shape[1:]} do not match the background {self.mean.shape}")
        m = np.asarray(mask, dtype=bool)
        if m.shape != (x.shape[0], x.shape[3], x.shape[4]):
            raise ValueError(
                f"mask must be (sample, frame, joint) = {(x.shape[0], *x.shape[3:5])}, got {m.shape}"
            )
        if self.imputation.kind == "mean":
            sel = m[:, None, None, :, :, None]
            return np.where(sel, self.mean[None].astype(np.float32), x)
        return self._linear(x, m, rng)

    def _linear(self, x: np.ndarray, mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        n, g, c, t, v, p = x.shape
        out = x.copy()
        mu = self.mean.transpose(2, 3, 0, 1, 4).reshape(t * v, g * c * p)
        scale = np.broadcast_to(self.std[:, :, None], (g, c, p)).reshape(-1) * self.imputation.noise
        for i in range(n):
            if not mask[i].any():
                continue
            xi = x[i].transpose(2, 3, 0, 1, 4).reshape(t * v, g * c * p).astype(np.float64)
            joints = mask[i].all(axis=0)
            if np.array_equal(joints, mask[i].any(axis=0)):  # whole key points: the fast Kronecker solve
                solved = self._solve_keypoints(xi, mu, joints, t)
            else:
                solved = self._solve_sparse(xi, mu, mask[i].reshape(-1))
            unknown = np.flatnonzero(mask[i].reshape(-1))
            xi[unknown] = solved + rng.normal(size=solved.shape) * scale
            out[i] = xi.reshape(t, v, g, c, p).transpose(2, 3, 0, 1, 4)
        return out

    def _solve_sparse(self, xi: np.ndarray, mu: np.ndarray, unknown_mask: np.ndarray) -> np.ndarray:
        """Imputed rows (cell order) of one sample, (unknown, column), by a sparse LU solve."""
        assert self.laplacian is not None
        unknown, known = np.flatnonzero(unknown_mask), np.flatnonzero(~unknown_mask)
        rows = self.laplacian[unknown]
        a = self.imputation.anchor
        system = rows[:, unknown] + a * sparse.identity(len(unknown))
        rhs = a * mu[unknown] - rows[:, known] @ xi[known]
        return np.asarray(splu(system.tocsc()).solve(np.ascontiguousarray(rhs)))

    def _solve_keypoints(self, xi: np.ndarray, mu: np.ndarray, joints: np.ndarray, frames: int) -> np.ndarray:
        """The same system when whole key points are imputed: ``L_t X + X L_s[S, S] + a X = R``.

        The grid Laplacian is ``I_T (x) L_s + L_t (x) I_V``; with every frame of the joints S
        unknown, the system separates in the eigenbases of the path Laplacian ``L_t`` and of
        ``L_s[S, S]`` (a Sylvester equation), which costs two small eigendecompositions.
        """
        assert self.spatial is not None
        assert self.temporal_eig is not None
        lam, q = self.temporal_eig
        s_idx, k_idx = np.flatnonzero(joints), np.flatnonzero(~joints)
        v, cols = len(joints), xi.shape[1]
        a = self.imputation.anchor
        x3, mu3 = xi.reshape(frames, v, cols), mu.reshape(frames, v, cols)
        adj = self.spatial
        lap_s = np.diag(adj.sum(axis=1)) - adj
        sig, pm = np.linalg.eigh(lap_s[np.ix_(s_idx, s_idx)])
        rhs = a * mu3[:, s_idx] + np.einsum("sk,tkc->tsc", adj[np.ix_(s_idx, k_idx)], x3[:, k_idx])
        y = np.einsum("ut,usc,sw->twc", q, rhs, pm, optimize=True)
        y /= lam[:, None, None] + sig[None, :, None] + a
        solved = np.einsum("ut,twc,sw->usc", q, y, pm, optimize=True)
        return np.asarray(solved.reshape(frames * len(s_idx), cols))


# ----------------------------------------------------------------------------- forward passes and curves


def model_logits(model: nn.Module, inputs: np.ndarray, batch_size: int = DEFAULT_BATCH) -> np.ndarray:
    """Logits (sample, class) float64 of ``model(*groups)`` in no-grad batches, on the model's device."""
    first = next(model.parameters(), None)
    device = first.device if first is not None else torch.device("cpu")
    out = []
    with torch.no_grad():
        for start in range(0, len(inputs), batch_size):
            xb = torch.as_tensor(np.ascontiguousarray(inputs[start : start + batch_size], dtype=np.float32))
            xb = xb.to(device)
            out.append(model(*xb.unbind(1)).double().cpu().numpy())
    return np.concatenate(out, axis=0)


@dataclass(frozen=True)
class CurveSpec:
    """One family of curves.

    Attributes
    ----------
    mode
        ``deletion`` or ``insertion``.
    max_cells
        K: steps k = 0..min(K, cells).
    steps
        Optional explicit k values instead (strictly increasing from 0, e.g. ``(0, 1, 2, 4, 8)``,
        to save forward passes); values above the number of cells are dropped.
    segment_frames
        None: key-point cells; else joint x time-segment cells of this many input frames.
    seed
        Seed of the random draws and of the imputation noise.
    batch_size
        Samples per forward pass.
    """

    mode: str = "deletion"
    max_cells: int = 10
    steps: tuple[int, ...] | None = None
    segment_frames: int | None = None
    seed: int = 0
    batch_size: int = DEFAULT_BATCH

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, not {self.mode!r}")
        if self.max_cells < 1:
            raise ValueError(f"max_cells must be >= 1, got {self.max_cells}")
        if self.steps is not None and (
            not self.steps or self.steps[0] != 0 or any(b <= a for a, b in itertools.pairwise(self.steps))
        ):
            raise ValueError(f"steps must increase strictly from 0, got {self.steps}")

    def ks(self, cells: int) -> np.ndarray:
        """The k of every step for ``cells`` cells."""
        if self.steps is None:
            return np.arange(min(self.max_cells, cells) + 1)
        return np.array([k for k in self.steps if k <= cells], dtype=np.int64)


def curve_logits(
    model: nn.Module,
    inputs: np.ndarray,
    order: np.ndarray,
    imputer: Imputer,
    spec: CurveSpec,
    first: np.ndarray | None = None,
) -> np.ndarray:
    """Logits of every step of a curve for one cell order per sample.

    Parameters
    ----------
    order
        (sample, cell) cell indices, the first to be deleted (or inserted) first.
    first
        The logits of step k = 0 when already known: they do not depend on the order (nothing
        deleted, or everything imputed with the noise of step 0), so every curve of a call shares them.

    Returns
    -------
    numpy.ndarray
        (step, sample, class), steps k of :meth:`CurveSpec.ks`.
    """
    _, _, _, t, v, _ = inputs.shape
    out = []
    for k in spec.ks(order.shape[1]):
        if k == 0 and first is not None:
            out.append(first)
            continue
        chosen = cells_mask(order[:, :k], t, v, spec.segment_frames)
        mask = chosen if spec.mode == "deletion" else ~chosen
        rng = np.random.default_rng([spec.seed, k])
        out.append(model_logits(model, imputer.impute(inputs, mask, rng), spec.batch_size))
    return np.stack(out)


def softmax(logits: np.ndarray) -> np.ndarray:
    """Softmax over the last axis, float64."""
    z = np.asarray(logits, dtype=np.float64)
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return np.asarray(e / e.sum(axis=-1, keepdims=True))


@dataclass(frozen=True)
class EvaluationData:
    """The samples a curve is evaluated on.

    Attributes
    ----------
    inputs
        (sample, group, channel, frame, joint, person).
    label
        True class, (sample,).
    recording_id
        Recording of each sample, (sample,).
    panels
        From :func:`harxai.evaluate.scoring.scoring_panels`.
    """

    inputs: np.ndarray
    label: np.ndarray
    recording_id: np.ndarray
    panels: tuple[Panel, ...]


@dataclass(frozen=True)
class FaithfulnessResult:
    """Curves of every method and the random control.

    Attributes
    ----------
    k
        (step,).
    probability
        Method -> (step, sample, class); the random control ``random`` -> (draw, step, sample, class).
    metric
        Same keys -> (step, item) or (draw, step, item).
    curves, areas
        Long tables (:data:`CURVE_COLUMNS`, :data:`AREA_COLUMNS`).
    """

    k: np.ndarray
    probability: dict[str, np.ndarray]
    metric: dict[str, np.ndarray]
    curves: pd.DataFrame
    areas: pd.DataFrame


def _score(prob: np.ndarray, data: EvaluationData) -> np.ndarray:
    return np.stack([score_panels(p, data.label, data.recording_id, data.panels) for p in prob])


def faithfulness_curves(
    model: nn.Module,
    data: EvaluationData,
    maps: Mapping[str, np.ndarray],
    imputer: Imputer,
    spec: CurveSpec,
    order: str = "most",
    draws: int = 10,
    random_probability: np.ndarray | None = None,
) -> FaithfulnessResult:
    """Deletion or insertion curves of every method against ``draws`` random orders.

    Parameters
    ----------
    model
        ``model(*groups) -> logits`` in eval mode.
    data
        Inputs, labels, recordings and panels.
    maps
        Method -> map (sample, joint) or (sample, frame', joint), aligned with ``data``.
    imputer
        Fills the perturbed cells.
    spec
        Mode, K, cells, seed, batch size.
    order
        ``most`` (highest scores first) or ``least``.
    draws
        Random orders (>= 2 for intervals).
    random_probability
        The random control's probabilities (draw, step, sample, class) of an earlier call with
        the same data, imputer, spec and draws (``result.probability["random"]``): the random
        orders do not depend on ``order``, so the most- and least-first curves share them.
    """
    n, _, _, t, v, _ = data.inputs.shape
    if draws < 2:
        raise ValueError(f"the random control needs >= 2 draws for an interval, got {draws}")
    probability: dict[str, np.ndarray] = {}
    cells = v if spec.segment_frames is None else num_segments(t, spec.segment_frames) * v
    first = curve_logits(
        model, data.inputs, np.zeros((n, 0), dtype=np.int64), imputer, replace(spec, steps=(0,))
    )[0]
    for method, m in maps.items():
        if method == RANDOM:  # the random method is the random control itself (its rows come from the draws)
            continue
        if len(m) != n:
            raise ValueError(f"map of {method!r} has {len(m)} samples, the inputs {n}")
        ranked = rank_cells(cell_scores(m, t, v, spec.segment_frames), order)
        probability[method] = softmax(curve_logits(model, data.inputs, ranked, imputer, spec, first))
        log.info("%s %s (%s): done", spec.mode, method, order)
    if random_probability is not None:
        if random_probability.shape[0] != draws or random_probability.shape[2] != n:
            raise ValueError(
                f"random_probability has shape {random_probability.shape}, expected {draws} draws of {n} samples"
            )
        probability[RANDOM] = random_probability
    else:
        runs = [
            softmax(
                curve_logits(model, data.inputs, random_order(n, cells, spec.seed, d), imputer, spec, first)
            )
            for d in range(draws)
        ]
        probability[RANDOM] = np.stack(runs)
    metric = {
        k: (_score(p, data) if k != RANDOM else np.stack([_score(r, data) for r in p]))
        for k, p in probability.items()
    }
    k = spec.ks(cells)
    curves = curve_table(k, metric, data.panels, order)
    areas = area_table(k, probability, metric, data, order)
    return FaithfulnessResult(k, probability, metric, curves, areas)


def _t_interval(values: np.ndarray) -> tuple[float, float, float, int]:
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    n = len(v)
    if n == 0:
        return np.nan, np.nan, np.nan, 0
    mean = float(v.mean())
    if n == 1:
        return mean, np.nan, np.nan, 1
    sd = float(v.std(ddof=1))
    half = float(stats.t.ppf(0.975, n - 1) * sd / np.sqrt(n))
    return mean, mean - half, mean + half, n


def curve_table(
    k: np.ndarray, metric: Mapping[str, np.ndarray], panels: Sequence[Panel], order: str
) -> pd.DataFrame:
    """Long table of all curves (:data:`CURVE_COLUMNS`); the random row's interval is a t-interval over draws."""
    rows = []
    for method, values in metric.items():
        for s, kk in enumerate(k):
            for i, panel in enumerate(panels):
                row = {"method": method, "selection": RANDOM if method == RANDOM else order, "k": int(kk)}
                row.update(panel=panel.name, metric=panel.metric)
                if method == RANDOM:
                    mean, lo, hi, nd = _t_interval(values[:, s, i])
                    sd = float(np.nanstd(values[:, s, i], ddof=1)) if nd > 1 else np.nan
                    row.update(value=mean, sd=sd, ci_low=lo, ci_high=hi, n_draws=nd)
                else:
                    row.update(value=float(values[s, i]), sd=np.nan, ci_low=np.nan, ci_high=np.nan, n_draws=1)
                rows.append(row)
    return pd.DataFrame(rows, columns=list(CURVE_COLUMNS))


def area_between(curve: np.ndarray, reference: np.ndarray, k: np.ndarray) -> np.ndarray:
    """``trapezoid(curve - reference, k / max(k))`` along axis 0 (steps); NaN-propagating."""
    x = np.asarray(k, dtype=np.float64) / max(float(np.max(k)), 1.0)
    return np.asarray(np.trapezoid(np.asarray(curve) - np.asarray(reference), x, axis=0))


def true_class_probability(probability: np.ndarray, label: np.ndarray) -> np.ndarray:
    """P(true class) of (..., sample, class) probabilities -> (..., sample)."""
    idx = np.asarray(label, dtype=np.int64)
    return np.take_along_axis(probability, idx.reshape((1,) * (probability.ndim - 2) + (-1, 1)), axis=-1)[
        ..., 0
    ]


def area_table(
    k: np.ndarray,
    probability: Mapping[str, np.ndarray],
    metric: Mapping[str, np.ndarray],
    data: EvaluationData,
    order: str,
) -> pd.DataFrame:
    """Area between each method's curve and the random mean, per panel (:data:`AREA_COLUMNS`)."""
    rows = []
    random_metric = metric[RANDOM]
    random_tcp = true_class_probability(probability[RANDOM], data.label).mean(axis=0)  # (step, sample)
    for method, values in metric.items():
        if method == RANDOM:
            continue
        tcp = true_class_probability(probability[method], data.label)  # (step, sample)
        for i, panel in enumerate(data.panels):
            row: dict[str, object] = {
                "method": method,
                "selection": order,
                "panel": panel.name,
                "metric": panel.metric,
            }
            if panel.metric == "true_class_probability":
                area, lo, hi, n = _t_interval(area_between(tcp, random_tcp, k))
                row.update(area=area, ci_low=lo, ci_high=hi, ci_over="samples", n=n)
            else:
                per_draw = area_between(values[:, i][:, None], random_metric[:, :, i].T, k)
                _, lo, hi, n = _t_interval(per_draw)
                area = float(area_between(values[:, i], np.nanmean(random_metric[:, :, i], axis=0), k))
                row.update(area=area, ci_low=lo, ci_high=hi, ci_over="draws", n=n)
            rows.append(row)
    rows += _random_rows(k, probability, metric, data, order)
    return pd.DataFrame(rows, columns=list(AREA_COLUMNS))


def _random_rows(
    k: np.ndarray,
    probability: Mapping[str, np.ndarray],
    metric: Mapping[str, np.ndarray],
    data: EvaluationData,
    order: str,
) -> list[dict[str, object]]:
    """Area rows of the random control: each draw against the draws' mean (0 on average), interval over draws."""
    draws = metric[RANDOM]
    tcp = true_class_probability(probability[RANDOM], data.label).mean(axis=-1)  # (draw, step)
    rows: list[dict[str, object]] = []
    for i, panel in enumerate(data.panels):
        per_draw = (
            area_between(tcp.T, tcp.mean(axis=0)[:, None], k)
            if panel.metric == "true_class_probability"
            else area_between(draws[:, :, i].T, np.nanmean(draws[:, :, i], axis=0)[:, None], k)
        )
        area, lo, hi, n = _t_interval(per_draw)
        rows.append(
            {"method": RANDOM, "selection": order, "panel": panel.name, "metric": panel.metric}
            | {"area": area, "ci_low": lo, "ci_high": hi, "ci_over": "draws", "n": n}
        )
    return rows
