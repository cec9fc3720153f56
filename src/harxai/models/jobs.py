"""Job entry points of the model rules (rules/model.smk), one per rule and named after it.

Each delegates to :mod:`harxai.models.training`, so that a rule ``X`` is found as
``harxai.models.jobs.X``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import torch

from . import training

PathLike = str | os.PathLike[str]


def train_model(
    features_path: PathLike,
    model_path: PathLike,
    metrics_path: PathLike,
    params: Mapping[str, Any],
    seed: int,
    device: torch.device,
    threads: int,
) -> None:
    """Rule train_model: ``features.h5`` -> ``model.pt`` + ``metrics.h5``
    (:func:`harxai.models.training.train_from_features`)."""
    training.train_from_features(
        features_path=features_path,
        model_path=model_path,
        metrics_path=metrics_path,
        params=params,
        seed=seed,
        device=device,
        threads=threads,
    )


def load_model(
    features_path: PathLike,
    checkpoint_path: PathLike,
    model_path: PathLike,
    metrics_path: PathLike,
    params: Mapping[str, Any],
    seed: int,
    device: torch.device,
) -> None:
    """Rule load_model: a checkpoint checked against the declared architecture
    (:func:`harxai.models.training.load_from_checkpoint`)."""
    training.load_from_checkpoint(
        features_path=features_path,
        checkpoint_path=checkpoint_path,
        model_path=model_path,
        metrics_path=metrics_path,
        params=params,
        seed=seed,
        device=device,
    )
