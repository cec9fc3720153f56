"""Spearman correlation of GradCAM maps between layers (seed paper Table 1, Sec. 4.6).

Each layer's map of a sample, shape (frame, joint) at the layer's own frame resolution, is
min-max normalised to [0, 1] over frames and joints (as the paper, following Das et al.), and
reduced to a per-joint vector by the mean over frames. The reduction is a deviation needed to
compare layers whose temporal strides differ (the input branches keep every frame, the main
branch has a coarser frame axis); the paper does not say how it matched the shapes. Spearman's
rho (``scipy.stats.spearmanr``) between a layer's vector and the reference layer's vector is
computed per sample; the table gives the mean, standard deviation, median and quartiles over
samples. Because rho depends only on ranks, the normalisation matters only for the rows that
sum the four input branches' maps of one layer kind (e.g. ``branches.*.init_bn``): each
branch's map is normalised before the sum so that no branch dominates by scale.

Samples where either vector is constant (e.g. a map that is zero everywhere after the ReLU)
have no defined rho; they are left out and counted in ``n_constant``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from .tables import markdown_table

log = logging.getLogger(__name__)

_BRANCH = re.compile(r"^branches\.(?P<group>[^.]+)\.(?P<kind>.+)$")
CORRELATION_COLUMNS = (
    "layer",
    "kind",
    "members",
    "rho_mean",
    "rho_sd",
    "rho_median",
    "rho_q1",
    "rho_q3",
    "n_samples",
    "n_constant",
)


def normalize_maps(maps: np.ndarray) -> np.ndarray:
    """Min-max normalise each sample's map to [0, 1] over all but the first axis.

    A constant map becomes all zeros.

    Parameters
    ----------
    maps
        Shape (sample, frame, joint).
    """
    m = np.asarray(maps, dtype=np.float64)
    axes = tuple(range(1, m.ndim))
    low = m.min(axis=axes, keepdims=True)
    span = m.max(axis=axes, keepdims=True) - low
    out: np.ndarray = np.divide(m - low, span, out=np.zeros_like(m), where=span > 0)
    return out


def joint_profile(maps: np.ndarray) -> np.ndarray:
    """Normalised per-joint vector of each sample: :func:`normalize_maps` then mean over frames.

    Parameters
    ----------
    maps
        Shape (sample, frame, joint).

    Returns
    -------
    numpy.ndarray
        Shape (sample, joint).
    """
    profile: np.ndarray = normalize_maps(maps).mean(axis=1)
    return profile


def spearman_per_sample(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Spearman's rho between the rows of two (sample, joint) arrays; NaN where a row is constant."""
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {a.shape} vs {b.shape}")
    out = np.full(a.shape[0], np.nan)
    for i in range(a.shape[0]):
        if np.ptp(a[i]) > 0 and np.ptp(b[i]) > 0:
            out[i] = stats.spearmanr(a[i], b[i]).statistic
    return out


def _summary(layer: str, kind: str, members: Sequence[str], rho: np.ndarray) -> dict[str, object]:
    valid = rho[np.isfinite(rho)]
    has = len(valid) > 0
    return {
        "layer": layer,
        "kind": kind,
        "members": ";".join(members),
        "rho_mean": float(valid.mean()) if has else np.nan,
        "rho_sd": float(valid.std(ddof=1)) if len(valid) > 1 else np.nan,
        "rho_median": float(np.median(valid)) if has else np.nan,
        "rho_q1": float(np.percentile(valid, 25)) if has else np.nan,
        "rho_q3": float(np.percentile(valid, 75)) if has else np.nan,
        "n_samples": len(rho),
        "n_constant": int(len(rho) - len(valid)),
    }


def branch_sums(layers: Sequence[str]) -> dict[str, list[str]]:
    """Input-branch layers grouped by kind: ``branches.*.<kind>`` -> member layers (two or more)."""
    kinds: dict[str, list[str]] = {}
    for layer in layers:
        match = _BRANCH.match(layer)
        if match:
            kinds.setdefault(match["kind"], []).append(layer)
    return {f"branches.*.{kind}": members for kind, members in kinds.items() if len(members) > 1}


def correlate_layers(maps: Mapping[str, np.ndarray], reference: str) -> pd.DataFrame:
    """Correlate every layer (and every branch sum) with the reference layer.

    Parameters
    ----------
    maps
        Layer -> GradCAM maps, shape (sample, frame, joint); frame counts may differ.
    reference
        The reference layer (a key of ``maps``).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`CORRELATION_COLUMNS`; ``kind`` is ``layer`` or ``branch sum``. The
        reference itself is not listed.
    """
    if reference not in maps:
        raise ValueError(
            f"evaluate.reference_layer {reference!r} is not among the GradCAM layers {list(maps)}"
        )
    profiles = {layer: joint_profile(m) for layer, m in maps.items()}
    ref = profiles[reference]
    rows = [
        _summary(layer, "layer", [layer], spearman_per_sample(p, ref))
        for layer, p in profiles.items()
        if layer != reference
    ]
    for name, members in branch_sums([x for x in maps if x != reference]).items():
        summed = np.sum([profiles[m] for m in members], axis=0)
        rows.append(_summary(name, "branch sum", members, spearman_per_sample(summed, ref)))
    return pd.DataFrame(rows, columns=list(CORRELATION_COLUMNS))


def correlation_markdown(table: pd.DataFrame, reference: str, title: str = "") -> str:
    """Markdown version of the correlation table (layer, mean +- sd, median, samples)."""
    shown = pd.DataFrame(
        {
            "layer": table["layer"],
            "kind": table["kind"],
            "rho (mean ± sd)": [
                "n/a" if np.isnan(m) else f"{m:.2f} ± {s:.2f}" if np.isfinite(s) else f"{m:.2f}"
                for m, s in zip(table["rho_mean"], table["rho_sd"], strict=True)
            ],
            "rho median [IQR]": [
                "n/a" if np.isnan(m) else f"{m:.2f} [{a:.2f}, {b:.2f}]"
                for m, a, b in zip(table["rho_median"], table["rho_q1"], table["rho_q3"], strict=True)
            ],
            "samples (constant)": [
                f"{n} ({c})" for n, c in zip(table["n_samples"], table["n_constant"], strict=True)
            ],
        }
    )
    head = f"# GradCAM layer correlation{': ' + title if title else ''}\n\n"
    note = (
        f"Spearman's rho with the reference layer `{reference}`, per sample, on per-joint vectors "
        "(map min-max normalised to [0, 1], then mean over frames); branch sums add the normalised "
        "maps of the four input branches' layers of one kind. Samples with a constant map are left out.\n\n"
    )
    return head + note + markdown_table(shown)
