"""The verdict's job functions on a hand-made dataset and a tiny harxai model: every table
they write, and verdict.csv built from exactly those tables."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_evaluate_fixtures import Inputs, make_inputs, tiny_checkpoint, write_oracle

from harxai.evaluate import jobs as evaluate_jobs
from harxai.evaluate.faithfulness import AREA_COLUMNS
from harxai.evaluate.sanity import SANITY_COLUMNS
from harxai.evaluate.verdict import CRITERIA, VERDICT_COLUMNS, read_verdict_csv
from harxai.explain.baselines import input_x_gradient, motion_energy, random_map
from harxai.explain.jobs import explain_baselines, load_job_model
from harxai.io.contracts import BACKGROUND, BASELINES, read_explain_set
from harxai.methods import BASELINE_METHODS, verdict_methods

LAYER = "main.1.att"
METHODS = verdict_methods([LAYER])


def _background(inputs: Inputs) -> Path:
    x = read_explain_set(inputs.explain_set).inputs
    assert x is not None
    n = len(x)
    return BACKGROUND.write(
        inputs.root / "model" / "background.h5",
        {
            "background": x,
            "background_index": np.arange(n),
            "background_label": inputs.labels,
            "chunk": np.zeros(n, dtype=np.int64),
        },
        config={},
        attrs={"num_chunks": 1, "chunk_sizes": [n]},
    )


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every verdict job once on the fixture (3 classes, 12 samples, 8 frames, 6 joints)."""
    root = tmp_path_factory.mktemp("verdict")
    inputs = make_inputs(root)
    model = tiny_checkpoint(root / "model" / "model.pt", num_classes=3)
    background = _background(inputs)
    ev = root / "model" / "evaluate"
    out = {"model": model, "explain_set": inputs.explain_set, "root": root, "scores": inputs.scores}
    explain_baselines(model, inputs.explain_set, root / "model" / "real_baselines.h5", 5, "cpu", 1)
    out["baselines"] = root / "model" / "real_baselines.h5"
    evaluate_jobs.faithfulness(
        model_path=model,
        explain_set_path=inputs.explain_set,
        background_path=background,
        scores_path=inputs.scores,
        output_curves_csv=ev / "curves.csv",
        output_areas_csv=ev / "areas.csv",
        output_png=ev / "faithfulness.png",
        methods=METHODS,
        shap_absolute=False,
        imputations=["mean", "linear"],
        imputation="linear",
        max_cells=3,
        segment_frames=4,
        draws=3,
        seed=1,
        device="cpu",
    )
    evaluate_jobs.sanity_check(
        model_path=model,
        explain_set_path=inputs.explain_set,
        background_path=background,
        output_csv=ev / "sanity.csv",
        output_png=ev / "sanity.png",
        methods=METHODS,
        shap_absolute=False,
        variant="standard",
        samples=6,
        stages=2,
        background_rows=4,
        seed=1,
        device="cpu",
    )
    evaluate_jobs.robustness(
        model_path=model,
        explain_set_path=inputs.explain_set,
        background_path=background,
        output_csv=ev / "robustness.csv",
        methods=METHODS,
        shap_absolute=False,
        variant="standard",
        samples=3,
        background_rows=4,
        spec={"perturb_radius": 0.02, "noise_scale": 0.1, "n_perturb_samples": 2},
        seed=1,
        device="cpu",
    )
    evaluate_jobs.score_ground_truth(
        scores_path=inputs.scores,
        explain_set_path=inputs.explain_set,
        ground_truth_path=inputs.truth,
        oracle_csv=write_oracle(ev / "oracle.csv", ["A001", "A002", "A003"], unverified=("A003",)),
        output_csv=ev / "gt.csv",
        output_time_csv=ev / "gt_time.csv",
        output_md=ev / "gt.md",
        fps=10.0,
    )
    evaluate_jobs.verdict(
        methods=METHODS,
        areas_csv=ev / "areas.csv",
        sanity_csv=ev / "sanity.csv",
        robustness_csv=ev / "robustness.csv",
        shap_path=inputs.shap,
        gradcam_paths={LAYER: inputs.gradcam[LAYER]},
        baselines_path=inputs.baselines,
        output_csv=ev / "verdict.csv",
        output_png=ev / "verdict.png",
        output_md=ev / "verdict.md",
        imputation="linear",
        shap_absolute=False,
        ground_truth_csv=ev / "gt.csv",
        ground_truth_time_csv=ev / "gt_time.csv",
        title="toy",
    )
    return out | {"ev": ev, "shap": inputs.shap, "gradcam": inputs.gradcam[LAYER]}


def test_baselines_job_writes_the_three_maps(chain: dict[str, Path]) -> None:
    content = BASELINES.read(chain["baselines"])
    assert [str(m) for m in content["method"]] == list(BASELINE_METHODS)
    es = read_explain_set(chain["explain_set"])
    assert es.inputs is not None
    maps = content["map"]
    np.testing.assert_allclose(maps[0], motion_energy(es.inputs), rtol=1e-6)
    np.testing.assert_array_equal(maps[1], random_map(es.inputs, 5))
    model = load_job_model(chain["model"], "cpu")
    np.testing.assert_allclose(maps[2], input_x_gradient(model, es.inputs, es.target), rtol=1e-5, atol=1e-7)
    assert (content["elapsed_s"] >= 0).all()
    assert content.attrs["seed"] == 5


