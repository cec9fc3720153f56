"""Entry point of the synthetic benchmark: write a dataset folder atomically."""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Mapping
from typing import Any

import numpy as np

from .. import __version__
from ..io import atomic_directory
from ..skeletons import get_layout
from .design import BurstSpec, ClassDesign, design_classes
from .infant import INFANT_CLASS_NAMES, write_infant_dataset
from .ntu import write_ntu_dataset
from .params import SyntheticParams

log = logging.getLogger(__name__)

NTU_BURST = BurstSpec(duration_s=2.0, start_range_s=(0.5, 1.0), distractor_start_range_s=(0.0, 1.0))
"""Bursts of the NTU-style set: one 2 s burst per clip, inside the shortest clip (3 s)."""

INFANT_BURST = BurstSpec(
    duration_s=1.5, start_range_s=(0.0, 1.0), distractor_start_range_s=(0.0, 2.5), period_s=2.5
)
"""Bursts of the infant set: 1.5 s every 2.5 s (so every 5 s window holds a whole burst)."""


def generate_synthetic(out_dir: str | os.PathLike[str], params: Mapping[str, Any], seed: int) -> None:
    """Generate a synthetic skeleton dataset in a real raw format, with its ground truth.

    Classes differ only by the periodic motion of a few planted limb joints (see
    :func:`harxai.synthetic.design.design_classes`); every other joint follows the same
    class-independent idle motion. Same settings and seed give byte-identical files.

    Parameters
    ----------
    out_dir
        Folder to create (a Snakemake ``directory()`` output). It is written as a temporary
        sibling and renamed into place at the end, so a failure leaves nothing behind.
    params
        ``kind`` (``synthetic_ntu`` or ``synthetic_infant``), ``layout`` and the config
        schema's ``synthetic`` keys (see :class:`SyntheticParams`).
    seed
        Global seed, used when ``params["seed"]`` is None.

    Notes
    -----
    ``synthetic_ntu`` writes ``SsssCcccPpppRrrrAaaa.skeleton`` files (action = label + 1,
    cameras 1-3 for every class) and ``manifest.csv`` (``recording_id,fps``).
    ``synthetic_infant`` writes ``<recording_id>.csv`` key-point tables and ``manifest.csv``
    (``recording_id,label,group,site,fps,split``). Both write ``ground_truth.json``.
    """
    settings = SyntheticParams.from_mapping(params, seed)
    started = time.perf_counter()
    layout = get_layout(settings.layout)
    designs = class_designs(settings)
    with atomic_directory(out_dir) as tmp:
        if settings.kind == "synthetic_ntu":
            count = write_ntu_dataset(tmp, settings, designs)
        else:
            count = write_infant_dataset(tmp, settings, designs)
        truth = {
            "kind": settings.kind,
            "layout": layout.name,
            "seed": settings.seed,
            "classes": [d.to_dict(layout) for d in designs],
            "time": {
                "unit": "seconds from the recording start",
                "segments": "classes[].burst: start_s + n * period_s .. + duration_s (one burst when "
                "period_s is null); classes without burst move for the whole recording",
            },
            "distractors": "every sample also moves every other class's planted joints with the same "
            "peak speed, frequency band and envelope kind, at a frequency away from that class's, along "
            "random directions and (burst classes) at a random time",
            "params": settings.to_dict(),
            "harxai_version": __version__,
        }
        (tmp / "ground_truth.json").write_text(json.dumps(truth, indent=2) + "\n", encoding="utf-8")
    log.info(
        "%s: %d files, classes %s, in %.1f s",
        out_dir,
        count,
        [(d.name, [layout.joints[j] for j in d.joints], d.frequency_hz) for d in designs],
        time.perf_counter() - started,
    )


def class_designs(settings: SyntheticParams) -> tuple[ClassDesign, ...]:
    """The class designs of a dataset (drawn from the seed only)."""
    layout = get_layout(settings.layout)
    rng = np.random.default_rng([settings.seed, 0])
    if settings.kind == "synthetic_ntu":
        names = [f"A{k + 1:03d}" for k in range(settings.num_classes)]
        return design_classes(layout, names, settings.planted_joints, 3, rng, NTU_BURST)
    return design_classes(layout, INFANT_CLASS_NAMES, settings.planted_joints, 2, rng, INFANT_BURST)
