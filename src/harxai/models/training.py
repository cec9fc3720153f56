"""Training, checkpoint loading and validation of the multi-branch GCN (rules train_model, load_model).

Training follows EfficientGCN / the seed study in spirit: SGD with Nesterov momentum, a
linear warm-up then a cosine learning-rate schedule, cross-entropy on the training split,
and model selection on the validation split (multiclass: top-1 accuracy; binary:
recording-level AUC; ties broken by the validation loss). The reported validation metrics
therefore come from the split used for model selection, as in the seed study (val27).
Before each validation the batch-norm running statistics are recomputed on training rows
("precise BN"; see :class:`TrainSettings`). On CPU the run is deterministic for a given
seed and thread count.
"""

from __future__ import annotations

import contextlib
import copy
import itertools
import logging
import math
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
from functools import partial
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import torch
from torch import nn

from ..config import FEATURE_GROUPS
from ..io.contracts import FEATURE_SET, METRICS
from ..metrics import aggregate_recordings, evaluate_predictions, probabilities
from .checkpoint import check_against_declared, read_checkpoint, save_checkpoint
from .external import (
    DEFAULT_STRIP_PREFIXES,
    ExternalModelError,
    build_external,
    external_spec,
    is_external,
    load_external_weights,
    read_external_state_dict,
)
from .network import build_model
from .presets import make_architecture

log = logging.getLogger(__name__)

IN_MEMORY_BYTES = 1 << 30  # larger feature arrays are read from the file batch by batch (bounded memory)
HISTORY_KEYS = ("train_loss", "train_accuracy", "val_loss", "val_score", "lr", "seconds")


@dataclass(frozen=True)
class TrainSettings:
    """Model and training settings (the resolved ``model:`` config section).

    Attributes
    ----------
    preset, attention, graph_residual, dropout
        Architecture choices (see :mod:`harxai.models.presets`).
    epochs, batch_size, learning_rate, weight_decay
        SGD (Nesterov momentum ``momentum``) with a linear warm-up over the first
        ``warmup_fraction`` of the steps (at most one epoch) and a cosine decay to zero.
    max_train_seconds
        Stop after the epoch that passes this many seconds (best epoch kept); None: no limit.
    threshold
        Decision threshold on P(positive) for binary tasks.
    eval_batch_size
        Samples per forward pass when predicting.
    bn_calibration_samples
        Training samples (evenly spaced) whose batch statistics replace the running
        statistics of every batch normalisation before each validation ("precise BN",
        Wu & Johnson 2021). Small synthetic sets give a few optimiser steps per epoch, too
        few for the exponential running averages to forget their initial values, and the
        softmax joint gate shrinks activations by about 1/joints.
    """

    preset: str = "tiny"
    attention: str = "joint"
    graph_residual: bool = False
    dropout: float = 0.2
    epochs: int = 30
    batch_size: int = 16
    learning_rate: float = 0.05
    weight_decay: float = 1e-4
    max_train_seconds: float | None = None
    threshold: float = 0.45
    momentum: float = 0.9
    warmup_fraction: float = 0.1
    eval_batch_size: int = 64
    bn_calibration_samples: int = 512

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> TrainSettings:
        """Settings from the rule's model params (unknown keys such as name/checkpoint are ignored)."""
        names = {f.name for f in fields(cls)}
        kept = {k: v for k, v in params.items() if k in names and (v is not None or k == "max_train_seconds")}
        return cls(**kept)


