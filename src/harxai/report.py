"""The self-contained HTML report: every table and figure, the model metrics and the config.

Figures are embedded as base64 data URIs and tables as HTML, so ``results/report.html`` can
be mailed or archived on its own. (The figures and tables are also marked with Snakemake's
``report()``, so ``snakemake --report`` builds Snakemake's own report as well.)
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import __version__
from .evaluate.verdict import read_verdict_csv, verdict_paragraph
from .io import write_text_atomic
from .io.contracts import METRICS

log = logging.getLogger(__name__)

PathLike = str | os.PathLike[str]

_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #222; }
h1, h2, h3 { color: #123; } h2 { border-bottom: 1px solid #bbb; padding-bottom: .2em; margin-top: 2em; }
table { border-collapse: collapse; margin: .8em 0; font-size: 0.85em; }
th, td { border: 1px solid #ccc; padding: .25em .5em; text-align: right; }
th { background: #eef2f6; } td:first-child, th:first-child { text-align: left; }
img { max-width: 100%; border: 1px solid #ddd; margin: .5em 0; }
pre { background: #f6f8fa; padding: 1em; overflow-x: auto; font-size: 0.8em; }
.caption { color: #555; font-size: 0.9em; max-width: 60em; }
nav li { margin: .15em 0; }
"""

CAPTIONS = {
    "verdict": (
        "Which explanation to trust: every method (trivial baselines motion_energy, random and "
        "input_x_gradient included) against every criterion. The figure ranks the methods per criterion "
        "(1 = best; grey where a criterion does not apply) and prints the values; the table gives each value "
        "with its 95 % interval where there is one. docs/verdict.md explains each criterion and where it misleads."
    ),
    "metrics": "Validation metrics of the trained (or loaded) model, as stored in metrics.h5.",
    "rankings": (
        "Key-point importance per class: box plots of the per-sample distribution (median, interquartile "
        "range, whiskers at 1.5 IQR, outliers) per key point and method, key points sorted by the SHAP "
        "median; each method is scaled by its maximum magnitude within the class. The table lists the "
        "five highest-ranked key points (by median) per class and method."
    ),
    "perturbation": (
        "Perturbation of the edge-importance matrices E: accuracy (multi-class, per class and overall) or "
        "ROC AUC (binary, per recording and per window) when each sample's k most or least important key "
        "points are perturbed, against k random key points (mean and 95 % CI over seeded draws); the "
        "'confidence' panel is the mean predicted probability of the true class. In the "
        "summary, 'difference' is the curve's mean minus the random mean over k >= 1 and 'below_random' the "
        "fraction of k where the curve lies below the random mean."
    ),
    "correlation": (
        "Spearman's rho between each GradCAM layer and the reference layer, per sample on per-joint vectors "
        "(map normalised to [0, 1], mean over frames), summarised over samples."
    ),
    "ground_truth": (
        "Synthetic data only: precision@k (k = number of planted joints) and ROC AUC of each method's key-point "
        "ranking against the planted joints, per class the oracle verified; the second table scores the "
        "joint x time maps against the planted time segments (AUPRC and precision in the top cells, with chance)."
    ),
    "oracle": (
        "Model-reliance oracle: per class, the validation accuracy as it is, with the planted joints isolated, "
        "and with as many random non-planted key points isolated (mean and minimum over seeded draws). Only "
        "verified classes are scored against the ground truth."
    ),
    "faithfulness": (
        "Model-agnostic faithfulness: mean probability of the true class as the cells each method ranks "
        "highest are deleted (replaced by the imputation) or inserted (restored into the imputed baseline), "
        "against seeded random orders (grey band: 95 % interval of the random mean). The table gives the area "
        "between each curve and the random mean (negative deletion and positive insertion areas beat chance)."
    ),
    "sanity": (
        "Sanity check (Adebayo et al. 2018): Spearman rho between each method's map on the trained model and "
        "on the model randomised stage by stage from the classifier to the input; above 0.5 once everything "
        "is random fails."
    ),
    "robustness": (
        "captum.metrics sensitivity_max and infidelity per method on a seeded subset of samples "
        "(mean and 95 % interval; lower is better)."
    ),
    "rejected": "Recordings left out by ingest or preprocessing, with file and reason (rejected.csv).",
    "skeletons": (
        "Importance on the skeleton: marker size and colour give each key point's importance, one row per "
        "method (SHAP signed, diverging colours; GradCAM non-negative), averaged over the frames or window shown."
    ),
    "runtime": (
        "Runtime: in-process time of the core computation (core_s) and Snakemake benchmark wall time of the "
        "job (job_s; a job shared by job_shared_by GradCAM layers is divided equally among them), with the "
        "hardware of the machine that summarised them."
    ),
}


