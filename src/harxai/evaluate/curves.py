"""Perturbation curves: reading the per-job HDF5 files, long tables, the summary and the figure."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from ..io import read_hdf5
from ..io.contracts import PERTURBATION, PERTURBATION_RANDOM
from .sources import PathLike
from .tables import write_csv

CURVE_COLUMNS = ("method", "selection", "k", "panel", "metric", "value", "sd", "ci_low", "ci_high", "n_draws")
RANDOM = "random"


@dataclass(frozen=True)
class Curves:
    """One perturbation file (``perturbation/<method>_<selection>.h5`` or ``random.h5``).

    Attributes
    ----------
    method, selection
        ``shap`` / ``gradcam:<layer>`` and ``most`` / ``least``; both ``random`` for the control.
    k
        Number of perturbed key points per step, shape (step,).
    panels, metrics
        Panel names and metric names, shape (item,).
    values
        Shape (step, item), or (draw, step, item) for the random control.
    """

    method: str
    selection: str
    k: np.ndarray
    panels: tuple[str, ...]
    metrics: tuple[str, ...]
    values: np.ndarray

    @property
    def is_random(self) -> bool:
        """True for the random control (values carry a draw axis)."""
        return self.values.ndim == 3


def read_curves(path: PathLike) -> Curves:
    """Read a perturbation file written by :mod:`harxai.evaluate.perturbation`."""
    random = read_hdf5(path, load=()).attrs.get("method") == RANDOM
    contract = PERTURBATION_RANDOM if random else PERTURBATION
    content = contract.read(path, load=["k", "panel", "metric_name", "metric"])
    values = content["metric"].astype(np.float64)
    return Curves(
        method=str(content.attrs["method"]),
        selection=str(content.attrs["selection"]),
        k=content["k"].astype(np.int64),
        panels=tuple(str(p) for p in content["panel"]),
        metrics=tuple(str(m) for m in content["metric_name"]),
        values=values,
    )


def curves_table(curves: Curves) -> pd.DataFrame:
    """Long table of one curve file: one row per (k, panel).

    For the random control ``value`` is the mean over draws, ``sd`` their standard deviation
    and ``ci_low``/``ci_high`` the 95 % t-interval of the mean; deterministic curves leave
    those columns empty.
    """
    rows = []
    for s, k in enumerate(curves.k):
        for i, (panel, metric) in enumerate(zip(curves.panels, curves.metrics, strict=True)):
            row = {
                "method": curves.method,
                "selection": curves.selection,
                "k": int(k),
                "panel": panel,
                "metric": metric,
            }
            if curves.is_random:
                draws = curves.values[:, s, i]
                draws = draws[np.isfinite(draws)]
                n = len(draws)
                mean = float(draws.mean()) if n else np.nan
                sd = float(draws.std(ddof=1)) if n > 1 else np.nan
                half = float(stats.t.ppf(0.975, n - 1) * sd / np.sqrt(n)) if n > 1 else np.nan
                row.update(value=mean, sd=sd, ci_low=mean - half, ci_high=mean + half, n_draws=n)
            else:
                row.update(
                    value=float(curves.values[s, i]), sd=np.nan, ci_low=np.nan, ci_high=np.nan, n_draws=1
                )
            rows.append(row)
    return pd.DataFrame(rows, columns=list(CURVE_COLUMNS))


def write_curves_csv(curves: Curves, path: PathLike) -> None:
    """Write :func:`curves_table` as CSV."""
    write_csv(curves_table(curves), path)


def summarize_curves(table: pd.DataFrame) -> pd.DataFrame:
    """Compare every ranked curve with the random control over k = 1..K.

    Parameters
    ----------
    table
        Concatenated :func:`curves_table` rows, the random control included.

    Returns
    -------
    pandas.DataFrame
        One row per (method, selection, panel): ``baseline`` (k = 0), ``mean`` of the curve
        over k >= 1, ``random_mean`` (the random control's mean over the same k),
        ``difference`` (mean - random_mean; negative means the ranking hurts more than
        chance), ``below_random`` (fraction of k >= 1 where the curve lies below the random
        mean), and the values at the largest k.
    """
    random = table[table["method"] == RANDOM].set_index(["panel", "k"])["value"]
    rows = []
    ranked = table[table["method"] != RANDOM]
    for (method, selection, panel, metric), part in ranked.groupby(
        ["method", "selection", "panel", "metric"], sort=False
    ):
        part = part.sort_values("k")
        later = part[part["k"] >= 1]
        ref = np.array([random.get((panel, k), np.nan) for k in later["k"]], dtype=np.float64)
        values = later["value"].to_numpy(dtype=np.float64)
        k_max = int(part["k"].max())
        rows.append(
            {
                "method": method,
                "selection": selection,
                "panel": panel,
                "metric": metric,
                "baseline": float(part.loc[part["k"] == 0, "value"].iloc[0]),
                "mean": float(np.nanmean(values)) if len(values) else np.nan,
                "random_mean": float(np.nanmean(ref)) if len(ref) else np.nan,
                "difference": float(np.nanmean(values - ref)) if len(values) else np.nan,
                "below_random": float(np.mean(values < ref)) if len(values) else np.nan,
                "k_max": k_max,
                "at_k_max": float(part.loc[part["k"] == k_max, "value"].iloc[0]),
                "random_at_k_max": float(random.get((panel, k_max), np.nan)),
            }
        )
    return pd.DataFrame(rows)