@dataclass
class FeatureSet:
    """The rows of ``features.h5`` a model needs, read lazily for large files.

    Attributes
    ----------
    path
        The file.
    shape
        Of ``features``: (sample, group, channel, frame, joint, person).
    label, recording_id, split
        Shape (sample,).
    group_index
        Position in the file's group axis of joint, velocity, bone, acceleration.
    layout, class_names, task
        From the file attributes.
    """

    path: Path
    shape: tuple[int, ...]
    label: np.ndarray
    recording_id: np.ndarray
    split: np.ndarray
    group_index: tuple[int, ...]
    layout: dict[str, Any]
    class_names: list[str]
    task: str
    _array: np.ndarray | None = field(default=None, repr=False)
    _file: h5py.File | None = field(default=None, repr=False)

    def indices(self, split: str) -> np.ndarray:
        """Row indices of one split ("train" or "val"), increasing."""
        return np.flatnonzero(self.split == split)

    def rows(self, index: np.ndarray) -> np.ndarray:
        """Features of some rows, (sample, group, channel, frame, joint, person) float32."""
        if self._array is not None:
            return self._array[index]
        if self._file is None:
            self._file = h5py.File(self.path, "r")
        order = np.argsort(index)
        data = np.asarray(self._file["features"][index[order]], dtype=np.float32)
        FEATURE_SET.check_rows(self.path, "features", data)
        out = np.empty_like(data)
        out[order] = data
        return out

    def tensors(self, index: np.ndarray, device: torch.device) -> list[torch.Tensor]:
        """The four model inputs of some rows, each (sample, channel, frame, joint, person)."""
        batch = torch.from_numpy(self.rows(index)).to(device)
        return [batch[:, g] for g in self.group_index]

    def close(self) -> None:
        """Close the HDF5 file when rows were read lazily."""
        if self._file is not None:
            self._file.close()
            self._file = None


def read_features(path: str | os.PathLike[str], max_bytes: int = IN_MEMORY_BYTES) -> FeatureSet:
    """Read the metadata of ``features.h5`` and (when smaller than ``max_bytes``) its features.

    Raises
    ------
    harxai.io.HDF5ContractError, ValueError
        Naming the file when datasets, dims, groups or attributes do not match the contract.
    """
    p = Path(path)
    meta = FEATURE_SET.read(p, load=("label", "recording_id", "split"))
    with h5py.File(p, "r") as fh:
        ds = fh["features"]
        shape = tuple(int(s) for s in ds.shape)
        array = np.asarray(ds[()], dtype=np.float32) if ds.size * 4 <= max_bytes else None
    if array is not None:
        FEATURE_SET.check_rows(p, "features", array)
    groups = list(meta.json_attr("groups"))
    missing = [g for g in FEATURE_GROUPS if g not in groups]
    if missing or len(groups) != shape[1]:
        raise ValueError(f"{p}: attribute groups {groups} does not hold {list(FEATURE_GROUPS)} once each")
    task = str(meta.attrs.get("task", ""))
    if task not in ("multiclass", "binary"):
        raise ValueError(f"{p}: attribute task is {task!r}, expected multiclass or binary")
    return FeatureSet(
        path=p,
        shape=shape,
        label=meta["label"].astype(np.int64),
        recording_id=meta["recording_id"].astype(str),
        split=meta["split"].astype(str),
        group_index=tuple(groups.index(g) for g in FEATURE_GROUPS),
        layout=dict(meta.json_attr("layout")),
        class_names=[str(c) for c in meta.json_attr("class_names")],
        task=task,
        _array=array,
    )


def declared_architecture(features: FeatureSet, settings: TrainSettings) -> dict[str, Any]:
    """Architecture dict of the configured preset for a feature file."""
    channels = features.shape[2]
    return make_architecture(
        settings.preset,
        attention=settings.attention,
        dropout=settings.dropout,
        in_channels=dict.fromkeys(FEATURE_GROUPS, channels),
        layout=features.layout,
        num_classes=len(features.class_names),
        graph_residual=settings.graph_residual,
    )


def data_sizes(features: FeatureSet) -> dict[str, int]:
    """Sizes an external model's ``auto_kwargs`` may ask for (channels of one feature group...)."""
    _, _, channels, frames, joints, persons = features.shape
    return {
        "in_channels": int(channels),
        "num_classes": len(features.class_names),
        "num_joints": int(joints),
        "num_persons": int(persons),
        "num_frames": int(frames),
    }