def test_faithfulness_tables_cover_every_method_family_and_imputation(chain: dict[str, Path]) -> None:
    areas = pd.read_csv(chain["ev"] / "areas.csv")
    assert set(AREA_COLUMNS) <= set(areas.columns)
    assert set(areas["imputation"]) == {"mean", "linear"}
    linear = areas[areas["imputation"] == "linear"]
    assert set(zip(linear["mode"], linear["cells"], strict=True)) == {
        ("deletion", "keypoint"),
        ("insertion", "keypoint"),
        ("deletion", "time"),
    }
    assert set(linear["selection"]) == {"most", "least"}
    # the other imputation checks key-point deletion and insertion, most important first
    mean = areas[areas["imputation"] == "mean"]
    assert set(zip(mean["mode"], mean["cells"], mean["selection"], strict=True)) == {
        ("deletion", "keypoint", "most"),
        ("insertion", "keypoint", "most"),
    }
    assert set(areas["method"]) == set(METHODS)
    curves = pd.read_csv(chain["ev"] / "curves.csv")
    keypoint = curves[(curves["cells"] == "keypoint") & (curves["method"] == "shap")]
    assert sorted(set(keypoint["k"])) == [0, 1, 2, 3]
    time = curves[(curves["cells"] == "time") & (curves["method"] == "shap")]
    assert sorted(set(time["k"])) == [0, 1, 2, 3]  # 2 segments of 4 frames x 6 joints = 12 cells, K = 3
    assert (chain["ev"] / "faithfulness.png").stat().st_size > 0


def test_sanity_table_starts_trained_and_randomises_in_stages(chain: dict[str, Path]) -> None:
    table = pd.read_csv(chain["ev"] / "sanity.csv")
    assert tuple(table.columns) == SANITY_COLUMNS
    assert set(table["method"]) == set(METHODS)
    assert sorted(set(table["stage_index"])) == [0, 1, 2]
    assert (table[table["stage_index"] == 0]["rho"] == 1.0).all()
    last = table[table["stage_index"] == 2].set_index("method")["rho"]
    # model-independent maps keep their ranking exactly; a map of the model changes
    assert last["motion_energy"] == pytest.approx(1.0)
    assert last["random"] == pytest.approx(1.0)
    assert last["input_x_gradient"] < 0.9


def test_verdict_is_built_from_the_criteria_tables(chain: dict[str, Path]) -> None:
    ev = chain["ev"]
    table = read_verdict_csv(ev / "verdict.csv")
    assert tuple(table.columns) == VERDICT_COLUMNS
    assert list(dict.fromkeys(table["method"])) == METHODS
    assert list(dict.fromkeys(table["criterion"])) == list(CRITERIA)

    def value(method: str, criterion: str) -> float:
        return float(table[(table["method"] == method) & (table["criterion"] == criterion)]["value"].iloc[0])

    areas = pd.read_csv(ev / "areas.csv")
    row = areas[
        (areas["imputation"] == "linear")
        & (areas["mode"] == "deletion")
        & (areas["cells"] == "keypoint")
        & (areas["selection"] == "most")
        & (areas["panel"] == "confidence")
        & (areas["method"] == "shap")
    ]
    assert value("shap", "deletion_area") == pytest.approx(float(row["area"].iloc[0]))
    sanity = pd.read_csv(ev / "sanity.csv")
    last = sanity[sanity["stage_index"] == sanity["stage_index"].max()].set_index("method")
    assert value(f"gradcam:{LAYER}", "sanity_rho") == pytest.approx(
        float(last.loc[f"gradcam:{LAYER}", "rho"])
    )
    robust = pd.read_csv(ev / "robustness.csv")
    r = robust[(robust["method"] == "random") & (robust["criterion"] == "infidelity")]
    assert value("random", "infidelity") == pytest.approx(float(r["value"].iloc[0]))
    # ground truth: mean precision@k over the verified classes only (A003 left out)
    gt = pd.read_csv(ev / "gt.csv")
    assert set(gt["class"]) == {"A001", "A002"}
    expected = gt[gt["method"] == "motion_energy"]["precision_at_k"].mean()
    assert value("motion_energy", "gt_precision") == pytest.approx(expected)
    assert value("shap", "gt_precision") == pytest.approx(1.0)  # the fixture's SHAP finds the planted joints
    assert math.isnan(value("shap", "gt_auprc_time"))  # no temporal class in the fixture
    assert value("shap", "runtime_s") == pytest.approx(12.5)
    assert value(f"gradcam:{LAYER}", "runtime_s") == pytest.approx(1.5)  # the fixture's second layer
    assert value("input_x_gradient", "runtime_s") == pytest.approx(0.2)
    md = (ev / "verdict.md").read_text()
    assert md.startswith("# Verdict: toy")
    assert "mean rank" in md


def _verdict_without_truth(chain: dict[str, Path], out: Path, imputation: str) -> pd.DataFrame:
    """The verdict job on the chain's tables without ground truth, written under ``out``."""
    ev = chain["ev"]
    return evaluate_jobs.verdict(
        methods=METHODS,
        areas_csv=ev / "areas.csv",
        sanity_csv=ev / "sanity.csv",
        robustness_csv=ev / "robustness.csv",
        shap_path=chain["shap"],
        gradcam_paths={LAYER: chain["gradcam"]},
        baselines_path=chain["baselines"],
        output_csv=out / "v.csv",
        output_png=out / "v.png",
        output_md=out / "v.md",
        imputation=imputation,
        shap_absolute=False,
    )


def test_verdict_without_ground_truth_leaves_it_empty(chain: dict[str, Path], tmp_path: Path) -> None:
    table = _verdict_without_truth(chain, tmp_path, "mean")
    gt = table[table["criterion"].str.startswith("gt_")]
    assert gt["value"].isna().all()
    assert table[table["criterion"] == "deletion_area"]["value"].notna().all()


def test_unknown_imputation_is_refused(chain: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="imputation 'road'"):
        _verdict_without_truth(chain, tmp_path, "road")
    assert not (tmp_path / "v.csv").exists()
