"""The verdict table, its ranks, figure and generated paragraph."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from harxai.evaluate.faithfulness import AREA_COLUMNS
from harxai.evaluate.verdict import (
    CRITERIA,
    VERDICT_COLUMNS,
    Estimate,
    check_method,
    estimates_from,
    plot_verdict,
    read_verdict_csv,
    verdict_paragraph,
    verdict_ranks,
    verdict_table,
    write_verdict,
)

METHODS = ["shap", "gradcam:main.1.att", "motion_energy", "random", "input_x_gradient"]


def _table() -> pd.DataFrame:
    e: dict[tuple[str, str], Estimate | float] = {
        ("shap", "gt_precision"): Estimate(0.9, 0.8, 1.0),
        ("gradcam:main.1.att", "gt_precision"): Estimate(0.4, 0.3, 0.5),
        ("motion_energy", "gt_precision"): Estimate(0.5, 0.4, 0.6),
        ("random", "gt_precision"): Estimate(0.1, 0.0, 0.2),
        ("shap", "deletion_area"): Estimate(-0.3, -0.4, -0.2),
        ("gradcam:main.1.att", "deletion_area"): Estimate(-0.05, -0.15, 0.05),
        ("random", "deletion_area"): Estimate(0.0, -0.02, 0.02),
        ("shap", "sanity_rho"): Estimate(0.1, 0.0, 0.2),
        ("motion_energy", "sanity_rho"): Estimate(1.0, 1.0, 1.0),
        ("shap", "runtime_s"): 12.0,
        ("gradcam:main.1.att", "runtime_s"): 0.5,
    }
    return verdict_table(METHODS, e)


def test_table_has_every_method_and_criterion_with_directions() -> None:
    t = _table()
    assert tuple(t.columns) == VERDICT_COLUMNS
    assert len(t) == len(METHODS) * len(CRITERIA)
    assert {"gt_precision", "gt_auprc_time", "deletion_area", "insertion_area", "time_deletion_area"} <= set(
        CRITERIA
    )
    assert {"sanity_rho", "sensitivity_max", "infidelity", "runtime_s"} <= set(CRITERIA)
    row = t[(t["method"] == "shap") & (t["criterion"] == "runtime_s")].iloc[0]
    assert row["value"] == 12.0
    assert math.isnan(row["ci_low"])
    assert row["better"] == "lower"
    assert t[(t["criterion"] == "deletion_area")]["better"].eq("lower").all()
    assert t[(t["criterion"] == "insertion_area")]["better"].eq("higher").all()


def test_bad_names_and_values_are_refused() -> None:
    check_method("gradcam:branches.joint.init_bn")
    for bad in ("gradcam-main.1.att", "SHAP", "gradcam:"):
        with pytest.raises(ValueError, match="unknown method"):
            check_method(bad)
    with pytest.raises(ValueError, match="unknown criterion"):
        verdict_table(["shap"], {("shap", "accuracy"): 1.0})
    with pytest.raises(ValueError, match="not among the methods"):
        verdict_table(["shap"], {("random", "runtime_s"): 1.0})
    with pytest.raises(ValueError, match="infinite"):
        verdict_table(["shap"], {("shap", "runtime_s"): math.inf})


def test_csv_round_trip_leaves_empty_cells(tmp_path: Path) -> None:
    t = _table()
    paragraph = write_verdict(t, tmp_path / "verdict.csv", tmp_path / "verdict.png", "synth")
    text = (tmp_path / "verdict.csv").read_text().splitlines()
    assert text[0] == ",".join(VERDICT_COLUMNS)
    assert "shap,gt_auprc_time,,,,higher" in text
    back = read_verdict_csv(tmp_path / "verdict.csv")
    pd.testing.assert_frame_equal(back, t, check_dtype=False)
    assert paragraph == verdict_paragraph(back)
    with Image.open(tmp_path / "verdict.png") as img:
        assert img.size[0] > 300
        assert img.size[1] > 150
    bad = t.assign(better="up")
    bad.to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(ValueError, match="better"):
        read_verdict_csv(tmp_path / "bad.csv")


def test_ranks_follow_the_direction_of_each_criterion() -> None:
    r = verdict_ranks(_table())
    assert list(r.index) == METHODS
    assert r.loc["shap", "gt_precision"] == 1
    assert r.loc["random", "gt_precision"] == 4
    assert r.loc["shap", "deletion_area"] == 1
    assert r.loc["random", "deletion_area"] == 3
    assert r.loc["gradcam:main.1.att", "runtime_s"] == 1
    assert np.isnan(r.loc["input_x_gradient", "gt_precision"])
    assert "infidelity" not in r.columns  # no value at all


def test_paragraph_is_generated_from_the_numbers() -> None:
    text = verdict_paragraph(_table())
    assert "shap has the best mean rank" in text
    assert "motion_energy rho = 1.00" in text  # fails the sanity check
    assert "Deleting the key points that shap ranks highest" in text
    assert "gradcam:main.1.att does not beat random deletion" in text
    assert (
        "On gt_precision, a trivial baseline (motion_energy and random) ranks above gradcam:main.1.att"
        in text
    )
    # change the numbers, the text follows
    flipped = _table()
    flipped.loc[(flipped["method"] == "motion_energy") & (flipped["criterion"] == "sanity_rho"), "value"] = (
        0.2
    )
    assert "sanity check" not in verdict_paragraph(flipped)
    empty = verdict_table(["shap"], {})
    assert verdict_paragraph(empty).startswith("No criterion")


def test_estimates_from_an_area_table() -> None:
    areas = pd.DataFrame(
        [["shap", "most", "confidence", "true_class_probability", -0.2, -0.3, -0.1, "samples", 10]],
        columns=list(AREA_COLUMNS),
    )
    e = estimates_from(areas, "deletion_area", value="area")
    assert e == {("shap", "deletion_area"): Estimate(-0.2, -0.3, -0.1)}


def test_plot_handles_a_single_method(tmp_path: Path) -> None:
    t = verdict_table(["shap"], {("shap", "runtime_s"): 1.0})
    assert plot_verdict(t, tmp_path / "one.png").exists()


def test_the_parts_plug_into_one_verdict_on_a_harxai_model(tmp_path: Path) -> None:
    """Faithfulness, sanity and robustness of real map methods on a tiny harxai model end in one verdict."""
    from test_evaluate_fixtures import LAYOUT, tiny_model

    from harxai.evaluate.faithfulness import (
        CurveSpec,
        EvaluationData,
        Imputation,
        Imputer,
        faithfulness_curves,
    )
    from harxai.evaluate.robustness import RobustnessSpec, robustness_table
    from harxai.evaluate.sanity import cascading_randomization, cascading_stages, sanity_summary
    from harxai.evaluate.scoring import scoring_panels
    from harxai.evaluate.verdict import area_estimates
    from harxai.explain.baselines import (
        gradcam_method,
        input_x_gradient_method,
        motion_energy_method,
        random_method,
        shap_method,
    )

    net = tiny_model()
    rng = np.random.default_rng(0)
    x = rng.normal(size=(6, 4, 2, 8, LAYOUT.num_joints, 1)).astype(np.float32)
    bg = rng.normal(size=(4, 4, 2, 8, LAYOUT.num_joints, 1)).astype(np.float32)
    label = np.array([0, 1, 2, 0, 1, 2])
    methods = {
        "shap": shap_method(bg),
        "gradcam:main.1.att": gradcam_method("main.1.att"),
        "motion_energy": motion_energy_method(),
        "random": random_method(0),
        "input_x_gradient": input_x_gradient_method(),
    }
    maps = {name: m(net, x, label) for name, m in methods.items()}
    data = EvaluationData(
        x, label, np.array([f"r{i}" for i in range(6)]), scoring_panels("multiclass", ["a", "b", "c"], label)
    )
    imputer = Imputer(bg, LAYOUT.adjacency(), Imputation("linear"))
    estimates: dict = {}
    for criterion, spec in (
        ("deletion_area", CurveSpec("deletion", 3)),
        ("insertion_area", CurveSpec("insertion", 3)),
        ("time_deletion_area", CurveSpec("deletion", 3, segment_frames=4)),
    ):
        result = faithfulness_curves(net, data, maps, imputer, spec, draws=3)
        estimates.update(area_estimates(result.areas, criterion))
    stages = cascading_stages(net, x[:2], num_stages=2)
    estimates.update(
        estimates_from(
            sanity_summary(cascading_randomization(net, x, label, methods, stages)), "sanity_rho", value="rho"
        )
    )
    robust = robustness_table(net, x[:3], label[:3], methods, RobustnessSpec(n_perturb_samples=2))
    for criterion in ("sensitivity_max", "infidelity"):
        estimates.update(estimates_from(robust[robust["criterion"] == criterion], criterion))
    table = verdict_table(list(methods), estimates)
    paragraph = write_verdict(table, tmp_path / "verdict.csv", tmp_path / "verdict.png")
    filled = table.dropna(subset=["value"])
    assert set(filled["criterion"]) == {
        "deletion_area",
        "insertion_area",
        "time_deletion_area",
        "sanity_rho",
        "sensitivity_max",
        "infidelity",
    }
    assert len(filled) == 6 * len(methods)
    sanity = table[table["criterion"] == "sanity_rho"].set_index("method")["value"]
    assert sanity["motion_energy"] == pytest.approx(1.0)
    assert "motion_energy" in paragraph