def declared_model(
    features: FeatureSet, settings: TrainSettings, params: Mapping[str, Any]
) -> tuple[nn.Module, dict[str, Any]]:
    """A freshly initialised model of the settings and its architecture dict (preset or external).

    An external model (``params["factory"]`` set) is built by its factory and checked with one
    forward pass on two rows: the logits must be (sample, number of classes).
    """
    if not is_external(params):
        architecture = declared_architecture(features, settings)
        return build_model(architecture), architecture
    model = build_external(external_spec(params), data_sizes(features))
    architecture = {
        "external": model.spec,
        "layout": dict(features.layout),
        "num_classes": len(features.class_names),
        "num_joints": int(features.shape[4]),
    }
    probe = np.arange(min(2, features.shape[0]))
    was_training = model.training
    model.eval()
    with torch.no_grad():
        logits = model(*features.tensors(probe, torch.device("cpu")))
    model.train(was_training)
    if logits.shape[1] != len(features.class_names):
        raise ExternalModelError(
            f"{model.spec['factory']}: the model gives {logits.shape[1]} logits but {features.path} has "
            f"{len(features.class_names)} classes (set num_classes in model.kwargs or model.auto_kwargs)"
        )
    return model, architecture


def _check_splits(features: FeatureSet, need_train: bool) -> tuple[np.ndarray, np.ndarray]:
    train, val = features.indices("train"), features.indices("val")
    if need_train and train.size < 2:
        raise ValueError(f"{features.path}: {train.size} training samples (split 'train'); need at least 2")
    if val.size == 0:
        raise ValueError(f"{features.path}: no validation samples (split 'val')")
    n_classes = len(features.class_names)
    bad = np.flatnonzero((features.label < 0) | (features.label >= n_classes))
    if bad.size:
        raise ValueError(
            f"{features.path}: label {features.label[bad[0]]} of row {bad[0]} outside 0..{n_classes - 1}"
        )
    return train, val


def predict(
    model: nn.Module, features: FeatureSet, index: np.ndarray, device: torch.device, batch_size: int = 64
) -> np.ndarray:
    """Logits of some rows, shape (sample, class), with the model in eval mode."""
    model.eval()
    out = []
    with torch.no_grad():
        for start in range(0, index.size, batch_size):
            out.append(model(*features.tensors(index[start : start + batch_size], device)).cpu().numpy())
    return np.concatenate(out, axis=0).astype(np.float32)


def recalibrate_batch_norm(
    model: nn.Module, features: FeatureSet, index: np.ndarray, device: torch.device, batch_size: int
) -> None:
    """Replace every batch normalisation's running statistics by the average over ``index`` rows.

    The model runs in train mode without gradients; each module's statistics become the
    cumulative average of its batch statistics over the batches (batches of one sample
    are skipped). Leaves the model in eval mode.
    """
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None
    model.train()
    try:
        with torch.no_grad():
            for start in range(0, index.size, batch_size):
                batch = index[start : start + batch_size]
                if batch.size > 1:
                    model(*features.tensors(batch, device))
    finally:
        for m, momentum in zip(norms, momenta, strict=True):
            m.momentum = momentum
        model.eval()


def _calibration_rows(train: np.ndarray, count: int) -> np.ndarray:
    """At most ``count`` evenly spaced training rows (all of them for small sets)."""
    if train.size <= count:
        return train
    return train[np.unique(np.linspace(0, train.size - 1, count).round().astype(np.int64))]


def _batches(n: int, batch_size: int, generator: torch.Generator) -> Iterator[np.ndarray]:
    """Shuffled batches of 0..n-1; a last batch of one sample joins the one before (batch norm)."""
    perm = torch.randperm(n, generator=generator).numpy()
    bounds = [*range(0, n, batch_size), n]
    if len(bounds) > 2 and bounds[-1] - bounds[-2] == 1:
        bounds.pop(-2)
    for a, b in itertools.pairwise(bounds):
        yield perm[a:b]


def _lr_factor(step: int, warmup: int, total: int) -> float:
    """Linear warm-up over ``warmup`` steps, then cosine decay to zero at ``total``."""
    if step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(total - warmup, 1)
    return 0.5 * (1.0 + math.cos(math.pi * min(progress, 1.0)))


@dataclass
class FitResult:
    """Outcome of :func:`fit`: the selected state, its epoch and the per-epoch history."""

    state_dict: dict[str, torch.Tensor]
    best_epoch: int
    history: dict[str, list[float]]
    seconds: float


def _metric_name(task: str) -> str:
    return "top1" if task == "multiclass" else "recording_auc"


