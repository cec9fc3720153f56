"""Runtime of the explainers (seed paper Table 2, Sec. 4.7).

Two clocks are reported per item: ``core_s``, the in-process time of the core computation
recorded by the explainer jobs in their HDF5 files (attribute ``elapsed_s``; the GradCAM
files also hold ``forward_elapsed_s``, one forward pass over the explained samples, given
for scale), and ``job_s``, the wall time of the whole Snakemake job from its ``benchmark:``
file (interpreter start-up, imports and I/O included), with its peak memory and CPU time.
When several items share one job (``gradcam.layers_per_job: all``: every GradCAM layer of a
dataset in one gradcam_layers job, one benchmark file), each item's ``job_s`` and
``cpu_time_s`` are the job's divided by the number of items that share it (column
``job_shared_by``; 1 for a job of its own) and ``max_rss_mb`` is the shared job's peak, so the
per-layer figures of both modes compare and their sum is the job's. The hardware is that of
the machine that ran this summary; for a local run it is the one
that ran the jobs (on a cluster, jobs may have run elsewhere).
"""

from __future__ import annotations

import json
import logging
import os
import platform
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from ..io import read_hdf5
from .sources import PathLike
from .tables import markdown_table

log = logging.getLogger(__name__)

RUNTIME_COLUMNS = (
    "dataset",
    "stage",
    "item",
    "core_s",
    "job_s",
    "max_rss_mb",
    "cpu_time_s",
    "n_samples",
    "device",
    "job_shared_by",
)


def read_benchmark(path: PathLike) -> dict[str, float]:
    """Wall time ``s``, ``max_rss`` (MB) and ``cpu_time`` (s) of a Snakemake benchmark TSV (mean over repeats)."""
    try:
        table = pd.read_csv(path, sep="\t")
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: not a readable Snakemake benchmark file ({exc})") from exc
    if "s" not in table.columns or table.empty:
        raise ValueError(f"{path}: benchmark file without an 's' column or rows")

    def mean(col: str) -> float:
        if col not in table.columns:
            return float("nan")
        return float(pd.to_numeric(table[col], errors="coerce").mean())

    return {"s": mean("s"), "max_rss": mean("max_rss"), "cpu_time": mean("cpu_time")}


def hardware() -> dict[str, str]:
    """CPU model, logical cores and GPU of this machine."""
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.lower().startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    return {"cpu": cpu, "cores": str(os.cpu_count() or 0), "gpu": gpu}


def _attrs(path: PathLike) -> tuple[dict[str, Any], int]:
    content = read_hdf5(path, load=["sample_index"])
    n = len(content["sample_index"]) if "sample_index" in content else -1
    return dict(content.attrs), n


def _row(
    where: tuple[str, str, str],
    core: float,
    bench: Mapping[str, float] | None,
    n: int,
    device: object = "",
    shared_by: int = 1,
) -> dict[str, Any]:
    b = bench or {}
    return {
        "dataset": where[0],
        "stage": where[1],
        "item": where[2],
        "core_s": core,
        "job_s": b.get("s", np.nan),
        "max_rss_mb": b.get("max_rss", np.nan),
        "cpu_time_s": b.get("cpu_time", np.nan),
        "n_samples": n,
        "device": str(device),
        "job_shared_by": int(shared_by),
    }


def _share(bench: Mapping[str, float], k: int) -> dict[str, float]:
    """One of ``k`` equal shares of a job: wall and CPU time divided, peak memory whole."""
    return {"s": bench["s"] / k, "max_rss": bench["max_rss"], "cpu_time": bench["cpu_time"] / k}


def _gradcam_rows(dataset: str, plan: Mapping[str, Any]) -> list[dict[str, Any]]:
    rows, forward, n, device = [], [], -1, ""
    shared = Counter(files["benchmark"] for files in plan["gradcam"].values())
    benches = {path: read_benchmark(path) for path in shared}
    for layer, files in plan["gradcam"].items():
        attrs, n = _attrs(files["h5"])
        device = attrs.get("device", "")
        forward.append(float(attrs.get("forward_elapsed_s", np.nan)))
        core = float(attrs.get("elapsed_s", np.nan))
        k = shared[files["benchmark"]]
        bench = _share(benches[files["benchmark"]], k)
        rows.append(_row((dataset, "gradcam", layer), core, bench, n, device, k))
    if forward and np.isfinite(forward).any():
        rows.append(_row((dataset, "forward", "forward pass"), float(np.nanmedian(forward)), None, n, device))
    return rows


