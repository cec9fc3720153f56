"""Trivial attribution baselines that any explanation method must beat.

:func:`motion_energy` is a "motion detector": each key point's input speed, with no model at
all. On a benchmark whose ground truth it can recover, the ground truth measures the data,
not the explainers (see ``docs/ground-truth.md``).
"""

from __future__ import annotations

import numpy as np

COORD_DIMS = ("sample", "channel", "frame", "joint", "person")
"""Axes of the coordinates :func:`motion_energy` reads (``windows.h5``'s layout)."""


def motion_energy(coords: np.ndarray) -> np.ndarray:
    """Each key point's input speed per frame: a model-free "what moves" map.

    Parameters
    ----------
    coords
        Coordinates, shape (sample, channel, frame, joint, person), as in ``windows.h5``
        (or the first ``channel`` channels of the ``joint`` feature group of ``features.h5``,
        which are the coordinates). A person whose coordinates are all zero in a frame is
        absent there (the padding convention of ``windows.h5``).

    Returns
    -------
    numpy.ndarray
        float32 (sample, frame, joint): ``||x(t+1) - x(t)||`` over channels, summed over the
        persons present in both frames ``t`` and ``t + 1``; the last frame repeats the one
        before it (a speed has one value fewer than positions), so the map has the input's
        frame count. Nonnegative and finite for finite input.
    """
    x = np.asarray(coords, dtype=np.float64)
    if x.ndim != len(COORD_DIMS):
        raise ValueError(f"motion_energy: coordinates must be ({', '.join(COORD_DIMS)}), got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError("motion_energy: coordinates contain NaN or inf")
    samples, _, frames, joints, _ = x.shape
    if frames < 2:
        return np.zeros((samples, frames, joints), dtype=np.float32)
    present = np.any(x != 0.0, axis=1)  # (sample, frame, joint, person)
    step = np.linalg.norm(np.diff(x, axis=2), axis=1)  # (sample, frame - 1, joint, person)
    step = np.where(present[:, 1:] & present[:, :-1], step, 0.0).sum(axis=-1)
    out = np.concatenate([step, step[:, -1:]], axis=1)
    return np.asarray(out, dtype=np.float32)
