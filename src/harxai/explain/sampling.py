"""Which samples are explained (rule select_explain_set) and the SHAP background (select_background).

Explain set
    Rows of the validation split of ``features.h5``, filtered by the ``explain`` config block:
    ``classes`` (true-label class indices), ``recordings`` (recording ids), ``max_per_class``
    (the first samples of each class in recording order: sorted by recording id, then window
    start, then row) and ``target`` (``label``: the true class; ``predicted``: the argmax of the
    trained model's validation logits in ``metrics.h5``, matched through ``val_index``).

Background
    A stratified draw from the training split, deterministic from ``seed``
    (``numpy.random.default_rng``); features are stored unaugmented (augmentation only happens
    while training). With ``n = min(size, training samples)`` and ``K`` classes that have training
    samples, every class first gets ``min(floor(n / K), its training samples)`` samples drawn
    without replacement; the remaining rows are drawn uniformly from all training samples not yet
    taken, so they follow the training class frequencies. When ``n < K`` not every class can be
    covered: ``n`` classes are drawn at random, one sample each, and a warning is logged, as it is
    when the training split holds fewer than ``size`` samples (all are taken) or a class has no
    training samples. The rows are then shuffled (same generator) and split with
    ``numpy.array_split`` into ``ceil(size / chunk_size)`` chunks (the number of ``shap_chunk``
    jobs the workflow plans), so each chunk is a random subset of at most ``chunk_size`` rows and
    chunk sizes differ by at most one.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import h5py
import numpy as np

from ..io import HDF5ContractError
from ..io.contracts import FEATURE_SET, METRICS
from ..io.hdf5 import provenance_attrs

log = logging.getLogger(__name__)

TARGETS = ("label", "predicted")
_READ_ROWS = 256  # rows per h5py read of the features


@dataclass(frozen=True)
class ExplainParams:
    """The ``explain`` config block.

    Attributes
    ----------
    classes
        True-label class indices to explain; None keeps every class.
    recordings
        Recording ids to explain; None keeps every recording.
    max_per_class
        At most this many samples per class (first in recording order); None keeps all.
    target
        ``label`` or ``predicted``: the output explained per sample.
    """

    classes: tuple[int, ...] | None = None
    recordings: tuple[str, ...] | None = None
    max_per_class: int | None = None
    target: str = "label"

    @classmethod
    def from_dict(cls, params: Mapping[str, Any]) -> ExplainParams:
        """Build from the config block, rejecting unknown keys and bad values."""
        unknown = sorted(set(params) - {"classes", "recordings", "max_per_class", "target"})
        if unknown:
            raise ValueError(f"explain: unknown keys {unknown}")
        classes = params.get("classes")
        recordings = params.get("recordings")
        out = cls(
            classes=None if classes is None else tuple(int(c) for c in classes),
            recordings=None if recordings is None else tuple(str(r) for r in recordings),
            max_per_class=None if params.get("max_per_class") is None else int(params["max_per_class"]),
            target=str(params.get("target", "label")),
        )
        if out.target not in TARGETS:
            raise ValueError(f"explain: target must be label or predicted, not {out.target!r}")
        if out.max_per_class is not None and out.max_per_class < 1:
            raise ValueError(f"explain: max_per_class must be >= 1, not {out.max_per_class}")
        if out.classes is not None and any(c < 0 for c in out.classes):
            raise ValueError(f"explain: negative class index in {list(out.classes)}")
        return out


@dataclass(frozen=True)
class SampleTable:
    """Per-sample metadata of ``features.h5`` (no features)."""

    label: np.ndarray
    recording_id: np.ndarray
    group: np.ndarray
    split: np.ndarray
    window_start: np.ndarray
    attrs: dict[str, Any]

    @property
    def num_classes(self) -> int:
        """Number of classes named in the ``class_names`` attribute."""
        return len(self.attrs["class_names_list"])


def read_sample_table(features_path: str | os.PathLike[str]) -> SampleTable:
    """Read the per-sample datasets and dataset-level attributes of ``features.h5``.

    The ``features`` array itself is only checked (dims), not loaded.
    """
    content = FEATURE_SET.read(
        features_path, load=["label", "recording_id", "split", "group", "window_start"]
    )
    n = len(content["label"])
    provenance = set(provenance_attrs({}, [], None))
    attrs = {k: v for k, v in content.attrs.items() if k not in provenance}
    attrs["class_names_list"] = content.json_attr("class_names")
    return SampleTable(
        label=content["label"].astype(np.int64),
        recording_id=content["recording_id"],
        group=content["group"] if "group" in content else np.full(n, "", dtype=str),
        split=content["split"],
        window_start=(
            content["window_start"].astype(np.float32)
            if "window_start" in content
            else np.zeros(n, np.float32)
        ),
        attrs=attrs,
    )


def dataset_attrs(table: SampleTable) -> dict[str, Any]:
    """Dataset-level attributes copied from ``features.h5`` (layout, class_names, task, ...)."""
    return {k: v for k, v in table.attrs.items() if k != "class_names_list"}


def read_feature_rows(features_path: str | os.PathLike[str], rows: np.ndarray) -> np.ndarray:
    """Rows of ``features`` (sample, group, channel, frame, joint, person) in the order of ``rows``."""
    rows = np.asarray(rows, dtype=np.int64)
    order = np.argsort(rows, kind="stable")
    sorted_rows = rows[order]
    with h5py.File(features_path, "r") as fh:
        ds = fh["features"]
        out = np.empty((len(rows), *ds.shape[1:]), dtype=np.float32)
        for start in range(0, len(rows), _READ_ROWS):
            batch = sorted_rows[start : start + _READ_ROWS]
            unique, inverse = np.unique(batch, return_inverse=True)
            out[order[start : start + _READ_ROWS]] = ds[unique.tolist()][inverse]
    return FEATURE_SET.check_rows(features_path, "features", out)


def choose_explain_rows(
    label: np.ndarray,
    split: np.ndarray,
    recording_id: np.ndarray,
    window_start: np.ndarray,
    params: ExplainParams,
    num_classes: int,
) -> np.ndarray:
    """Rows of the validation split selected by ``params``, ascending.

    Parameters
    ----------
    label, split, recording_id, window_start
        Per-sample arrays (sample,) of ``features.h5``.
    params
        The explain parameters.
    num_classes
        Number of classes; class indices outside 0..num_classes-1 are ignored with a warning
        (the ``explain`` block is shared by every dataset of a run).

    Returns
    -------
    numpy.ndarray
        int64 (sample,) row indices into ``features.h5``; may be empty.
    """
    keep = split == "val"
    if params.classes is not None:
        outside = sorted({c for c in params.classes if c >= num_classes})
        if outside:
            log.warning("explain: classes %s do not exist (%d classes); ignored", outside, num_classes)
        keep &= np.isin(label, np.asarray(params.classes, dtype=np.int64))
    if params.recordings is not None:
        val_recordings = set(recording_id[split == "val"].tolist())
        missing = [r for r in params.recordings if r not in val_recordings]
        if missing:
            log.warning("explain: recordings not in the validation split, ignored: %s", ", ".join(missing))
        keep &= np.isin(recording_id, np.asarray(params.recordings, dtype=str))
    rows = np.flatnonzero(keep)
    if params.max_per_class is not None:
        order = np.lexsort((rows, window_start[rows], recording_id[rows]))
        ranked = rows[order]
        taken: list[int] = []
        for cls in np.unique(label[ranked]):
            taken.extend(ranked[label[ranked] == cls][: params.max_per_class].tolist())
        rows = np.asarray(sorted(taken), dtype=np.int64)
    return rows.astype(np.int64)


def validation_predictions(metrics_path: str | os.PathLike[str], rows: np.ndarray) -> np.ndarray:
    """Predicted class of features rows ``rows`` from ``metrics.h5`` (val_logits via val_index).

    A single logit column (binary task) predicts class 1 where the logit is positive.
    """
    content = METRICS.read(metrics_path, load=["val_logits", "val_index"])
    logits, index = content["val_logits"], content["val_index"].astype(np.int64)
    if len(logits) != len(index):
        raise HDF5ContractError(
            f"{metrics_path}: val_logits has {len(logits)} rows but val_index {len(index)}"
        )
    position = {int(r): i for i, r in enumerate(index)}
    missing = [int(r) for r in rows if int(r) not in position]
    if missing:
        raise HDF5ContractError(
            f"{metrics_path}: no validation logits for features rows {missing[:10]}"
            f"{' ...' if len(missing) > 10 else ''} (not in val_index)"
        )
    picked = logits[[position[int(r)] for r in rows]] if len(rows) else logits[:0]
    if picked.shape[1] == 1:
        return np.asarray(picked[:, 0] > 0, dtype=np.int64)
    return np.asarray(np.argmax(picked, axis=1), dtype=np.int64)


def stratified_draw(labels: np.ndarray, size: int, num_classes: int, rng: np.random.Generator) -> np.ndarray:
    """Positions into ``labels`` of a stratified draw without replacement (see module docstring).

    Parameters
    ----------
    labels
        int (sample,) class of each candidate.
    size
        Requested number of rows; all candidates are returned when there are fewer.
    num_classes
        Number of classes the draw should cover.
    rng
        Random generator (the only source of randomness).

    Returns
    -------
    numpy.ndarray
        int64 positions, unordered, ``min(size, len(labels))`` of them.
    """
    if size < 1:
        raise ValueError(f"background size must be >= 1, not {size}")
    n = min(size, len(labels))
    present = [c for c in range(num_classes) if np.any(labels == c)]
    absent = [c for c in range(num_classes) if c not in present]
    if absent:
        log.warning("background: classes %s have no training samples and cannot be covered", absent)
    if n < len(present):
        log.warning(
            "background: %d samples cannot cover %d classes; one sample of %d random classes",
            n,
            len(present),
            n,
        )
        chosen = rng.choice(np.asarray(present), size=n, replace=False)
        return np.asarray([rng.choice(np.flatnonzero(labels == c)) for c in sorted(chosen)], dtype=np.int64)
    quota = n // len(present) if present else 0
    picks = [
        rng.choice(idx, size=min(quota, len(idx)), replace=False)
        for idx in (np.flatnonzero(labels == c) for c in present)
    ]
    taken = np.concatenate(picks).astype(np.int64) if picks else np.zeros(0, np.int64)
    pool = np.setdiff1d(np.arange(len(labels)), taken)
    rest = rng.choice(pool, size=n - len(taken), replace=False)
    return np.concatenate([taken, rest]).astype(np.int64)


def assign_chunks(count: int, num_chunks: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Shuffle ``count`` rows and split them into ``num_chunks`` nearly equal chunks.

    Returns
    -------
    tuple of numpy.ndarray
        ``order`` (a permutation of 0..count-1) and ``chunk`` int64 (count,) of the reordered rows,
        non-decreasing, from ``numpy.array_split``.
    """
    order = rng.permutation(count)
    chunk = np.concatenate(
        [np.full(len(part), i, dtype=np.int64) for i, part in enumerate(np.array_split(order, num_chunks))]
    )
    return order.astype(np.int64), chunk


def draw_background(
    split: np.ndarray, label: np.ndarray, num_classes: int, size: int, chunk_size: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Rows of ``features.h5`` forming the background and their chunk.

    Returns
    -------
    tuple of numpy.ndarray
        ``rows`` int64 (background,) into ``features.h5`` and ``chunk`` int64 (background,),
        ordered by chunk.
    """
    if chunk_size < 1:
        raise ValueError(f"background chunk size must be >= 1, not {chunk_size}")
    train = np.flatnonzero(split == "train")
    if len(train) == 0:
        raise ValueError("background: the training split is empty")
    if len(train) < size:
        log.warning("background: only %d training samples (< size %d); all are used", len(train), size)
    rng = np.random.default_rng(seed)
    rows = train[stratified_draw(label[train], size, num_classes, rng)]
    num_chunks = math.ceil(size / chunk_size)
    if len(rows) < num_chunks:
        log.warning("background: %d samples for %d chunks; some chunks are empty", len(rows), num_chunks)
    order, chunk = assign_chunks(len(rows), num_chunks, rng)
    return rows[order], chunk


__all__ = [
    "ExplainParams",
    "assign_chunks",
    "choose_explain_rows",
    "draw_background",
    "stratified_draw",
]