def _shap_rows(dataset: str, plan: Mapping[str, Any]) -> list[dict[str, Any]]:
    attrs, n = _attrs(plan["shap"]["h5"])
    device = attrs.get("device", "")
    chunks = {name: read_benchmark(tsv) for name, tsv in plan["shap_chunks"].items()}
    core = json.loads(attrs.get("chunk_elapsed_s", "{}"))
    rows = [
        _row((dataset, "shap", f"chunk {name}"), float(core.get(name, np.nan)), b, n, device)
        for name, b in chunks.items()
    ]
    merge = read_benchmark(plan["shap"]["benchmark"])
    rows.append(_row((dataset, "shap", "merge"), np.nan, merge, n, device))
    jobs = [*chunks.values(), merge]
    total = {
        "s": sum(b["s"] for b in jobs),
        "max_rss": max(b["max_rss"] for b in jobs),
        "cpu_time": sum(b["cpu_time"] for b in jobs),
    }
    rows.append(_row((dataset, "shap", "total"), float(attrs.get("elapsed_s", np.nan)), total, n, device))
    return rows


def _evaluate_rows(dataset: str, plan: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One row per verdict rule (baselines, oracle, faithfulness, sanity check, robustness, verdict): job time only."""
    return [
        _row((dataset, "evaluate", rule), np.nan, read_benchmark(tsv), -1)
        for rule, tsv in plan.get("evaluate", {}).items()
    ]


def _dataset_rows(dataset: str, plan: Mapping[str, Any]) -> list[dict[str, Any]]:
    gradcam = _gradcam_rows(dataset, plan)
    forward = [r for r in gradcam if r["stage"] == "forward"]
    return [
        *(r for r in gradcam if r["stage"] != "forward"),
        *_shap_rows(dataset, plan),
        *forward,
        *_evaluate_rows(dataset, plan),
    ]


def summarize_runtime(plan: Mapping[str, Mapping[str, Any]]) -> pd.DataFrame:
    """Detailed runtime table of every dataset.

    Parameters
    ----------
    plan
        Dataset -> ``{"gradcam": {layer: {"h5", "benchmark"}}, "shap": {"h5", "benchmark"}
        (merge_shap's), "shap_chunks": {"<chunk>_<part>": benchmark}, "evaluate": {rule:
        benchmark}}`` (``evaluate`` optional: the verdict's rules). Layers computed in one job
        (gradcam_layers) name the same benchmark file.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`RUNTIME_COLUMNS`; stages ``gradcam`` (one row per layer; a shared
        job's time divided among its layers, see ``job_shared_by``), ``shap``
        (per chunk job, the merge, and the total: core time from shap.h5, job time summed)
        ``forward`` (median over the GradCAM jobs of one forward pass) and ``evaluate`` (one
        row per verdict rule: its job's wall time, memory and CPU time); ``device`` as
        recorded by the jobs.
    """
    rows = [row for dataset, p in plan.items() for row in _dataset_rows(dataset, p)]
    return pd.DataFrame(rows, columns=list(RUNTIME_COLUMNS))


def runtime_overview(table: pd.DataFrame) -> pd.DataFrame:
    """Table 2 style: per dataset, GradCAM per layer (median), SHAP per chunk (median job), SHAP total, forward pass."""
    rows = []
    for dataset, part in table.groupby("dataset", sort=False):
        cam = part[part["stage"] == "gradcam"]
        chunks = part[(part["stage"] == "shap") & part["item"].str.startswith("chunk")]
        total = part[(part["stage"] == "shap") & (part["item"] == "total")]
        fwd = part[part["stage"] == "forward"]
        rows.append(
            {
                "dataset": dataset,
                "samples": int(part["n_samples"].max()),
                "gradcam_layer_core_s": float(cam["core_s"].median()),
                "gradcam_layer_job_s": float(cam["job_s"].median()),
                "shap_chunk_job_s": float(chunks["job_s"].median()),
                "shap_total_core_s": float(total["core_s"].iloc[0]) if len(total) else np.nan,
                "shap_total_job_s": float(total["job_s"].iloc[0]) if len(total) else np.nan,
                "forward_s": float(fwd["core_s"].iloc[0]) if len(fwd) else np.nan,
            }
        )
    return pd.DataFrame(rows)


def runtime_markdown(table: pd.DataFrame, machine: Mapping[str, str]) -> str:
    """Markdown runtime report: hardware, the overview and the detailed table."""
    head = (
        "# Runtime\n\n"
        f"Hardware: CPU {machine['cpu']}, {machine['cores']} logical cores; GPU: {machine['gpu']}.\n\n"
        "core_s: in-process time of the core computation (HDF5 attribute elapsed_s); job_s: Snakemake "
        "benchmark wall time of the job (start-up and I/O included); where job_shared_by > 1, that many "
        "layers ran in one job and each row holds an equal share of its job_s and cpu_time_s (max_rss_mb "
        "is the job's peak). GradCAM: one layer, both maps (positive and negated); SHAP: per background "
        "chunk and in total; forward pass: one pass over the explained samples, for scale; evaluate: the "
        "job of each verdict rule (what the baselines, the oracle, faithfulness, sanity check, robustness "
        "and verdict stages cost).\n\n## Overview\n\n"
    )
    return (
        head
        + markdown_table(runtime_overview(table), digits=2)
        + "\n## Detail\n\n"
        + markdown_table(table, digits=2)
    )
