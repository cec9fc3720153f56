"""Model-reliance oracle: does the trained model use each class's planted joints?

A ground-truth score is only meaningful for a class whose model actually relies on the
planted joints (a class can also be learnt "by elimination", from the other classes'
evidence). For every class the oracle *isolates* key points, i.e. removes their motion, and
measures that class's top-1 accuracy:

isolation
    Removes what the key points carry about the class, in one of two modes:

    * ``transplant`` (default): every feature of the isolated key points is taken from a
      sample of another class, drawn at random (:func:`transplant`). On the synthetic sets those
      joints then move like distractors: same speed, no class signature; the input stays inside
      the training distribution.
    * ``freeze``: the position groups (``joint``, ``bone``) are replaced by their mean over the
      sample's present frames (the key point frozen at its average position; absent frames stay
      0), the motion groups (``velocity``, ``acceleration``) by 0 (:func:`isolate`). Frozen limbs
      never occur in the synthetic training data, so this input is out of distribution.

verified
    A class is verified when all three hold (thresholds :data:`MIN_ACCURACY`,
    :data:`PLANTED_MARGIN`, :data:`RANDOM_MAX_DROP`):

    * the model recognises it: accuracy ``>= MIN_ACCURACY``;
    * isolating its planted joints drops its accuracy to chance or below:
      ``accuracy_planted <= 1 / classes + PLANTED_MARGIN``;
    * isolating as many non-planted key points the same way, drawn at random (``repeats`` seeded draws,
      uniform over all non-planted key points), does not: ``mean accuracy_random >=
      accuracy - RANDOM_MAX_DROP``.

A class that fails is "unverified"; :func:`verified_truth` leaves it out of the ground-truth
scores and the oracle table reports its numbers.

Known limit: when each class has planted joints of its own (``synthetic.planted_sets:
per_class``), isolating a class's joints leaves no class evidence at all, and a classifier must
still answer one of its classes. A class that is the model's answer to "no evidence" (in a binary
task, one of the two always is, unless the model sits on its threshold) keeps its accuracy and is
reported unverified: it is recognised by elimination. The default synthetic design
(``planted_sets: shared``) plants every class on the same joints with its own signature, so the
transplant brings another class's evidence and no class can be recognised by elimination
(docs/ground-truth.md).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd
import torch

from ..explain.jobs import group_tensors, load_job_model
from ..explain.sampling import read_feature_rows, read_sample_table
from .ground_truth import read_ground_truth
from .sources import read_dataset_info
from .tables import write_csv

log = logging.getLogger(__name__)

PathLike = str | os.PathLike[str]

MIN_ACCURACY = 0.75
"""A class must be recognised at least this often without isolation."""
PLANTED_MARGIN = 0.10
"""Isolating the planted joints must leave an accuracy of at most chance plus this."""
RANDOM_MAX_DROP = 0.20
"""Isolating as many random non-planted key points may lower the accuracy by at most this."""
REPEATS = 10
"""Random non-planted selections per class."""
MOTION_GROUPS = frozenset({"velocity", "acceleration"})
"""Feature groups that describe motion (isolated to 0); the others hold positions (time mean)."""

ORACLE_COLUMNS = (
    "class",
    "label",
    "planted",
    "n_samples",
    "chance",
    "accuracy",
    "accuracy_planted",
    "accuracy_random_mean",
    "accuracy_random_min",
    "verified",
    "reason",
)

Predict = Callable[[np.ndarray], np.ndarray]
"""(sample, group, channel, frame, joint, person) features -> (sample,) predicted labels."""


def isolate(features: np.ndarray, joints: Sequence[int], groups: Sequence[str]) -> np.ndarray:
    """Copy of ``features`` with ``joints`` isolated (see the module docstring).

    Parameters
    ----------
    features
        (sample, group, channel, frame, joint, person).
    joints
        Key points to isolate.
    groups
        Name of each feature group (``features.h5``'s ``groups`` attribute).
    """
    x = np.array(features, dtype=np.float32, copy=True)
    if x.ndim != 6 or x.shape[1] != len(groups):
        raise ValueError(
            f"isolate: features must be (sample, group, channel, frame, joint, person) with "
            f"{len(groups)} groups, got shape {x.shape}"
        )
    j = list(joints)
    if not j:
        return x
    part = x[..., j, :].astype(np.float64)  # (sample, group, channel, frame, k, person)
    present = np.any(part != 0.0, axis=(1, 2), keepdims=True)  # (sample, 1, 1, frame, k, person)
    count = present.sum(axis=3, keepdims=True)
    mean = np.where(present, part, 0.0).sum(axis=3, keepdims=True) / np.maximum(count, 1)
    frozen = np.where(present, mean, 0.0)
    motion = np.array([g in MOTION_GROUPS for g in groups])
    frozen[:, motion] = 0.0
    x[..., j, :] = frozen.astype(np.float32)
    return x


def transplant(
    features: np.ndarray, joints: Sequence[int], donors: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Copy of ``features`` whose ``joints`` come from randomly paired donor samples.

    Each sample takes every feature of ``joints`` from one donor drawn at random (with
    replacement) from ``donors`` (sample, group, channel, frame, joint, person): samples of the
    *other* classes, where those joints carry no evidence for this class (on the synthetic sets
    they move as distractors)."""
    x = np.array(features, dtype=np.float32, copy=True)
    j = list(joints)
    if not j or len(x) == 0:
        return x
    if len(donors) == 0:
        raise ValueError("transplant: no donor samples (the other classes have none)")
    pick = rng.integers(0, len(donors), size=len(x))
    x[..., j, :] = donors[pick][..., j, :]
    return x


def _removed(
    x: np.ndarray,
    joints: Sequence[int],
    groups: Sequence[str],
    donors: np.ndarray,
    rng: np.random.Generator,
    mode: str,
) -> np.ndarray:
    """``x`` with ``joints`` isolated in ``mode``."""
    if mode == "freeze":
        return isolate(x, joints, groups)
    return transplant(x, joints, donors, rng)


def _accuracy(predict: Predict, features: np.ndarray, label: int) -> float:
    return float(np.mean(np.asarray(predict(features)) == label))


def model_reliance_oracle(
    predict: Predict,
    features: np.ndarray,
    labels: np.ndarray,
    truth: Mapping[int, Sequence[int]],
    groups: Sequence[str],
    class_names: Sequence[str],
    joint_names: Sequence[str],
    seed: int = 0,
    repeats: int = REPEATS,
    mode: str = "transplant",
) -> pd.DataFrame:
    """Verify per class that the model relies on the planted joints (module docstring).

    Parameters
    ----------
    predict
        Features -> predicted labels (one batch of any size).
    features
        (sample, group, channel, frame, joint, person) of the samples to test (for example the
        validation split).
    labels
        True label per sample.
    truth
        Label -> planted joint indices.
    groups
        Feature group names.
    class_names, joint_names
        For the table.
    seed
        Seed of the random non-planted selections (one stream per class).
    repeats
        Random selections per class.
    mode
        ``transplant`` (default): isolated key points take their features from random samples
        of the other classes (:func:`transplant`); ``freeze``: :func:`isolate` (still at the
        mean position).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`ORACLE_COLUMNS`, one row per class of ``truth`` (a class without samples
        is unverified with reason ``no samples``).
    """
    if mode not in ("transplant", "freeze"):
        raise ValueError(f"oracle mode must be 'transplant' or 'freeze', not {mode!r}")
    labels = np.asarray(labels)
    joints = features.shape[4]
    chance = 1.0 / len(class_names)
    rows = []
    for label in sorted(truth):
        planted = [int(j) for j in truth[label]]
        x = features[labels == label]
        row: dict[str, object] = {
            "class": class_names[label],
            "label": label,
            "planted": ";".join(joint_names[j] for j in planted),
            "n_samples": len(x),
            "chance": chance,
        }
        donors = features[labels != label]
        missing = "no samples" if len(x) == 0 else ""
        if not missing and mode == "transplant" and len(donors) == 0:
            missing = "no samples of other classes to transplant from"
        if missing:
            row.update(
                accuracy=np.nan,
                accuracy_planted=np.nan,
                accuracy_random_mean=np.nan,
                accuracy_random_min=np.nan,
                verified=False,
                reason=missing,
            )
            rows.append(row)
            continue
        rng = np.random.default_rng([seed, 7, label])
        others = np.setdiff1d(np.arange(joints), planted)
        acc = _accuracy(predict, x, label)
        acc_planted = _accuracy(predict, _removed(x, planted, groups, donors, rng, mode), label)
        acc_random = [
            _accuracy(
                predict,
                _removed(
                    x,
                    rng.choice(others, size=len(planted), replace=False).tolist(),
                    groups,
                    donors,
                    rng,
                    mode,
                ),
                label,
            )
            for _ in range(repeats)
        ]
        reasons = []
        if acc < MIN_ACCURACY:
            reasons.append(f"accuracy {acc:.2f} < {MIN_ACCURACY}")
        if acc_planted > chance + PLANTED_MARGIN:
            reasons.append(f"planted isolated {acc_planted:.2f} > chance {chance:.2f} + {PLANTED_MARGIN}")
        if np.mean(acc_random) < acc - RANDOM_MAX_DROP:
            reasons.append(f"random isolated {np.mean(acc_random):.2f} < {acc:.2f} - {RANDOM_MAX_DROP}")
        row.update(
            accuracy=acc,
            accuracy_planted=acc_planted,
            accuracy_random_mean=float(np.mean(acc_random)),
            accuracy_random_min=float(np.min(acc_random)),
            verified=not reasons,
            reason="; ".join(reasons),
        )
        rows.append(row)
    table = pd.DataFrame(rows, columns=list(ORACLE_COLUMNS))
    for r in table.itertuples():
        if not r.verified:
            log.warning("oracle: class %s unverified (%s)", r[1], r.reason)
    return table


def verified_truth(truth: Mapping[int, Sequence[int]], oracle: pd.DataFrame) -> dict[int, tuple[int, ...]]:
    """The ground truth restricted to the classes the oracle verified."""
    ok = {int(label) for label, v in zip(oracle["label"], oracle["verified"], strict=True) if bool(v)}
    return {label: tuple(j) for label, j in truth.items() if label in ok}


def torch_predictor(model: object, device: str = "cpu", batch_size: int = 128) -> Predict:
    """A :data:`Predict` running a harxai model (list of per-group tensors -> logits) in batches."""

    def predict(features: np.ndarray) -> np.ndarray:
        out = []
        with torch.no_grad():
            for start in range(0, len(features), batch_size):
                logits = model(*group_tensors(features[start : start + batch_size], device))  # type: ignore[operator]
                out.append(_predicted(logits.detach().cpu().numpy()))
        return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)

    return predict


