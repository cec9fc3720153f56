"""One verdict per dataset and model: every method against every criterion, a figure and a paragraph.

``verdict.csv`` has the columns ``method,criterion,value,ci_low,ci_high,better``: one row per
method and criterion (:data:`CRITERIA`), values empty where a criterion does not apply (ground
truth on real data, a time criterion for a map without a time axis, a missing interval).
``better`` says whether a higher or a lower value is better. Methods are named ``shap``,
``gradcam:<layer>``, ``motion_energy``, ``random`` and ``input_x_gradient``
(:func:`check_method`).

The figure (:func:`plot_verdict`) is a method x criterion heat map of ranks (1 = best within
the criterion; ties share the best rank) annotated with the values; the paragraph
(:func:`verdict_paragraph`) is generated from the numbers only. How to read each criterion,
and where each misleads, is in docs/verdict.md.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import seaborn as sns
from scipy import stats

from ..plots.style import new_figure, save_figure
from .sanity import FAIL_RHO
from .tables import write_csv

PathLike = str | os.PathLike[str]

VERDICT_COLUMNS = ("method", "criterion", "value", "ci_low", "ci_high", "better")
CRITERIA: dict[str, str] = {
    "gt_precision": "higher",
    "gt_auprc_time": "higher",
    "deletion_area": "lower",
    "insertion_area": "higher",
    "time_deletion_area": "lower",
    "sanity_rho": "lower",
    "sensitivity_max": "lower",
    "infidelity": "lower",
    "runtime_s": "lower",
}
"""Criterion -> which direction is better, in the order of the table and the figure."""
DESCRIPTIONS: dict[str, str] = {
    "gt_precision": "precision of the top key points against the planted joints (synthetic data)",
    "gt_auprc_time": "area under the precision-recall curve of joint x time cells against the planted cells",
    "deletion_area": "area between the deletion curve (most important key points first) and random deletion",
    "insertion_area": "area between the insertion curve and random insertion",
    "time_deletion_area": "area between the joint x time-segment deletion curve and random deletion",
    "sanity_rho": "Spearman rho with the trained model's map once the whole network is randomised",
    "sensitivity_max": "largest relative change of the map under tiny input noise",
    "infidelity": "squared error of the map's prediction of output changes under input noise",
    "runtime_s": "seconds to compute the method's maps",
}
BASELINES = ("motion_energy", "random", "input_x_gradient")
TRIVIAL = ("motion_energy", "random")
_METHOD = re.compile(r"^(shap|motion_energy|random|input_x_gradient|gradcam:[A-Za-z0-9_.\-]+)$")


def check_method(name: str) -> str:
    """Return ``name`` if it is in the method vocabulary, else raise ValueError naming it."""
    if not _METHOD.match(name):
        raise ValueError(
            f"unknown method name {name!r}: expected shap, gradcam:<layer>, motion_energy, random or input_x_gradient"
        )
    return name


@dataclass(frozen=True)
class Estimate:
    """A value with an optional 95 % interval (NaN where none)."""

    value: float
    ci_low: float = math.nan
    ci_high: float = math.nan


def _finite_or_nan(x: float, what: str) -> float:
    v = float(x)
    if math.isinf(v):
        raise ValueError(f"verdict: {what} is infinite")
    return v


def verdict_table(
    methods: Sequence[str], estimates: Mapping[tuple[str, str], Estimate | float]
) -> pd.DataFrame:
    """The verdict table: every method x every criterion of :data:`CRITERIA`.

    Parameters
    ----------
    methods
        Method names in display order.
    estimates
        ``(method, criterion)`` -> :class:`Estimate` or a bare value; missing pairs stay empty.

    Returns
    -------
    pandas.DataFrame
        :data:`VERDICT_COLUMNS`, ``len(methods) * len(CRITERIA)`` rows.
    """
    for name in methods:
        check_method(name)
    for method, criterion in estimates:
        if method not in methods:
            raise ValueError(
                f"verdict: estimate for {method!r}, which is not among the methods {list(methods)}"
            )
        if criterion not in CRITERIA:
            raise ValueError(f"verdict: unknown criterion {criterion!r}; known: {', '.join(CRITERIA)}")
    rows = []
    for method in methods:
        for criterion, better in CRITERIA.items():
            e = estimates.get((method, criterion))
            est = e if isinstance(e, Estimate) else Estimate(math.nan if e is None else float(e))
            what = f"{method} / {criterion}"
            rows.append(
                {
                    "method": method,
                    "criterion": criterion,
                    "value": _finite_or_nan(est.value, what),
                    "ci_low": _finite_or_nan(est.ci_low, what),
                    "ci_high": _finite_or_nan(est.ci_high, what),
                    "better": better,
                }
            )
    return pd.DataFrame(rows, columns=list(VERDICT_COLUMNS))


def estimates_from(
    table: pd.DataFrame,
    criterion: str,
    value: str = "value",
    method: str = "method",
    ci: tuple[str, str] | None = ("ci_low", "ci_high"),
) -> dict[tuple[str, str], Estimate]:
    """Estimates of one criterion from any table with a method column and a value column (and an interval)."""
    out = {}
    for _, row in table.iterrows():
        lo, hi = (float(row[ci[0]]), float(row[ci[1]])) if ci is not None else (math.nan, math.nan)
        out[(str(row[method]), criterion)] = Estimate(float(row[value]), lo, hi)
    return out


def area_estimates(
    areas: pd.DataFrame, criterion: str, panel: str = "confidence", selection: str = "most"
) -> dict[tuple[str, str], Estimate]:
    """Estimates of ``deletion_area``/``insertion_area``/``time_deletion_area`` from an area table.

    ``areas`` has :data:`harxai.evaluate.faithfulness.AREA_COLUMNS`; one panel and one selection
    are taken (by default the true-class probability of the most important cells first).
    """
    part = areas[(areas["panel"] == panel) & (areas["selection"] == selection)]
    if part.empty:
        raise ValueError(
            f"{criterion}: the area table has no rows for panel {panel!r} and selection {selection!r}"
        )
    return estimates_from(part, criterion, value="area")


def write_verdict_csv(table: pd.DataFrame, path: PathLike) -> None:
    """Write the verdict CSV atomically (empty cells for NaN)."""
    missing = [c for c in VERDICT_COLUMNS if c not in table.columns]
    if missing:
        raise ValueError(f"{path}: verdict table lacks columns {missing}")
    write_csv(table[list(VERDICT_COLUMNS)], path)


def read_verdict_csv(path: PathLike) -> pd.DataFrame:
    """Read a verdict CSV, checking its columns and ``better`` values."""
    table = pd.read_csv(path, keep_default_na=True)
    if tuple(table.columns) != VERDICT_COLUMNS:
        raise ValueError(
            f"{path}: expected columns {','.join(VERDICT_COLUMNS)}, got {','.join(table.columns)}"
        )
    bad = set(table["better"]) - {"higher", "lower"}
    if bad:
        raise ValueError(f"{path}: 'better' must be higher or lower, found {sorted(bad)}")
    return table


def verdict_ranks(table: pd.DataFrame) -> pd.DataFrame:
    """Rank of each method within each criterion (1 = best, ties share the best rank), NaN where no value.

    Returns
    -------
    pandas.DataFrame
        Index method (table order), columns the criteria that have at least one value.
    """
    methods = list(dict.fromkeys(table["method"]))
    out = {}
    for criterion, part in table.groupby("criterion", sort=False):
        values = part.set_index("method")["value"].astype(float)
        if values.notna().any():
            ascending = part["better"].iloc[0] == "lower"
            out[criterion] = values.rank(ascending=ascending, method="min")
    return pd.DataFrame(out).reindex(methods)


def _fmt(value: float) -> str:
    if not np.isfinite(value):
        return ""
    return f"{value:.3g}" if abs(value) >= 1e-3 or value == 0 else f"{value:.1e}"


def plot_verdict(table: pd.DataFrame, path: PathLike, title: str = "") -> Path:
    """Heat map of ranks (method x criterion), annotated with the values; grey where not applicable."""
    ranks = verdict_ranks(table)
    values = table.pivot(index="method", columns="criterion", values="value").reindex(
        index=ranks.index, columns=ranks.columns
    )
    annot = values.map(_fmt)
    fig = new_figure(1.2 + 1.05 * max(len(ranks.columns), 1), 1.0 + 0.45 * max(len(ranks), 1))
    ax = fig.add_subplot()
    ax.set_facecolor("#e5e5e5")
    if ranks.size:
        sns.heatmap(
            ranks,
            ax=ax,
            annot=annot.to_numpy(),
            fmt="",
            cmap="viridis_r",
            vmin=1,
            vmax=max(len(ranks), 2),
            linewidths=0.5,
            linecolor="white",
            cbar_kws={"label": "rank (1 = best)"},
            annot_kws={"fontsize": 7},
        )
    ax.set_xlabel("")
    ax.set_ylabel("")
    ax.tick_params(axis="x", labelrotation=35)
    for label in ax.get_xticklabels():
        label.set_horizontalalignment("right")
    ax.set_title(title or "Verdict: rank of each method per criterion (values annotated)", fontsize=9)
    return save_figure(fig, path)


def _row(table: pd.DataFrame, method: str, criterion: str) -> pd.Series | None:
    hit = table[(table["method"] == method) & (table["criterion"] == criterion)]
    if hit.empty or not np.isfinite(float(hit["value"].iloc[0])):
        return None
    return hit.iloc[0]


def _list(names: Sequence[str]) -> str:
    names = list(names)
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _faithfulness_sentences(table: pd.DataFrame, methods: Sequence[str]) -> list[str]:
    beat: list[str] = []
    not_beat: list[str] = []
    for m in methods:
        r = None if m == "random" else _row(table, m, "deletion_area")
        if r is None:
            continue
        hi = float(r["ci_high"]) if np.isfinite(float(r["ci_high"])) else float(r["value"])
        (beat if hi < 0 else not_beat).append(m)
    out = []
    if beat:
        out.append(
            f"Deleting the key points that {_list(beat)} {'ranks' if len(beat) == 1 else 'rank'} highest lowers the model's confidence in the true "
            "class more than deleting random key points (95 % interval below zero)."
        )
    if not_beat:
        out.append(
            f"{_list(not_beat)} {'does' if len(not_beat) == 1 else 'do'} not beat random deletion: "
            "the key points they rank highest are not the ones the model needs."
        )
    return out


def verdict_paragraph(table: pd.DataFrame) -> str:
    """A short plain-language summary generated from the verdict's numbers."""
    methods = list(dict.fromkeys(table["method"]))
    ranks = verdict_ranks(table)
    if ranks.empty:
        return "No criterion has a value yet, so there is no verdict."
    real = [m for m in methods if m not in BASELINES] or methods
    mean_rank = ranks.loc[real].mean(axis=1).dropna()
    sentences = []
    if not mean_rank.empty:
        best = str(mean_rank.idxmin())
        sentences.append(
            f"Over the {ranks.shape[1]} criteria with values, {best} has the best mean rank among the explanation "
            f"methods ({mean_rank[best]:.1f} of {len(methods)})."
        )
    fails = [
        (m, float(r["value"]))
        for m in methods
        if (r := _row(table, m, "sanity_rho")) is not None and r["value"] > FAIL_RHO
    ]
    if fails:
        detail = ", ".join(f"{m} rho = {v:.2f}" for m, v in fails)
        sentences.append(
            f"Failing the sanity check ({detail}): their maps barely change when the model's weights are randomised, "
            "so they show the input rather than what the model learned."
        )
    sentences += _faithfulness_sentences(table, methods)
    for criterion in ("gt_precision", "deletion_area"):
        if criterion not in ranks.columns:
            continue
        r = ranks[criterion]
        trivial = [t for t in TRIVIAL if t in r.index and np.isfinite(r[t])]
        beaten = [m for m in real if m in r.index and np.isfinite(r[m]) and any(r[t] < r[m] for t in trivial)]
        if beaten:
            sentences.append(
                f"On {criterion}, a trivial baseline ({_list(trivial)}) ranks above {_list(beaten)}: "
                "do not trust that criterion's ranking of these methods on this data."
            )
    return " ".join(sentences)


