"""Job entry points of the data rules (rules/data.smk), one per rule and named after it.

Each delegates to the stage module that holds the logic, so that a rule ``X`` is found as
``harxai.data.jobs.X``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from .. import features, preprocess, synthetic
from ..io import ingest

PathLike = str | os.PathLike[str]


def generate_synthetic(out_dir: PathLike, params: Mapping[str, Any], seed: int) -> None:
    """Rule generate_synthetic: a synthetic dataset in a real raw format
    (:func:`harxai.synthetic.generate_synthetic`)."""
    synthetic.generate_synthetic(out_dir=out_dir, params=params, seed=seed)


def ingest_dataset(spec: Mapping[str, Any], layout: Mapping[str, Any], output: str, threads: int = 1) -> None:
    """Rule ingest_dataset: raw skeleton files -> ``sequences.h5`` with ``threads`` reader
    processes (:func:`harxai.io.ingest.ingest_dataset`)."""
    ingest.ingest_dataset(spec=spec, layout=layout, output=output, threads=threads)


def preprocess_sequences(
    input_path: PathLike,
    output_path: PathLike,
    params: Mapping[str, Any],
    segment: str,
    rejected_path: PathLike | None = None,
    on_bad_recording: str = "skip",
) -> None:
    """Rule preprocess_sequences: ``sequences.h5`` -> ``windows.h5`` and ``rejected.csv``.

    See :func:`harxai.preprocess.preprocess_file`.
    """
    preprocess.preprocess_file(
        input_path=input_path,
        output_path=output_path,
        params=params,
        segment=segment,
        rejected_path=rejected_path,
        on_bad_recording=on_bad_recording,
    )


def compute_features(input_path: PathLike, output_path: PathLike, params: Mapping[str, Any]) -> None:
    """Rule compute_features: ``windows.h5`` -> ``features.h5`` (:func:`harxai.features.compute_feature_file`)."""
    features.compute_feature_file(input_path=input_path, output_path=output_path, params=params)
