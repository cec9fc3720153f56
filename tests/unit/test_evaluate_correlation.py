"""Layer correlation: normalisation, Spearman on hand-made maps, branch sums, the job."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from test_evaluate_fixtures import LAYERS, make_inputs

from harxai.evaluate import jobs as evaluate_jobs
from harxai.evaluate.correlation import (
    branch_sums,
    correlate_layers,
    joint_profile,
    normalize_maps,
    spearman_per_sample,
)


def test_normalize_maps_per_sample_to_unit_range() -> None:
    maps = np.array([[[1.0, 3.0], [5.0, 2.0]], [[4.0, 4.0], [4.0, 4.0]]])
    out = normalize_maps(maps)
    np.testing.assert_allclose(out[0], [[0.0, 0.5], [1.0, 0.25]])
    np.testing.assert_array_equal(out[1], 0.0)  # a constant map becomes zeros


def test_joint_profile_is_mean_over_frames_of_normalised_map() -> None:
    maps = np.random.default_rng(0).random((3, 7, 5)) * 10
    expected = np.stack([((m - m.min()) / (m.max() - m.min())).mean(axis=0) for m in maps])
    np.testing.assert_allclose(joint_profile(maps), expected)


def test_identical_maps_give_one_and_reversed_rankings_minus_one() -> None:
    rng = np.random.default_rng(1)
    a = rng.random((4, 10))
    np.testing.assert_allclose(spearman_per_sample(a, a), 1.0)
    reversed_ranks = -a * 3 + 2  # every pair of joints swaps order
    np.testing.assert_allclose(spearman_per_sample(a, reversed_ranks), -1.0)
    b = rng.random((4, 10))
    expected = [stats.spearmanr(x, y).statistic for x, y in zip(a, b, strict=True)]
    np.testing.assert_allclose(spearman_per_sample(a, b), expected)


def test_constant_rows_have_no_rho() -> None:
    a = np.array([[1.0, 2.0, 3.0], [1.0, 1.0, 1.0]])
    rho = spearman_per_sample(a, a)
    assert rho[0] == pytest.approx(1.0)
    assert np.isnan(rho[1])


def test_branch_sums_group_layers_by_kind() -> None:
    groups = branch_sums([*LAYERS, "branches.joint.blocks.1.att", "main.0.gcn"])
    assert groups == {"branches.*.init_bn": [x for x in LAYERS if x.endswith("init_bn")]}


def test_correlate_layers_across_frame_resolutions() -> None:
    rng = np.random.default_rng(2)
    ref = rng.random((6, 4, 5))
    fine = np.repeat(ref, 3, axis=1)  # same per-joint profile at three times the frame rate
    flipped = 1.0 - ref
    maps = {
        "main.1.att": ref,
        "main.1.tcn.conv": fine,
        "branches.joint.init_bn": flipped,
        "branches.bone.init_bn": flipped * 5,
    }
    table = correlate_layers(maps, "main.1.att").set_index("layer")
    assert "main.1.att" not in table.index
    assert table.loc["main.1.tcn.conv", "rho_mean"] == pytest.approx(1.0)
    assert table.loc["branches.joint.init_bn", "rho_mean"] == pytest.approx(-1.0)
    summed = table.loc["branches.*.init_bn"]
    assert summed["kind"] == "branch sum"
    assert summed["rho_mean"] == pytest.approx(-1.0)
    assert summed["members"] == "branches.joint.init_bn;branches.bone.init_bn"
    assert (table["n_samples"] == 6).all()
    assert (table["n_constant"] == 0).all()
    with pytest.raises(ValueError, match="reference_layer"):
        correlate_layers(maps, "main.0.att")


def test_branch_sum_normalises_each_branch_first() -> None:
    rng = np.random.default_rng(3)
    ref = rng.random((5, 3, 6))
    big = rng.random((5, 3, 6)) * 1000  # would dominate an unnormalised sum
    maps = {"main.1.att": ref, "branches.joint.init_bn": ref.copy(), "branches.bone.init_bn": big}
    summed = correlate_layers(maps, "main.1.att").set_index("layer").loc["branches.*.init_bn"]
    expected = spearman_per_sample(joint_profile(ref) + joint_profile(big), joint_profile(ref))
    assert summed["rho_mean"] == pytest.approx(expected.mean())


def test_job_writes_csv_and_markdown(tmp_path: Path) -> None:
    inputs = make_inputs(tmp_path)
    csv, md = tmp_path / "out" / "layer_correlation.csv", tmp_path / "out" / "layer_correlation.md"
    evaluate_jobs.correlate_layers(
        gradcam_paths=inputs.gradcam, reference="main.1.att", output_csv=csv, output_md=md, title="toy"
    )
    table = pd.read_csv(csv)
    assert set(table["layer"]) == (set(LAYERS) - {"main.1.att"}) | {"branches.*.init_bn"}
    text = md.read_text()
    assert text.startswith("# GradCAM layer correlation: toy")
    assert "| branches.*.init_bn |" in text