def write_verdict(table: pd.DataFrame, output_csv: PathLike, output_png: PathLike, title: str = "") -> str:
    """Write ``verdict.csv`` and the figure; return the paragraph."""
    write_verdict_csv(table, output_csv)
    plot_verdict(table, output_png, title)
    return verdict_paragraph(table)


def _class_mean(part: pd.DataFrame, column: str) -> Estimate:
    """Mean of ``column`` over classes with a 95 % t-interval (none from fewer than 2 classes)."""
    v = pd.to_numeric(part[column], errors="coerce").to_numpy(dtype=np.float64)
    v = v[np.isfinite(v)]
    if len(v) == 0:
        return Estimate(math.nan)
    mean = float(v.mean())
    if len(v) < 2:
        return Estimate(mean)
    half = float(stats.t.ppf(0.975, len(v) - 1) * v.std(ddof=1) / math.sqrt(len(v)))
    return Estimate(mean, mean - half, mean + half)


def ground_truth_estimates(
    table: pd.DataFrame | None, temporal: pd.DataFrame | None, names: Mapping[str, str]
) -> dict[tuple[str, str], Estimate]:
    """``gt_precision`` and ``gt_auprc_time`` of each method: means over the (verified) classes.

    Parameters
    ----------
    table
        The ground-truth table (:data:`harxai.evaluate.ground_truth.GROUND_TRUTH_COLUMNS`), rows
        of verified classes only; precision@k of each class's ranking. None on real data.
    temporal
        The temporal table (:data:`harxai.evaluate.ground_truth.TEMPORAL_COLUMNS`); AUPRC of the
        joint x time cells. None on real data.
    names
        Method name in those tables -> verdict name (only these methods are taken).
    """
    out: dict[tuple[str, str], Estimate] = {}
    for source, criterion, column in (
        (table, "gt_precision", "precision_at_k"),
        (temporal, "gt_auprc_time", "auprc_time"),
    ):
        if source is None or source.empty:
            continue
        for method, name in names.items():
            part = source[source["method"] == method]
            if len(part):
                out[(name, criterion)] = _class_mean(part, column)
    return out


def faithfulness_estimates(
    areas: pd.DataFrame, imputation: str, names: Mapping[str, str] | None = None, panel: str = "confidence"
) -> dict[tuple[str, str], Estimate]:
    """``deletion_area``, ``insertion_area`` and ``time_deletion_area`` from the faithfulness areas.

    ``areas`` has :data:`harxai.evaluate.faithfulness.AREA_COLUMNS` plus ``imputation``,
    ``mode`` and ``cells``; the most-important-first rows of one imputation and panel are taken.
    """
    out: dict[tuple[str, str], Estimate] = {}
    part = areas[areas["imputation"] == imputation]
    if part.empty:
        raise ValueError(f"faithfulness areas hold no rows for imputation {imputation!r}")
    for criterion, mode, cells in (
        ("deletion_area", "deletion", "keypoint"),
        ("insertion_area", "insertion", "keypoint"),
        ("time_deletion_area", "deletion", "time"),
    ):
        family = part[(part["mode"] == mode) & (part["cells"] == cells)]
        if family.empty:
            continue
        for (method, _), e in area_estimates(family, criterion, panel=panel).items():
            name = method if names is None else names.get(method)
            if name is not None:
                out[(name, criterion)] = e
    return out