def _predicted(logits: np.ndarray) -> np.ndarray:
    """Labels from logits: (sample, class) argmax, or (sample,)/(sample, 1) binary logit > 0."""
    if logits.ndim == 1 or logits.shape[1] == 1:
        return (logits.reshape(-1) > 0).astype(np.int64)
    return np.asarray(logits.argmax(axis=1), dtype=np.int64)


def run_model_reliance_oracle(
    *,
    model_path: PathLike,
    features_path: PathLike,
    ground_truth_path: PathLike,
    output_csv: PathLike,
    split: str = "val",
    seed: int = 0,
    repeats: int = REPEATS,
    mode: str = "transplant",
    device: torch.device | str = "cpu",
) -> pd.DataFrame:
    """The oracle table of a trained model on one split of ``features.h5``, written to ``output_csv``."""
    info = read_dataset_info(features_path)
    table = read_sample_table(features_path)
    rows = np.flatnonzero(np.asarray(table.split).astype(str) == split)
    if rows.size == 0:
        raise ValueError(f"{features_path}: no samples in split {split!r}")
    features = read_feature_rows(features_path, rows)
    labels = table.label[rows]
    raw = table.attrs["groups"]
    raw = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    groups = [str(g) for g in (json.loads(raw) if isinstance(raw, str) else raw)]
    truth = read_ground_truth(ground_truth_path, info.class_names, info.layout.num_joints)
    model = load_job_model(model_path, device)
    oracle = model_reliance_oracle(
        torch_predictor(model, str(device)),
        features,
        labels,
        truth,
        groups,
        info.class_names,
        info.layout.joints,
        seed=seed,
        repeats=repeats,
        mode=mode,
    )
    write_csv(oracle, output_csv)
    return oracle