def _selection_score(task: str, metrics: Mapping[str, Any], val_loss: float) -> tuple[float, float]:
    value = metrics.get(_metric_name(task))
    return (-math.inf if value is None else float(value), -val_loss)


def _train_epoch(
    model: nn.Module,
    features: FeatureSet,
    train: np.ndarray,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    settings: TrainSettings,
    generator: torch.Generator,
    device: torch.device,
) -> tuple[float, float]:
    """One pass over the shuffled training rows; returns (mean loss, accuracy)."""
    model.train()
    criterion = nn.CrossEntropyLoss()
    total_loss, correct = 0.0, 0
    for batch in _batches(train.size, settings.batch_size, generator):
        index = train[batch]
        target = torch.from_numpy(features.label[index]).to(device)
        optimizer.zero_grad(set_to_none=True)
        logits = model(*features.tensors(index, device))
        loss = criterion(logits, target)
        loss.backward()
        optimizer.step()
        scheduler.step()
        total_loss += float(loss.detach()) * index.size
        correct += int((logits.detach().argmax(1) == target).sum())
    return total_loss / train.size, correct / train.size


def _make_optimizer(
    model: nn.Module, settings: TrainSettings, steps_per_epoch: int
) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler]:
    """SGD with Nesterov momentum and a per-step linear warm-up + cosine schedule."""
    optimizer = torch.optim.SGD(
        model.parameters(),
        lr=settings.learning_rate,
        momentum=settings.momentum,
        nesterov=True,
        weight_decay=settings.weight_decay,
    )
    total = steps_per_epoch * settings.epochs
    warmup = max(1, min(steps_per_epoch, int(settings.warmup_fraction * total)))
    schedule: Callable[[int], float] = partial(_lr_factor, warmup=warmup, total=total)
    return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)


def fit(
    model: nn.Module,
    features: FeatureSet,
    train: np.ndarray,
    val: np.ndarray,
    settings: TrainSettings,
    seed: int,
    device: torch.device,
) -> FitResult:
    """Train with SGD and a warm-up + cosine schedule; keep the best epoch on the validation split.

    After each epoch the batch-norm statistics are recalibrated on training rows (see
    :class:`TrainSettings`), the validation split is predicted, and the state is kept when
    the selection score (top-1 or recording AUC, then lower validation loss) improves.
    """
    generator = torch.Generator().manual_seed(seed)
    steps_per_epoch = len(list(_batches(train.size, settings.batch_size, torch.Generator())))
    optimizer, scheduler = _make_optimizer(model, settings, steps_per_epoch)
    history: dict[str, list[float]] = {k: [] for k in HISTORY_KEYS}
    best: tuple[float, float] = (-math.inf, -math.inf)
    best_state, best_epoch = copy.deepcopy(model.state_dict()), 0
    start = time.monotonic()
    calibration = _calibration_rows(train, settings.bn_calibration_samples)
    for epoch in range(1, settings.epochs + 1):
        t0 = time.monotonic()
        lr = optimizer.param_groups[0]["lr"]
        loss, acc = _train_epoch(model, features, train, optimizer, scheduler, settings, generator, device)
        recalibrate_batch_norm(model, features, calibration, device, settings.eval_batch_size)
        evaluation = _evaluate(model, features, val, settings, device)
        score = _selection_score(features.task, evaluation.metrics, evaluation.loss)
        if score > best:
            best, best_epoch = score, epoch
            best_state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
        took, elapsed = time.monotonic() - t0, time.monotonic() - start
        val_score = score[0] if math.isfinite(score[0]) else math.nan  # undefined score: NaN in metrics.h5
        for key, value in zip(HISTORY_KEYS, (loss, acc, evaluation.loss, val_score, lr, took), strict=True):
            history[key].append(float(value))
        log.info(
            "epoch %d/%d: loss %.4f acc %.3f | val loss %.4f %s %s | lr %.4g | %.1f s, ETA %.0f s%s",
            epoch, settings.epochs, loss, acc, evaluation.loss, _metric_name(features.task),
            _fmt(score[0]), lr, took, elapsed / epoch * (settings.epochs - epoch),
            " (best)" if best_epoch == epoch else "",
        )  # fmt: skip
        if settings.max_train_seconds is not None and elapsed > settings.max_train_seconds:
            log.warning(
                "stopping after epoch %d: max_train_seconds %s reached", epoch, settings.max_train_seconds
            )
            break
    log.info("selected epoch %d (%s %s)", best_epoch, _metric_name(features.task), _fmt(best[0]))
    return FitResult(best_state, best_epoch, history, time.monotonic() - start)


