"""collect_scores: one file of every method's aligned scores, checked against the sources."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
from test_evaluate_fixtures import LAYERS, make_inputs

from harxai.evaluate.jobs import collect_scores
from harxai.evaluate.sources import read_scores, resample_frames
from harxai.io import HDF5ContractError, read_hdf5
from harxai.io.contracts import BASELINES
from harxai.methods import BASELINE_METHODS


def test_scores_equal_the_source_files(tmp_path: Path) -> None:
    inputs = make_inputs(tmp_path)
    scores = read_scores(inputs.scores)
    assert scores.methods == ("shap", "shap_abs", *(f"gradcam:{x}" for x in LAYERS), *BASELINE_METHODS)
    shap = read_hdf5(inputs.shap)
    np.testing.assert_array_equal(scores.of("shap").importance, shap["keypoint_importance"])
    np.testing.assert_array_equal(scores.of("shap").counter, -shap["keypoint_importance"])
    np.testing.assert_array_equal(scores.of("shap_abs").importance, shap["keypoint_importance_abs"])
    np.testing.assert_array_equal(scores.of("shap").frame_map, shap["keypoint_frame"])
    frames = shap["keypoint_frame"].shape[1]
    for layer, path in inputs.gradcam.items():
        cam = read_hdf5(path)
        got = scores.of(f"gradcam:{layer}")
        np.testing.assert_array_equal(got.importance, cam["cam"].astype(np.float64).mean(axis=1))
        np.testing.assert_array_equal(got.counter, cam["cam_negated"].astype(np.float64).mean(axis=1))
        assert got.frame_map.shape[1] == frames
        # every input frame takes the coarse frame that covers it
        coarse = cam["cam"].shape[1]
        for t in (0, frames - 1, frames // 3):
            np.testing.assert_array_equal(got.frame_map[:, t], cam["cam"][:, t * coarse // frames])
    np.testing.assert_array_equal(scores.label, inputs.labels)
    assert scores.info.class_names == ("A001", "A002", "A003")


def test_resample_keeps_the_mean_of_a_regular_coarse_axis() -> None:
    coarse = np.random.default_rng(0).random((2, 5, 3))
    full = resample_frames(coarse, 15)
    assert full.shape == (2, 15, 3)
    np.testing.assert_allclose(full.mean(axis=1), coarse.mean(axis=1))


def test_misaligned_gradcam_file_is_refused(tmp_path: Path) -> None:
    inputs = make_inputs(tmp_path)
    path = inputs.gradcam[LAYERS[0]]
    with h5py.File(path, "r+") as fh:
        fh["sample_index"][...] = fh["sample_index"][()][::-1]
    with pytest.raises(ValueError, match="sample_index"):
        collect_scores(
            explain_set_path=inputs.explain_set,
            features_path=inputs.features,
            shap_path=inputs.shap,
            gradcam_paths=inputs.gradcam,
            baselines_path=inputs.baselines,
            output_path=tmp_path / "s.h5",
        )
    assert not (tmp_path / "s.h5").exists()


def test_baselines_are_methods_of_scores(tmp_path: Path) -> None:
    inputs = make_inputs(tmp_path)
    scores = read_scores(inputs.scores)
    assert scores.methods[-3:] == BASELINE_METHODS
    maps = BASELINES.read(inputs.baselines)["map"]
    for i, name in enumerate(BASELINE_METHODS):
        got = scores.of(name)
        np.testing.assert_allclose(got.frame_map, maps[i], rtol=1e-6)
        np.testing.assert_allclose(got.importance, maps[i].astype(np.float64).mean(axis=1), rtol=1e-6)
        np.testing.assert_allclose(got.counter, -got.importance)


def test_misaligned_baselines_file_is_refused(tmp_path: Path) -> None:
    inputs = make_inputs(tmp_path)
    with h5py.File(inputs.baselines, "r+") as fh:
        fh["sample_index"][...] = fh["sample_index"][()][::-1]
    with pytest.raises(ValueError, match=r"baselines\.h5: its samples"):
        collect_scores(
            explain_set_path=inputs.explain_set,
            features_path=inputs.features,
            shap_path=inputs.shap,
            gradcam_paths=inputs.gradcam,
            baselines_path=inputs.baselines,
            output_path=tmp_path / "s.h5",
        )
    assert not (tmp_path / "s.h5").exists()


def test_corrupted_scores_stop_the_reader(tmp_path: Path) -> None:
    inputs = make_inputs(tmp_path)
    with h5py.File(inputs.scores, "r+") as fh:
        fh["importance"][0, 0, 0] = np.inf
    with pytest.raises(HDF5ContractError, match=r"scores\.h5: dataset 'importance'"):
        read_scores(inputs.scores)
