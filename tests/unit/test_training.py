"""Training and checkpoint loading on a tiny random feature file."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from harxai.config import FEATURE_GROUPS
from harxai.io import Array, read_hdf5, write_hdf5
from harxai.models import CheckpointError, load_model
from harxai.models.training import (
    TrainSettings,
    _batches,
    _lr_factor,
    load_from_checkpoint,
    read_features,
    train_from_features,
)
from harxai.skeletons import SkeletonLayout

CPU = torch.device("cpu")
LAYOUT = SkeletonLayout.from_dict(
    {
        "joints": ["a", "b", "c", "d", "e", "f"],
        "edges": [[0, 1], [1, 2], [2, 3], [1, 4], [4, 5]],
        "center": 1,
        "trunk": ["b", "c"],
        "source": "test",
    },
    name="six",
)
PARAMS: dict[str, Any] = {
    "name": "tiny",
    "preset": "tiny",
    "attention": "joint",
    "checkpoint": None,
    "epochs": 2,
    "batch_size": 4,
    "learning_rate": 0.05,
    "weight_decay": 1e-4,
    "dropout": 0.2,
    "max_train_seconds": None,
    "threshold": 0.45,
}


def _write_features(
    path: Path,
    *,
    classes: int = 3,
    task: str = "multiclass",
    n: int = 18,
    windows: int = 1,
    layout: SkeletonLayout = LAYOUT,
    splits: tuple[str, ...] = ("train", "train", "val"),
) -> Path:
    """A random feature file (sample, group, channel, frame, joint, person) with a class signal."""
    rng = np.random.default_rng(0)
    v, t, m, c = layout.num_joints, 12, 2, 4
    recordings = np.arange(n) // windows
    rec_label = np.arange(recordings.max() + 1) % classes
    label = rec_label[recordings]
    x = rng.normal(0, 1, (n, len(FEATURE_GROUPS), c, t, v, m)).astype(np.float32)
    x[np.arange(n), :, 0, :, label % v, 0] += 2.0
    split = np.array([splits[r % len(splits)] for r in recordings])
    write_hdf5(
        path,
        {
            "features": Array(x, ("sample", "group", "channel", "frame", "joint", "person")),
            "label": Array(label, ("sample",)),
            "recording_id": Array(np.array([f"rec{r:02d}" for r in recordings]), ("sample",)),
            "group": Array(np.array([""] * n), ("sample",)),
            "split": Array(split, ("sample",)),
        },
        config={},
        attrs={
            "layout": layout.to_dict(),
            "class_names": [f"class{k}" for k in range(classes)],
            "task": task,
            "groups": list(FEATURE_GROUPS),
        },
    )
    return path


@pytest.fixture
def features(tmp_path: Path) -> Path:
    return _write_features(tmp_path / "features.h5")


def _train(features: Path, out: Path, **override: Any) -> tuple[Path, Path]:
    params = {**PARAMS, **override}
    model, metrics = out / "model.pt", out / "metrics.h5"
    train_from_features(features, model, metrics, params, seed=7, device=CPU, threads=1)
    return model, metrics


def test_short_training_is_deterministic_and_writes_contract(features: Path, tmp_path: Path) -> None:
    model_a, metrics_a = _train(features, tmp_path / "a")
    model_b, metrics_b = _train(features, tmp_path / "b")
    sd_a = torch.load(model_a, weights_only=True)["state_dict"]
    sd_b = torch.load(model_b, weights_only=True)["state_dict"]
    assert list(sd_a) == list(sd_b)
    assert all(torch.equal(sd_a[k], sd_b[k]) for k in sd_a)
    content = read_hdf5(
        metrics_a,
        expected={
            "val_logits": ("sample", "class"),
            "val_label": ("sample",),
            "val_recording_id": ("sample",),
            "val_index": ("sample",),
            "history/train_loss": ("step",),
        },
    )
    other = read_hdf5(metrics_b)
    np.testing.assert_array_equal(content["val_logits"], other["val_logits"])
    split = read_hdf5(features)["split"]
    np.testing.assert_array_equal(content["val_index"], np.flatnonzero(split == "val"))
    assert content["val_logits"].shape == (6, 3)
    assert content["history/train_loss"].shape == (2,)
    metrics = content.json_attr("metrics")
    assert set(metrics) >= {"top1", "top5"}
    assert 1 <= content.attrs["best_epoch"] <= 2
    # the metrics match the saved model's predictions
    net = load_model(model_a)
    feats = read_hdf5(features)["features"][content["val_index"]]
    with torch.no_grad():
        logits = net(*[torch.from_numpy(feats[:, g]) for g in range(4)]).numpy()
    np.testing.assert_allclose(logits, content["val_logits"], rtol=1e-5, atol=1e-5)
    assert metrics["top1"] == pytest.approx(float(np.mean(logits.argmax(1) == content["val_label"])))


def test_checkpoint_content_is_weights_only(features: Path, tmp_path: Path) -> None:
    model_path, _ = _train(features, tmp_path, epochs=1)
    content = torch.load(model_path, map_location="cpu", weights_only=True)
    assert set(content) >= {"state_dict", "architecture", "layout", "class_names", "task", "harxai_version"}
    assert content["class_names"] == ["class0", "class1", "class2"]
    assert content["task"] == "multiclass"
    assert content["layout"]["name"] == "six"
    json.dumps(content["architecture"])
    assert content["architecture"]["num_joints"] == 6
    assert content["architecture"]["in_channels"] == dict.fromkeys(FEATURE_GROUPS, 4)


def test_load_from_checkpoint_reproduces_validation(features: Path, tmp_path: Path) -> None:
    model_path, metrics_path = _train(features, tmp_path / "train", epochs=1)
    out = tmp_path / "loaded"
    load_from_checkpoint(
        features, model_path, out / "model.pt", out / "metrics.h5", PARAMS, seed=7, device=CPU
    )
    trained, loaded = read_hdf5(metrics_path), read_hdf5(out / "metrics.h5")
    # training ran with threads=1, loading with the process default: float sums may be
    # ordered differently (identical logits for identical threads: test_models round trip)
    np.testing.assert_allclose(trained["val_logits"], loaded["val_logits"], rtol=1e-5, atol=1e-6)
    assert loaded.json_attr("metrics") == pytest.approx(trained.json_attr("metrics"))
    sd_a = torch.load(model_path, weights_only=True)["state_dict"]
    sd_b = torch.load(out / "model.pt", weights_only=True)["state_dict"]
    assert all(torch.equal(sd_a[k], sd_b[k]) for k in sd_a)


def test_load_checkpoint_with_other_class_count_fails(tmp_path: Path) -> None:
    three = _write_features(tmp_path / "three.h5", classes=3)
    two = _write_features(tmp_path / "two.h5", classes=2)
    model_path, _ = _train(three, tmp_path / "train", epochs=1)
    out = tmp_path / "loaded"
    with pytest.raises(CheckpointError) as err:
        load_from_checkpoint(two, model_path, out / "model.pt", out / "m.h5", PARAMS, seed=7, device=CPU)
    msg = str(err.value)
    assert str(model_path) in msg
    assert "num_classes: checkpoint 3 vs declared 2" in msg
    assert "classifier.fc.weight: checkpoint (3, 24) vs declared (2, 24)" in msg
    assert not (out / "model.pt").exists()


def test_load_checkpoint_with_other_layout_fails(tmp_path: Path) -> None:
    spec = LAYOUT.to_dict()
    spec["edges"] = [[0, 1], [1, 2], [2, 3], [3, 4], [4, 5]]
    chain = SkeletonLayout.from_dict(spec, name="chain6")
    model_path, _ = _train(_write_features(tmp_path / "six.h5"), tmp_path / "train", epochs=1)
    other = _write_features(tmp_path / "chain.h5", layout=chain)
    with pytest.raises(CheckpointError) as err:
        load_from_checkpoint(
            other, model_path, tmp_path / "m.pt", tmp_path / "m.h5", PARAMS, seed=7, device=CPU
        )
    msg = str(err.value)
    assert "layout edges: checkpoint layout 'six' vs declared 'chain6'" in msg
    assert "adjacency: values differ" in msg


def test_load_checkpoint_with_other_attention_fails(features: Path, tmp_path: Path) -> None:
    model_path, _ = _train(features, tmp_path / "train", epochs=1)
    params = {**PARAMS, "attention": "frame"}
    with pytest.raises(
        CheckpointError, match=r"(?s)attention: checkpoint 'joint' vs declared 'frame'.*missing keys"
    ):
        load_from_checkpoint(
            features, model_path, tmp_path / "m.pt", tmp_path / "m.h5", params, seed=7, device=CPU
        )


def test_binary_task_writes_recording_metrics(tmp_path: Path) -> None:
    feats = _write_features(
        tmp_path / "binary.h5", classes=2, task="binary", n=24, windows=3, splits=("train", "val")
    )
    _, metrics_path = _train(feats, tmp_path, attention="frame")
    content = read_hdf5(metrics_path)
    metrics = content.json_attr("metrics")
    for key in ("window_auc", "recording_auc", "recording_sensitivity", "recording_specificity"):
        assert key in metrics
    assert metrics["num_recordings"] == 4
    assert content["recordings/probability"].shape == (4,)
    assert content.dims["recordings/probability"] == ("recording",)
    # the recording probability is the median of the windows' P(positive)
    logits = content["val_logits"].astype(np.float64)
    prob = np.exp(logits[:, 1]) / np.exp(logits).sum(axis=1)
    first = content["val_recording_id"] == content["recordings/id"][0]
    assert content["recordings/probability"][0] == pytest.approx(np.median(prob[first]), rel=1e-5)


def test_max_train_seconds_stops_after_one_epoch(features: Path, tmp_path: Path) -> None:
    _, metrics_path = _train(features, tmp_path, epochs=5, max_train_seconds=0.0)
    assert read_hdf5(metrics_path)["history/train_loss"].shape == (1,)


def test_missing_validation_split_is_named(tmp_path: Path) -> None:
    feats = _write_features(tmp_path / "noval.h5", splits=("train",))
    with pytest.raises(ValueError, match=r"noval\.h5: no validation samples"):
        _train(feats, tmp_path, epochs=1)


def test_read_features_checks_groups(tmp_path: Path) -> None:
    path = _write_features(tmp_path / "f.h5")
    feats = read_features(path)
    assert feats.group_index == (0, 1, 2, 3)
    assert feats.shape == (18, 4, 4, 12, 6, 2)
    lazy = read_features(path, max_bytes=0)
    index = np.array([5, 1, 3])
    np.testing.assert_array_equal(lazy.rows(index), feats.rows(index))
    lazy.close()


def test_batches_cover_all_rows_without_single_sample_batches() -> None:
    for n, size in ((9, 4), (10, 3), (4, 4), (2, 1)):
        batches = list(_batches(n, size, torch.Generator().manual_seed(0)))
        assert sorted(np.concatenate(batches).tolist()) == list(range(n))
        assert min(len(b) for b in batches) >= min(2, n) or size == 1


def test_learning_rate_schedule() -> None:
    assert _lr_factor(0, warmup=4, total=20) == pytest.approx(0.25)
    assert _lr_factor(3, warmup=4, total=20) == pytest.approx(1.0)
    assert _lr_factor(4, warmup=4, total=20) == pytest.approx(1.0)
    assert _lr_factor(12, warmup=4, total=20) == pytest.approx(0.5 * (1 + math.cos(math.pi * 0.5)))
    assert _lr_factor(20, warmup=4, total=20) == pytest.approx(0.0)


def test_settings_from_params_ignore_workflow_keys() -> None:
    settings = TrainSettings.from_params({**PARAMS, "epochs": 3, "max_train_seconds": None})
    assert settings.epochs == 3
    assert settings.max_train_seconds is None
    assert settings.preset == "tiny"
