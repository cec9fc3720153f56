"""Perturbation curves: long tables with t intervals, the summary against the random control, the plot job."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from harxai.evaluate import jobs as evaluate_jobs
from harxai.evaluate.curves import Curves, curves_table, summarize_curves
from harxai.io import Array, write_hdf5


def _curves(method: str, selection: str, values: np.ndarray) -> Curves:
    return Curves(
        method, selection, np.arange(values.shape[-2]), ("all", "A"), ("accuracy", "accuracy"), values
    )


def test_random_table_has_mean_and_t_interval() -> None:
    draws = np.random.default_rng(0).random((10, 3, 2))
    table = curves_table(_curves("random", "random", draws))
    row = table[(table["k"] == 2) & (table["panel"] == "A")].iloc[0]
    x = draws[:, 2, 1]
    half = stats.t.ppf(0.975, 9) * x.std(ddof=1) / np.sqrt(10)
    assert row["value"] == pytest.approx(x.mean())
    assert row["sd"] == pytest.approx(x.std(ddof=1))
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((x.mean() - half, x.mean() + half))
    assert row["n_draws"] == 10
    fixed = curves_table(_curves("shap", "most", draws[0]))
    assert fixed["sd"].isna().all()
    assert (fixed["n_draws"] == 1).all()


def test_summary_compares_with_the_random_mean() -> None:
    random = np.tile(np.array([1.0, 0.8, 0.6])[None, :, None], (4, 1, 2))
    shap = np.array([[1.0, 1.0], [0.5, 0.9], [0.2, 0.7]])
    table = pd.concat(
        [curves_table(_curves("shap", "most", shap)), curves_table(_curves("random", "random", random))]
    )
    summary = summarize_curves(table).set_index("panel")
    assert summary.loc["all", "baseline"] == 1.0
    assert summary.loc["all", "mean"] == pytest.approx(0.35)
    assert summary.loc["all", "random_mean"] == pytest.approx(0.7)
    assert summary.loc["all", "difference"] == pytest.approx(-0.35)
    assert summary.loc["all", "below_random"] == 1.0
    assert summary.loc["A", "below_random"] == 0.0
    assert summary.loc["A", "at_k_max"] == 0.7


def _write(path: Path, method: str, selection: str, metric: np.ndarray) -> Path:
    prefix = ("draw",) if metric.ndim == 3 else ()
    return write_hdf5(
        path,
        {
            "k": Array(np.arange(metric.shape[-2]), ("step",)),
            "metric": Array(metric, (*prefix, "step", "item")),
            "panel": Array(np.array(["recordings", "windows"]), ("item",)),
            "metric_name": Array(np.array(["auc", "auc"]), ("item",)),
        },
        config={},
        attrs={"method": method, "selection": selection},
    )


def test_plot_job_writes_table_summary_and_figure(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    paths = [
        _write(tmp_path / f"{m}_{s}.h5", m, s, rng.random((4, 2)))
        for m in ("shap", "gradcam:main.1.att")
        for s in ("most", "least")
    ]
    random = _write(tmp_path / "random.h5", "random", "random", rng.random((5, 4, 2)))
    out = tmp_path / "out"
    summary = evaluate_jobs.plot_perturbation(
        curve_paths=paths,
        random_path=random,
        output_csv=out / "perturbation.csv",
        output_summary_csv=out / "summary.csv",
        output_summary_md=out / "summary.md",
        output_png=out / "perturbation.png",
        title="toy",
    )
    assert len(summary) == 2 * 2 * 2
    table = pd.read_csv(out / "perturbation.csv")
    assert set(table["method"]) == {"shap", "gradcam:main.1.att", "random"}
    assert len(table) == 5 * 4 * 2
    assert "GradCAM main.1.att" in (out / "summary.md").read_text()
    assert (out / "perturbation.png").read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(ValueError, match="draw axis"):
        evaluate_jobs.plot_perturbation(
            curve_paths=paths,
            random_path=paths[0],
            output_csv=out / "x.csv",
            output_summary_csv=out / "y.csv",
            output_summary_md=out / "y.md",
            output_png=out / "x.png",
        )
