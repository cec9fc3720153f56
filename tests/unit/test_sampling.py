"""Explain-set and background selection: filters, predictions, stratified seeded draw, chunks."""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path

import numpy as np
import pytest

from harxai.explain.jobs import select_background, select_explain_set
from harxai.explain.sampling import (
    ExplainParams,
    assign_chunks,
    choose_explain_rows,
    draw_background,
    stratified_draw,
)
from harxai.io import Array, HDF5ContractError, read_hdf5, write_hdf5

FEATURE_DIMS = ("sample", "group", "channel", "frame", "joint", "person")
CLASSES = ["wave", "sit", "jump"]


def write_features(path: Path, split: list[str], label: list[int], recording: list[str]) -> np.ndarray:
    n = len(split)
    features = np.random.default_rng(0).normal(size=(n, 4, 2, 5, 3, 2)).astype(np.float32)
    s = ("sample",)
    write_hdf5(
        path,
        {
            "features": Array(features, dims=FEATURE_DIMS),
            "label": Array(np.asarray(label, np.int64), dims=s),
            "recording_id": Array(np.asarray(recording), dims=s),
            "group": Array(np.asarray([f"P{i % 2}" for i in range(n)]), dims=s),
            "split": Array(np.asarray(split), dims=s),
            "window_start": Array(np.arange(n, dtype=np.float32) % 3, dims=s, units="s"),
            "padded": Array(np.zeros(n, np.int8), dims=s),
        },
        config={"feature": "params"},
        attrs={
            "dataset": "toy",
            "layout": {"name": "toy3"},
            "class_names": CLASSES,
            "task": "multiclass",
            "num_channels": 1,
            "groups": ["joint", "velocity", "bone", "acceleration"],
        },
    )
    return features


@pytest.fixture
def toy(tmp_path: Path) -> tuple[Path, Path, np.ndarray]:
    """10 samples: rows 0-3 train, 4-9 val; val logits stored in shuffled val_index order."""
    split = ["train"] * 4 + ["val"] * 6
    label = [0, 1, 2, 0, 0, 1, 0, 2, 1, 0]
    recording = ["a", "a", "b", "c", "r2", "r1", "r1", "r2", "r1", "r3"]
    features = write_features(tmp_path / "features.h5", split, label, recording)
    val_index = np.asarray([9, 5, 7, 4, 8, 6])
    predicted = {4: 1, 5: 1, 6: 0, 7: 2, 8: 0, 9: 2}
    logits = np.zeros((6, 3), np.float32)
    for i, row in enumerate(val_index):
        logits[i, predicted[int(row)]] = 3.0
        logits[i, (predicted[int(row)] + 1) % 3] = 1.0
    write_hdf5(
        tmp_path / "metrics.h5",
        {
            "val_logits": Array(logits, dims=("sample", "class")),
            "val_index": Array(val_index, dims=("sample",)),
            "val_label": Array(np.asarray(label)[val_index], dims=("sample",)),
        },
        config={},
    )
    return tmp_path / "features.h5", tmp_path / "metrics.h5", features


def test_choose_rows_filters_and_max_per_class_in_recording_order() -> None:
    label = np.asarray([0, 1, 2, 0, 0, 1, 0, 2, 1, 0])
    split = np.asarray(["train"] * 4 + ["val"] * 6)
    rec = np.asarray(["a", "a", "b", "c", "r2", "r1", "r1", "r2", "r1", "r3"])
    start = np.asarray([0, 0, 0, 0, 0, 5, 1, 2, 0, 0], np.float32)
    every = choose_explain_rows(label, split, rec, start, ExplainParams(), 3)
    np.testing.assert_array_equal(every, [4, 5, 6, 7, 8, 9])
    # class 0 in recording order: r1@1 (row 6), r2@0 (row 4), r3 (row 9); class 1: r1@0 (8), r1@5 (5)
    first = choose_explain_rows(label, split, rec, start, ExplainParams(max_per_class=1), 3)
    np.testing.assert_array_equal(first, [6, 7, 8])
    two = choose_explain_rows(label, split, rec, start, ExplainParams(classes=(0,), max_per_class=2), 3)
    np.testing.assert_array_equal(two, [4, 6])
    recs = choose_explain_rows(label, split, rec, start, ExplainParams(recordings=("r2", "a")), 3)
    np.testing.assert_array_equal(recs, [4, 7])  # "a" is a training recording


def test_explain_params_reject_bad_values() -> None:
    with pytest.raises(ValueError, match="target must be label or predicted"):
        ExplainParams.from_dict({"target": "logit"})
    with pytest.raises(ValueError, match="unknown keys"):
        ExplainParams.from_dict({"clases": [1]})


@pytest.mark.parametrize("target", ["label", "predicted"])
def test_select_explain_set_writes_contract(toy: tuple[Path, Path, np.ndarray], target: str) -> None:
    features_path, metrics_path, features = toy
    out = features_path.parent / "explain_set.h5"
    select_explain_set(
        features_path, metrics_path, out, {"classes": [0, 2], "max_per_class": None, "target": target}
    )
    c = read_hdf5(out, expected={"inputs": FEATURE_DIMS, "sample_index": ("sample",), "target": ("sample",)})
    np.testing.assert_array_equal(c["sample_index"], [4, 6, 7, 9])
    np.testing.assert_array_equal(c["label"], [0, 0, 2, 0])
    np.testing.assert_array_equal(c["prediction"], [1, 0, 2, 2])
    np.testing.assert_array_equal(c["target"], c["label"] if target == "label" else c["prediction"])
    np.testing.assert_array_equal(c["inputs"], features[[4, 6, 7, 9]])
    np.testing.assert_array_equal(c["recording_id"], ["r2", "r1", "r2", "r3"])
    assert c["window_start"].dtype == np.float32
    assert c.json_attr("class_names") == CLASSES
    assert c.attrs["task"] == "multiclass"
    assert c.json_attr("layout") == {"name": "toy3"}
    assert c.attrs["dataset"] == "toy"
    assert c.json_attr("config")["target"] == target
    assert c.attrs["target_kind"] == target