def _fmt(value: Any) -> str:
    return (
        "n/a" if value is None or (isinstance(value, float) and not math.isfinite(value)) else f"{value:.3f}"
    )


@dataclass(frozen=True)
class _Evaluation:
    logits: np.ndarray
    loss: float
    metrics: dict[str, Any]


def _evaluate(
    model: nn.Module, features: FeatureSet, val: np.ndarray, settings: TrainSettings, device: torch.device
) -> _Evaluation:
    """Validation logits (sample, class), mean cross-entropy and metrics."""
    logits = predict(model, features, val, device, settings.eval_batch_size)
    labels = features.label[val]
    loss = float(nn.functional.cross_entropy(torch.from_numpy(logits), torch.from_numpy(labels)))
    metrics = evaluate_predictions(
        features.task, logits, labels, features.recording_id[val], settings.threshold
    )
    return _Evaluation(logits, loss, metrics)


def write_metrics(
    path: str | os.PathLike[str],
    features: FeatureSet,
    val: np.ndarray,
    evaluation: _Evaluation,
    *,
    params: Mapping[str, Any],
    seed: int,
    inputs: Sequence[str | os.PathLike[str]],
    history: Mapping[str, Sequence[float]] | None = None,
    attrs: Mapping[str, Any] | None = None,
) -> None:
    """Write ``metrics.h5``.

    Datasets: ``val_logits`` (sample, class), ``val_label``, ``val_recording_id``,
    ``val_index`` (sample,) (rows of features.h5); binary tasks add ``recordings/id``,
    ``recordings/probability`` (median P(positive)), ``recordings/label`` and
    ``recordings/windows`` (recording,); training adds ``history/<name>`` (step,) per epoch
    (train_loss, train_accuracy, val_loss, val_score, lr, seconds). Attributes: ``metrics``
    (JSON, see :func:`harxai.metrics.evaluate_predictions`), ``task``, ``class_names`` and
    the ``attrs`` given.
    """
    labels = features.label[val]
    arrays: dict[str, np.ndarray] = {
        "val_logits": evaluation.logits,
        "val_label": labels,
        "val_recording_id": features.recording_id[val],
        "val_index": val.astype(np.int64),
    }
    if features.task == "binary":
        rec = aggregate_recordings(probabilities(evaluation.logits)[:, 1], labels, features.recording_id[val])
        arrays["recordings/id"] = rec.recording_id
        arrays["recordings/probability"] = rec.probability
        arrays["recordings/label"] = rec.label
        arrays["recordings/windows"] = rec.windows
    for key, values in (history or {}).items():
        arrays[f"history/{key}"] = np.asarray(values, dtype=np.float64)
    all_attrs = {"metrics": evaluation.metrics, "task": features.task, "class_names": features.class_names}
    all_attrs.update(attrs or {})
    METRICS.write(path, arrays, config=dict(params), inputs=inputs, seed=seed, attrs=all_attrs)


@contextlib.contextmanager
def deterministic(device: torch.device) -> Iterator[None]:
    """Deterministic algorithms on CPU for the duration of the block (previous setting restored)."""
    previous = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(device.type == "cpu" or previous)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(previous)


