"""Runtime table from Snakemake benchmark files and the explainers' in-process timings."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from test_evaluate_fixtures import LAYERS, make_inputs

from harxai.evaluate import jobs as evaluate_jobs
from harxai.evaluate.runtime import hardware, read_benchmark, runtime_overview

HEADER = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"


def _bench(path: Path, seconds: float, rss: float = 100.0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        HEADER + f"{seconds}\t0:00:{int(seconds):02d}\t{rss}\t200\t90\t95\t1.0\t2.0\t50.0\t{seconds / 2}\n"
    )
    return path


def test_read_benchmark(tmp_path: Path) -> None:
    b = read_benchmark(_bench(tmp_path / "b.tsv", 3.5, rss=512.25))
    assert b == {"s": 3.5, "max_rss": 512.25, "cpu_time": 1.75}
    (tmp_path / "bad.tsv").write_text("x\ty\n")
    with pytest.raises(ValueError, match=r"bad\.tsv"):
        read_benchmark(tmp_path / "bad.tsv")


def test_summary_of_hand_made_files(tmp_path: Path) -> None:
    inputs = make_inputs(tmp_path)
    bench = tmp_path / "benchmarks"
    plan = {
        "toy": {
            "gradcam": {
                x: {"h5": str(p), "benchmark": str(_bench(bench / f"{x}.tsv", 2.0 + i))}
                for i, (x, p) in enumerate(inputs.gradcam.items())
            },
            "shap": {"h5": str(inputs.shap), "benchmark": str(_bench(bench / "merge.tsv", 1.0))},
            "shap_chunks": {
                f"{c}_0": str(_bench(bench / f"chunk{c}.tsv", 10.0 * (c + 1), rss=300 + c)) for c in range(3)
            },
        }
    }
    table = evaluate_jobs.summarize_runtime(
        plan=plan, output_csv=tmp_path / "runtime.csv", output_md=tmp_path / "runtime.md"
    )
    cam = table[table["stage"] == "gradcam"].set_index("item")
    assert list(cam.index) == list(LAYERS)
    assert cam.loc["main.1.att", "core_s"] == pytest.approx(1.5)
    assert cam.loc["main.1.att", "job_s"] == 3.0
    chunks = table[(table["stage"] == "shap") & table["item"].str.startswith("chunk")].set_index("item")
    assert chunks["core_s"].to_dict() == {"chunk 0_0": 3.0, "chunk 1_0": 4.0, "chunk 2_0": 5.5}
    assert chunks["job_s"].to_dict() == {"chunk 0_0": 10.0, "chunk 1_0": 20.0, "chunk 2_0": 30.0}
    assert set(chunks["device"]) == {"cpu"}
    total = table[(table["stage"] == "shap") & (table["item"] == "total")].iloc[0]
    assert total["core_s"] == pytest.approx(12.5)  # shap.h5 elapsed_s
    assert total["job_s"] == pytest.approx(10 + 20 + 30 + 1)
    assert total["max_rss_mb"] == 302
    forward = table[table["stage"] == "forward"].iloc[0]
    assert forward["core_s"] == pytest.approx(0.1)
    assert forward["n_samples"] == len(inputs.labels)
    overview = runtime_overview(table).iloc[0]
    assert overview["shap_chunk_job_s"] == 20.0
    assert overview["gradcam_layer_job_s"] == pytest.approx(4.5)
    assert set(pd.read_csv(tmp_path / "runtime.csv").columns) >= {
        "cpu",
        "cores",
        "gpu",
        "core_s",
        "job_s",
        "device",
    }
    assert (cam["device"] == "cpu").all()
    assert (table["job_shared_by"] == 1).all()  # one job per layer
    text = (tmp_path / "runtime.md").read_text()
    assert "Hardware: CPU" in text
    assert "## Overview" in text


def test_hardware_names_cpu_cores_and_gpu() -> None:
    hw = hardware()
    assert set(hw) == {"cpu", "cores", "gpu"}
    assert int(hw["cores"]) >= 1
    assert hw["cpu"]


def test_layers_of_one_job_share_its_benchmark(tmp_path: Path) -> None:
    """gradcam.layers_per_job: all: one gradcam_layers benchmark, divided among the layers."""
    inputs = make_inputs(tmp_path)
    bench = tmp_path / "benchmarks"
    shared = str(_bench(bench / "gradcam_layers.tsv", 9.0, rss=700.0))
    plan = {
        "toy": {
            "gradcam": {x: {"h5": str(p), "benchmark": shared} for x, p in inputs.gradcam.items()},
            "shap": {"h5": str(inputs.shap), "benchmark": str(_bench(bench / "merge.tsv", 1.0))},
            "shap_chunks": {"0_0": str(_bench(bench / "chunk0.tsv", 10.0))},
        }
    }
    table = evaluate_jobs.summarize_runtime(
        plan=plan, output_csv=tmp_path / "runtime.csv", output_md=tmp_path / "runtime.md"
    )
    cam = table[table["stage"] == "gradcam"].set_index("item")
    k = len(LAYERS)
    assert k > 1
    assert (cam["job_shared_by"] == k).all()
    assert cam["job_s"].to_numpy() == pytest.approx([9.0 / k] * k)
    assert cam["job_s"].sum() == pytest.approx(9.0)
    assert cam["cpu_time_s"].sum() == pytest.approx(4.5)
    assert (cam["max_rss_mb"] == 700.0).all()
    assert cam.loc["main.1.att", "core_s"] == pytest.approx(1.5)  # each layer's own elapsed_s
    assert (table[table["stage"] != "gradcam"]["job_shared_by"] == 1).all()
    assert runtime_overview(table).iloc[0]["gradcam_layer_job_s"] == pytest.approx(9.0 / k)
    assert "job_shared_by" in (tmp_path / "runtime.md").read_text()