def test_select_explain_set_errors(toy: tuple[Path, Path, np.ndarray], tmp_path: Path) -> None:
    features_path, metrics_path, _ = toy
    with pytest.raises(ValueError, match="no validation sample matches"):
        select_explain_set(features_path, metrics_path, tmp_path / "x.h5", {"recordings": ["a"]})
    write_hdf5(
        tmp_path / "short.h5",
        {
            "val_logits": Array(np.zeros((1, 3)), dims=("sample", "class")),
            "val_index": Array(np.asarray([4]), dims=("sample",)),
        },
        config={},
    )
    with pytest.raises(HDF5ContractError, match=r"short\.h5: no validation logits for features rows \[5"):
        select_explain_set(features_path, tmp_path / "short.h5", tmp_path / "x.h5", {})
    assert not (tmp_path / "x.h5").exists()


def test_stratified_draw_covers_every_class_and_is_seeded() -> None:
    labels = np.repeat([0, 1, 2, 3], [50, 30, 15, 5])
    draw = stratified_draw(labels, 20, 4, np.random.default_rng(7))
    assert len(draw) == len(set(draw.tolist())) == 20
    counts = np.bincount(labels[draw], minlength=4)
    assert (counts >= 5).all()  # floor(20 / 4), and class 3 has exactly 5
    np.testing.assert_array_equal(draw, stratified_draw(labels, 20, 4, np.random.default_rng(7)))
    assert not np.array_equal(
        np.sort(draw), np.sort(stratified_draw(labels, 20, 4, np.random.default_rng(8)))
    )
    # a class smaller than its quota gives all it has; the rest comes from the others
    small = stratified_draw(labels, 40, 4, np.random.default_rng(1))
    small_counts = np.bincount(labels[small], minlength=4)
    assert small_counts[3] == 5
    assert (small_counts[:3] >= 10).all()
    assert small_counts.sum() == 40


def test_stratified_draw_fewer_rows_than_classes_warns(caplog: pytest.LogCaptureFixture) -> None:
    labels = np.repeat([0, 1, 2, 3], 3)
    with caplog.at_level(logging.WARNING, logger="harxai.explain.selection"):
        draw = stratified_draw(labels, 3, 5, np.random.default_rng(0))
    assert len(set(labels[draw].tolist())) == 3
    assert "classes [4] have no training samples" in caplog.text
    assert "cannot cover 4 classes" in caplog.text


def test_assign_chunks_balanced_random_subsets() -> None:
    order, chunk = assign_chunks(23, 3, np.random.default_rng(3))
    assert sorted(order.tolist()) == list(range(23))
    assert np.bincount(chunk).tolist() == [8, 8, 7]
    assert (np.diff(chunk) >= 0).all()
    assert not np.array_equal(order, np.arange(23))


def test_draw_background_uses_train_split_only_and_warns_when_short(caplog: pytest.LogCaptureFixture) -> None:
    split = np.asarray(["train", "val"] * 6)
    label = np.asarray([0, 0, 1, 1, 2, 2] * 2)
    with caplog.at_level(logging.WARNING, logger="harxai.explain.selection"):
        rows, chunk = draw_background(split, label, 3, size=10, chunk_size=4, seed=1234)
    assert sorted(rows.tolist()) == [0, 2, 4, 6, 8, 10]
    assert "only 6 training samples (< size 10); all are used" in caplog.text
    assert chunk.tolist() == [0, 0, 1, 1, 2, 2]  # ceil(10 / 4) = 3 chunks planned by the workflow


def test_select_background_writes_contract(tmp_path: Path) -> None:
    n = 60
    split = ["train"] * 50 + ["val"] * 10
    label = ([0] * 30 + [1] * 15 + [2] * 5) + [0] * 10
    features = write_features(tmp_path / "f.h5", split, label, [f"r{i // 4}" for i in range(n)])
    out = tmp_path / "background.h5"
    select_background(tmp_path / "f.h5", out, size=12, chunk_size=5, seed=1234)
    c = read_hdf5(out, expected={"background": ("background", *FEATURE_DIMS[1:]), "chunk": ("background",)})
    idx = c["background_index"]
    assert len(idx) == 12
    assert len(set(idx.tolist())) == 12
    assert (idx < 50).all()
    np.testing.assert_array_equal(c["background"], features[idx])
    np.testing.assert_array_equal(c["background_label"], np.asarray(label)[idx])
    assert (np.bincount(c["background_label"], minlength=3) >= 4).all()
    assert np.bincount(c["chunk"]).tolist() == [4, 4, 4] == c.json_attr("chunk_sizes")
    assert c.attrs["num_chunks"] == math.ceil(12 / 5)
    assert c.attrs["seed"] == 1234
    assert json.loads(c.attrs["config"]) == {
        "size": 12,
        "chunk_size": 5,
        "seed": 1234,
    }
    assert c.json_attr("class_names") == CLASSES
    again = tmp_path / "again.h5"
    select_background(tmp_path / "f.h5", again, size=12, chunk_size=5, seed=1234)
    np.testing.assert_array_equal(read_hdf5(again)["background_index"], idx)
    # chunks are random subsets: not the draw order by class
    assert any(len(set(c["background_label"][c["chunk"] == k].tolist())) > 1 for k in range(3))