def train_from_features(
    features_path: str | os.PathLike[str],
    model_path: str | os.PathLike[str],
    metrics_path: str | os.PathLike[str],
    params: Mapping[str, Any],
    seed: int,
    device: torch.device,
    threads: int,
) -> None:
    """Rule train_model: train on the training split, select on validation, write model.pt and metrics.h5.

    Parameters
    ----------
    features_path
        ``features.h5`` (features (sample, group, channel, frame, joint, person), label,
        recording_id, split; attributes layout, class_names, task, groups).
    model_path, metrics_path
        Outputs (see :func:`harxai.models.checkpoint.save_checkpoint`, :func:`write_metrics`).
    params
        The resolved model settings (see :class:`TrainSettings`).
    seed
        Seeds weight initialisation, shuffling and dropout.
    device
        From :func:`harxai.devices.select_device`.
    threads
        CPU threads for torch.
    """
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(max(int(threads), 1))
    settings = TrainSettings.from_params(params)
    features = read_features(features_path)
    try:
        train, val = _check_splits(features, need_train=True)
        what = (
            f"external model {params['factory']}" if is_external(params)
            else f"preset {settings.preset} (attention {settings.attention})"
        )  # fmt: skip
        log.info(
            "training %s on %d samples, validating on %d; %d classes; %s, %d threads",
            what, train.size, val.size, len(features.class_names), device, threads,
        )  # fmt: skip
        with deterministic(device):
            torch.manual_seed(seed)
            model, architecture = declared_model(features, settings, params)
            model = model.to(device)
            log.info("model has %d parameters", sum(p.numel() for p in model.parameters()))
            result = fit(model, features, train, val, settings, seed, device)
            model.load_state_dict(result.state_dict)
            evaluation = _evaluate(model, features, val, settings, device)
        log.info("validation metrics of epoch %d: %s", result.best_epoch, evaluation.metrics)
        save_checkpoint(model_path, model, architecture, features.class_names, features.task)
        write_metrics(
            metrics_path, features, val, evaluation, params=params, seed=seed, inputs=[features_path],
            history=result.history,
            attrs={"best_epoch": result.best_epoch, "train_seconds": result.seconds, "device": str(device)},
        )  # fmt: skip
    finally:
        features.close()
        torch.set_num_threads(previous_threads)


def load_from_checkpoint(
    features_path: str | os.PathLike[str],
    checkpoint_path: str | os.PathLike[str],
    model_path: str | os.PathLike[str],
    metrics_path: str | os.PathLike[str],
    params: Mapping[str, Any],
    seed: int,
    device: torch.device,
) -> None:
    """Rule load_model: check a checkpoint against the declared architecture and evaluate it.

    For an external model (``params["factory"]``) the checkpoint is in a field format (see
    :func:`harxai.models.external.read_external_state_dict`, keys ``checkpoint_key`` and
    ``strip_prefixes`` of ``params``) and holds the user's network's weights only.

    The declared architecture comes from the model settings (preset, attention, dropout)
    and the feature file (channels, layout, classes). Any missing/unexpected key, shape
    mismatch, differing architecture field, class name or task is listed in one
    :class:`harxai.models.checkpoint.CheckpointError`. On success the checkpoint's weights
    are written to ``model_path`` with the declared architecture, and its validation
    predictions to ``metrics_path`` (as :func:`train_from_features`, without history).
    """
    settings = TrainSettings.from_params(params)
    features = read_features(features_path)
    try:
        _, val = _check_splits(features, need_train=False)
        if is_external(params):
            model, architecture = declared_model(features, settings, params)
            prefixes = params.get("strip_prefixes")
            prefixes = DEFAULT_STRIP_PREFIXES if prefixes is None else tuple(prefixes)
            state = read_external_state_dict(checkpoint_path, params.get("checkpoint_key"), prefixes)
            load_external_weights(model, state, checkpoint_path, prefixes)  # type: ignore[arg-type]
        else:
            architecture = declared_architecture(features, settings)
            content = read_checkpoint(checkpoint_path)
            model = build_model(architecture)
            check_against_declared(
                content, model, architecture, features.class_names, features.task, checkpoint_path
            )
            model.load_state_dict(content["state_dict"])
        model.to(device)
        evaluation = _evaluate(model, features, val, settings, device)
        log.info("validation metrics of checkpoint %s: %s", checkpoint_path, evaluation.metrics)
        save_checkpoint(model_path, model, architecture, features.class_names, features.task)
        write_metrics(
            metrics_path, features, val, evaluation, params=params, seed=seed,
            inputs=[features_path, checkpoint_path], attrs={"checkpoint": str(checkpoint_path), "device": str(device)},
        )  # fmt: skip
    finally:
        features.close()