def image_tag(path: PathLike, alt: str) -> str:
    """An ``<img>`` tag embedding a PNG or SVG file as a base64 data URI."""
    p = Path(path)
    mime = {"png": "image/png", "svg": "image/svg+xml"}.get(p.suffix.lstrip(".").lower())
    if mime is None:
        raise ValueError(f"{p}: only PNG and SVG figures can be embedded")
    data = base64.b64encode(p.read_bytes()).decode("ascii")
    return f'<img src="data:{mime};base64,{data}" alt="{html.escape(alt)}">'


def table_html(table: pd.DataFrame, digits: int = 3) -> str:
    """A DataFrame as an HTML table (values escaped, floats rounded)."""
    return str(
        table.to_html(
            index=False, border=0, na_rep="n/a", float_format=lambda x: f"{x:.{digits}f}", escape=True
        )
    )


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Flatten nested dicts to ``a.b.c`` keys; lists of scalars are kept as JSON text."""
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            out.update(flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return out
    if isinstance(value, list):
        return {prefix: json.dumps(value)}
    return {prefix: value}


def metrics_table(metrics_path: PathLike) -> pd.DataFrame:
    """The ``metrics`` attribute of metrics.h5 as a (metric, value) table."""
    content = METRICS.read(metrics_path, load=[])
    flat = flatten(content.json_attr("metrics"))
    return pd.DataFrame({"metric": list(flat), "value": [_format(v) for v in flat.values()]})


def _format(value: Any) -> str:
    if isinstance(value, float):
        return "n/a" if np.isnan(value) else f"{value:.4g}"
    return str(value)


def top_rankings(rankings: pd.DataFrame, top: int = 5) -> pd.DataFrame:
    """Top key points per (group, method) as one row each: ``1``, ``2``... columns hold joint names."""
    rows = []
    for (group, method), part in rankings.groupby(["group", "method"], sort=False):
        names = part.sort_values("rank")["joint_name"].head(top).tolist()
        rows.append({"group": group, "method": method, **{str(i + 1): n for i, n in enumerate(names)}})
    return pd.DataFrame(rows)


def _section(anchor: str, heading: str, caption: str, body: str, level: int = 3) -> str:
    return (
        f'<h{level} id="{anchor}">{html.escape(heading)}</h{level}>\n'
        f'<p class="caption">{html.escape(caption)}</p>\n{body}\n'
    )


def dataset_section(name: str, files: Mapping[str, PathLike]) -> str:
    """HTML of one dataset: metrics, rankings, perturbation, correlation, ground truth, skeletons."""
    a = f"ds-{name}"
    parts = [f'<h2 id="{a}">Dataset {html.escape(name)}</h2>']
    if files.get("rejected_csv"):
        rejected = pd.read_csv(files["rejected_csv"])
        line = f"<p>{len(rejected)} recording(s) rejected.</p>" + (
            table_html(rejected) if len(rejected) else ""
        )
        parts.append(_section(f"{a}-rejected", "Rejected recordings", CAPTIONS["rejected"], line))
    parts.append(
        _section(
            f"{a}-metrics", "Model metrics", CAPTIONS["metrics"], table_html(metrics_table(files["metrics"]))
        )
    )
    rankings = pd.read_csv(files["rankings_csv"])
    body = image_tag(files["rankings_png"], f"{name} rankings") + table_html(top_rankings(rankings))
    parts.append(_section(f"{a}-rankings", "Key-point rankings", CAPTIONS["rankings"], body))
    summary = pd.read_csv(files["perturbation_summary_csv"])
    body = image_tag(files["perturbation_png"], f"{name} perturbation") + table_html(summary)
    parts.append(_section(f"{a}-perturbation", "Perturbation", CAPTIONS["perturbation"], body))
    corr = pd.read_csv(files["correlation_csv"])
    parts.append(
        _section(f"{a}-correlation", "GradCAM layer correlation", CAPTIONS["correlation"], table_html(corr))
    )
    if files.get("faithfulness_png"):
        body = image_tag(files["faithfulness_png"], f"{name} faithfulness")
        if files.get("faithfulness_areas_csv"):
            areas = pd.read_csv(files["faithfulness_areas_csv"])
            body += table_html(areas[areas["panel"] == "confidence"])
        parts.append(_section(f"{a}-faithfulness", "Faithfulness", CAPTIONS["faithfulness"], body))
    if files.get("sanity_png"):
        img = image_tag(files["sanity_png"], f"{name} sanity check")
        parts.append(_section(f"{a}-sanity", "Sanity check", CAPTIONS["sanity"], img))
    if files.get("robustness_csv"):
        rob = pd.read_csv(files["robustness_csv"])
        parts.append(_section(f"{a}-robustness", "Robustness", CAPTIONS["robustness"], table_html(rob)))
    if files.get("oracle_csv"):
        oracle = pd.read_csv(files["oracle_csv"])
        parts.append(_section(f"{a}-oracle", "Model-reliance oracle", CAPTIONS["oracle"], table_html(oracle)))
    if files.get("ground_truth_csv"):
        gt = pd.read_csv(files["ground_truth_csv"])
        body = table_html(gt)
        if files.get("ground_truth_time_csv"):
            body += table_html(pd.read_csv(files["ground_truth_time_csv"]))
        parts.append(_section(f"{a}-ground-truth", "Ground truth", CAPTIONS["ground_truth"], body))
    if files.get("skeletons_png"):
        img = image_tag(files["skeletons_png"], f"{name} skeletons")
        parts.append(_section(f"{a}-skeletons", "Importance on the skeleton", CAPTIONS["skeletons"], img))
    return "\n".join(parts)


def _with_interval(row: pd.Series) -> str:
    if not np.isfinite(row["value"]):
        return ""
    text = f"{row['value']:.3g}"
    if np.isfinite(row["ci_low"]) and np.isfinite(row["ci_high"]):
        text += f" [{row['ci_low']:.3g}, {row['ci_high']:.3g}]"
    return text


def verdict_section(datasets: Mapping[str, Mapping[str, PathLike]]) -> str:
    """HTML of the verdict of every dataset that has one (``verdict_csv``, optionally ``verdict_png``)."""
    parts = ['<h2 id="verdict">Verdict</h2>', f'<p class="caption">{html.escape(CAPTIONS["verdict"])}</p>']
    for name, files in datasets.items():
        if not files.get("verdict_csv"):
            continue
        table = read_verdict_csv(files["verdict_csv"])
        shown = table.assign(value=table.apply(_with_interval, axis=1))
        wide = shown.pivot(index="method", columns="criterion", values="value")
        wide = wide.reindex(
            index=list(dict.fromkeys(table["method"])), columns=list(dict.fromkeys(table["criterion"]))
        )
        body = f"<p>{html.escape(verdict_paragraph(table))}</p>\n"
        if files.get("verdict_png"):
            body += image_tag(files["verdict_png"], f"{name} verdict")
        body += table_html(wide.reset_index())
        parts.append(f'<h3 id="verdict-{html.escape(name)}">Dataset {html.escape(name)}</h3>\n{body}')
    return "\n".join(parts)


def runtime_section(runtime_csv: PathLike) -> str:
    """HTML of the runtime table with the hardware it was measured on."""
    table = pd.read_csv(runtime_csv)
    hw_cols = [c for c in ("cpu", "cores", "gpu") if c in table.columns]
    hw = table[hw_cols].iloc[0].to_dict() if len(table) else {}
    line = ", ".join(f"{k}: {v}" for k, v in hw.items())
    body = f"<p>Hardware: {html.escape(line)}</p>" + table_html(table.drop(columns=hw_cols), digits=2)
    return _section("runtime", "Runtime", CAPTIONS["runtime"], body, level=2)


def build_report(
    *,
    output: PathLike,
    title: str,
    config_json: str,
    datasets: Mapping[str, Mapping[str, PathLike]],
    runtime_csv: PathLike,
) -> Path:
    """Job of rule build_report: write the self-contained HTML report.

    Parameters
    ----------
    output
        results/report.html.
    title
        Report title.
    config_json
        The workflow config that produced the results, as JSON.
    datasets
        Dataset -> files: ``metrics``, ``rankings_csv``, ``rankings_png``, ``perturbation_png``,
        ``perturbation_summary_csv``, ``correlation_csv`` and optionally ``skeletons_png``,
        ``ground_truth_csv``, ``verdict_csv`` and ``verdict_png`` (the verdict opens the report,
        before the datasets' figures).
    runtime_csv
        results/runtime.csv.
    """
    config = json.loads(config_json)
    created = _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
    has_verdict = any(files.get("verdict_csv") for files in datasets.values())
    nav = '<li><a href="#verdict">Verdict</a></li>' if has_verdict else ""
    nav += "".join(f'<li><a href="#ds-{html.escape(n)}">Dataset {html.escape(n)}</a></li>' for n in datasets)
    nav += '<li><a href="#runtime">Runtime</a></li><li><a href="#config">Configuration</a></li>'
    body = [
        f"<h1>{html.escape(title)}</h1>",
        f"<p>harxai {html.escape(__version__)}, created {created} (UTC).</p>",
        f"<nav><ul>{nav}</ul></nav>",
    ]
    if has_verdict:
        body.append(verdict_section(datasets))
    for name, files in datasets.items():
        body.append(dataset_section(name, files))
        log.info("report: dataset %s", name)
    body.append(runtime_section(runtime_csv))
    pretty = html.escape(json.dumps(config, indent=2, sort_keys=True), quote=False)
    body.append(f'<h2 id="config">Configuration</h2>\n<pre>{pretty}</pre>')
    page = (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        + "\n".join(body)
        + "\n</body>\n</html>\n"
    )
    write_text_atomic(output, page)
    return Path(output)
