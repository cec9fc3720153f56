"""ingest_dataset: raw folders -> sequences.h5 (contract in notes/contracts.md)."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from malformed import (
    NTU_JOINTS,
    csv_text,
    layout_param,
    make_spec,
    simple_ntu_frames,
    write_manifest,
    write_ntu,
)

import harxai.io.hdf5 as hdf5_module
from harxai.config import ConfigError
from harxai.io import read_hdf5
from harxai.io.ingest import ingest_dataset, random_group_split
from harxai.io.readers import read_kinetics_json, read_ntu_skeleton
from harxai.skeletons import IN_MOTION_2022, NTU25, OPENPOSE18

SEQUENCES = {
    "coords": ("frame", "channel", "joint", "person"),
    "timestamps": ("frame",),
    "offsets": ("sample",),
    "lengths": ("sample",),
    "label": ("sample",),
    "recording_id": ("sample",),
    "group": ("sample",),
    "split": ("sample",),
    "fps": ("sample",),
    "interpolated": ("sample",),
}
NTU_STEMS = (
    "S001C001P001R001A001",
    "S001C001P001R001A011",
    "S001C003P008R002A058",
    "S002C001P003R001A003",
    "S003C001P015R001A034",
    "S004C002P003R001A017",
)
OFFICIAL_HEADER = (
    "302 of the captured samples in the NTU RGB+D dataset have missing or incomplete skeleton data.\n"
    "If you are working on skeleton-based analysis, please ignore these files.\n\n"
)


def _ingest(spec: dict[str, Any], out: Path) -> Any:
    ingest_dataset(spec, layout_param(spec), str(out))
    return read_hdf5(out, SEQUENCES)


def _sample(content: Any, i: int) -> tuple[np.ndarray, np.ndarray]:
    start, length = int(content["offsets"][i]), int(content["lengths"][i])
    return content["coords"][start : start + length], content["timestamps"][start : start + length]


@pytest.fixture
def ntu_folder(real_data: Path, tmp_path: Path) -> Path:
    """The six real NTU files copied into tmp_path (never into the repository)."""
    folder = tmp_path / "ntu"
    folder.mkdir()
    for stem in NTU_STEMS:
        shutil.copy(real_data / "ntu-rgbd" / f"{stem}.skeleton", folder)
    return folder


def test_ntu_ingest_contract_and_default_ignore_list(
    ntu_folder: Path, real_data: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    ignore = ntu_folder / "samples_with_missing_skeletons.txt"
    ignore.write_text(OFFICIAL_HEADER + "S001C002P005R002A008\nS002C001P003R001A003\n")
    spec = make_spec("ntu", ntu_folder, name="ntu_real")
    with caplog.at_level(logging.INFO, logger="harxai"):
        content = _ingest(spec, tmp_path / "out" / "sequences.h5")
    assert "skipped 1 of 6 files" in caplog.text
    kept = [s for s in NTU_STEMS if s != "S002C001P003R001A003"]
    assert content["recording_id"].tolist() == kept
    assert content["coords"].dtype == np.float32
    assert content["timestamps"].dtype == np.float64
    assert content["label"].dtype == np.int64
    assert content["group"].tolist() == ["P001", "P001", "P008", "P015", "P003"]
    assert content["split"].tolist() == ["val", "val", "train", "val", "train"]  # xview: cameras 2, 3 train
    names = content.json_attr("class_names")
    assert names == ["A001", "A011", "A017", "A034", "A058"]
    assert [names[k] for k in content["label"]] == [f"A{s[-3:]}" for s in kept]
    np.testing.assert_array_equal(content["lengths"], [103, 82, 70, 71, 124])
    np.testing.assert_array_equal(content["offsets"], [0, 103, 185, 255, 326])
    np.testing.assert_array_equal(content["fps"], 30.0)
    np.testing.assert_array_equal(content["interpolated"], 0)
    for i, stem in enumerate(kept):
        coords, times = _sample(content, i)
        expected = read_ntu_skeleton(ntu_folder / f"{stem}.skeleton").coords.astype(np.float32)
        np.testing.assert_array_equal(coords, expected)
        np.testing.assert_allclose(times, np.arange(len(times)) / 30.0)
    oracle = np.load(real_data / "ntu-rgbd" / "S001C001P001R001A001.skeleton.npy", allow_pickle=True).item()
    np.testing.assert_array_equal(
        _sample(content, 0)[0][:, :, :, 0], oracle["skel_body0"].transpose(0, 2, 1).astype(np.float32)
    )
    attrs = content.attrs
    assert (attrs["dataset"], attrs["kind"], attrs["task"], attrs["num_channels"]) == (
        "ntu_real",
        "ntu",
        "multiclass",
        3,
    )
    assert content.json_attr("layout") == NTU25.to_dict()
    inputs = content.json_attr("inputs")
    assert str(ignore) in inputs
    assert sum(p.endswith(".skeleton") for p in inputs) == 5
    assert not any("S002C001P003R001A003" in p for p in inputs)
    assert content.json_attr("config")["dataset"]["path"] == str(ntu_folder)
    assert attrs["seed"] == -1


def test_ntu_explicit_ignore_list_classes_and_xsub(ntu_folder: Path, tmp_path: Path) -> None:
    ignore = tmp_path / "skip.txt"
    ignore.write_text("S001C001P001R001A011.skeleton\n")
    spec = make_spec("ntu", ntu_folder, classes=[58, 1, 11], split="xsub", ignore_list=str(ignore))
    content = _ingest(spec, tmp_path / "out.h5")
    assert content["recording_id"].tolist() == ["S001C001P001R001A001", "S001C003P008R002A058"]
    assert content.json_attr("class_names") == [
        "A001",
        "A011",
        "A058",
    ]  # A011 kept though its only file is ignored
    np.testing.assert_array_equal(content["label"], [0, 2])
    assert content["split"].tolist() == ["train", "train"]  # performers 1 and 8 are xsub training performers


def test_ntu_two_classes_binary_with_names(ntu_folder: Path, tmp_path: Path) -> None:
    spec = make_spec(
        "ntu", ntu_folder, classes=[3, 17], class_names=["brush teeth", "take off shoe"], split="xsub"
    )
    content = _ingest(spec, tmp_path / "out.h5")
    assert content["recording_id"].tolist() == ["S002C001P003R001A003", "S004C002P003R001A017"]
    np.testing.assert_array_equal(content["label"], [0, 1])
    assert content.json_attr("class_names") == ["brush teeth", "take off shoe"]
    assert content.attrs["task"] == "binary"
    assert content["split"].tolist() == ["val", "val"]  # performer 3 is not an xsub training performer


def test_class_names_must_match_kept_classes(ntu_folder: Path, tmp_path: Path) -> None:
    spec = make_spec("ntu", ntu_folder, classes=[3, 17], class_names=["only one"])
    with pytest.raises(ConfigError, match="class_names"):
        ingest_dataset(spec, layout_param(spec), str(tmp_path / "out.h5"))
    assert not (tmp_path / "out.h5").exists()


def test_ntu_manifest_overrides_fps_label_split(tmp_path: Path) -> None:
    folder = tmp_path / "raw"
    write_ntu(folder / "S001C001P001R001A001.skeleton", simple_ntu_frames(4))
    write_ntu(folder / "S001C001P002R001A002.skeleton", simple_ntu_frames(3))
    rows = [{"recording_id": "S001C001P001R001A001", "fps": 15, "split": "train", "label": 2, "group": "kid"}]
    write_manifest(folder / "manifest.csv", rows, ("recording_id", "fps", "label", "split", "group"))
    spec = make_spec("synthetic_ntu", folder)  # manifest defaults to <path>/manifest.csv
    content = _ingest(spec, tmp_path / "out.h5")
    np.testing.assert_array_equal(content["label"], [0, 0])  # both are action 2 now
    assert content.json_attr("class_names") == ["A002"]
    np.testing.assert_array_equal(content["fps"], [15.0, 30.0])
    np.testing.assert_allclose(_sample(content, 0)[1], np.arange(4) / 15)
    assert content["split"].tolist() == ["train", "val"]
    assert content["group"].tolist() == ["kid", "P002"]


def test_synthetic_ntu_without_manifest(tmp_path: Path) -> None:
    folder = tmp_path / "raw"
    write_ntu(folder / "S001C002P001R001A001.skeleton", simple_ntu_frames(3))
    spec = make_spec("synthetic_ntu", folder, fps=25.0)
    content = _ingest(spec, tmp_path / "out.h5")
    np.testing.assert_array_equal(content["fps"], [25.0])
    assert content["split"].tolist() == ["train"]


def test_interpolated_frames_counted_and_logged(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    frames = simple_ntu_frames(5)
    frames[2] = []  # the body is missing inside its span
    write_ntu(tmp_path / "raw" / "S001C001P001R001A001.skeleton", frames)
    spec = make_spec("ntu", tmp_path / "raw")
    with caplog.at_level(logging.INFO, logger="harxai"):
        content = _ingest(spec, tmp_path / "out.h5")
    np.testing.assert_array_equal(content["interpolated"], [NTU_JOINTS * 3])
    assert f"S001C001P001R001A001.skeleton: interpolated {NTU_JOINTS * 3} values" in caplog.text
    expected = np.array([f[0][1] for f in simple_ntu_frames(5)])  # y moves linearly: exact
    np.testing.assert_allclose(_sample(content, 0)[0][:, :, :, 0].transpose(0, 2, 1), expected)


def test_kinetics_ingest(real_data: Path, tmp_path: Path) -> None:
    folder = tmp_path / "kin"
    folder.mkdir()
    sources = [
        real_data / "kinetics-skeleton" / "--33Lscn6sk.json",
        *sorted((real_data / "ntu-rgbd-openpose-stgcn-json").glob("*.json")),
    ]
    for src in sources:
        shutil.copy(src, folder)
    spec = make_spec("kinetics_json", folder)
    out = tmp_path / "out.h5"
    first = _ingest(spec, out)
    assert first.json_attr("class_names") == ["throw", "hugging other person", "flipping pancake"]
    ids = first["recording_id"].tolist()
    assert ids == ["--33Lscn6sk", "S004C002P003R001A055_rgb", "S004C003P003R001A007_rgb"]
    np.testing.assert_array_equal(first["label"], [2, 1, 0])
    assert first.attrs["num_channels"] == 2
    assert first.json_attr("layout") == OPENPOSE18.to_dict()
    assert set(first["split"].tolist()) <= {"train", "val"}
    for i, stem in enumerate(ids):
        rec = read_kinetics_json(folder / f"{stem}.json")
        np.testing.assert_array_equal(_sample(first, i)[0], rec.coords.astype(np.float32))
        assert first["interpolated"][i] == rec.interpolated
    second = _ingest(spec, tmp_path / "again.h5")
    assert second["split"].tolist() == first["split"].tolist()


JOINTS = IN_MOTION_2022.joints


def _write_infant(
    folder: Path, rows: list[dict[str, Any]], columns: tuple[str, ...]
) -> dict[str, np.ndarray]:
    """One CSV per row with random exact values; return the (frame, channel, joint) arrays."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    arrays = {}
    for k, row in enumerate(rows):
        values = np.round(rng.uniform(0, 640, size=(6 + k, len(JOINTS), 2)) * 4) / 4
        table = [[t / 25, *values[t].ravel().tolist()] for t in range(len(values))]
        (folder / f"{row['recording_id']}.csv").write_text(csv_text(JOINTS, table))
        arrays[row["recording_id"]] = values.transpose(0, 2, 1)
    write_manifest(folder / "manifest.csv", rows, columns)
    return arrays


def test_csv_string_labels_manifest_split(tmp_path: Path) -> None:
    rows = [
        {"recording_id": f"inf{k}", "label": "cp" if k % 2 else "typical", "group": f"s{k // 2}",
         "fps": 30 if k == 0 else None, "split": "val" if k < 2 else "train"}
        for k in range(5)
    ]  # fmt: skip
    arrays = _write_infant(tmp_path / "raw", rows, ("recording_id", "label", "group", "fps", "split"))
    text = (tmp_path / "raw" / "inf3.csv").read_text().splitlines()
    cells = text[2].split(",")
    cells[1] = ""  # head_top_x of frame 1 missing: interpolated from frames 0 and 2
    text[2] = ",".join(cells)
    (tmp_path / "raw" / "inf3.csv").write_text("\n".join(text) + "\n")
    spec = make_spec("keypoints_csv", tmp_path / "raw", fps=25.0)
    content = _ingest(spec, tmp_path / "out.h5")
    assert content.json_attr("class_names") == ["cp", "typical"]
    assert content.attrs["task"] == "binary"
    assert content.attrs["num_channels"] == 2
    np.testing.assert_array_equal(content["label"], [1, 0, 1, 0, 1])
    assert content["split"].tolist() == ["val", "val", "train", "train", "train"]
    assert content["group"].tolist() == ["s0", "s0", "s1", "s1", "s2"]
    np.testing.assert_array_equal(content["fps"], [30, 25, 25, 25, 25])
    np.testing.assert_array_equal(content["interpolated"], [0, 0, 0, 1, 0])
    assert content["coords"].shape[1:] == (2, 29, 1)
    for i in range(5):
        coords, times = _sample(content, i)
        expected = arrays[f"inf{i}"].copy()
        if i == 3:
            expected[1, 0, 0] = (expected[0, 0, 0] + expected[2, 0, 0]) / 2
        np.testing.assert_allclose(coords[..., 0], expected.astype(np.float32), rtol=1e-6)
        np.testing.assert_allclose(times, np.arange(len(times)) / 25)
    flipped = make_spec("keypoints_csv", tmp_path / "raw", fps=25.0, class_names=["typical", "cp"])
    content = _ingest(flipped, tmp_path / "flipped.h5")
    np.testing.assert_array_equal(content["label"], [0, 1, 0, 1, 0])
    assert content.json_attr("class_names") == ["typical", "cp"]


def test_csv_integer_labels_and_class_subset(tmp_path: Path) -> None:
    rows = [{"recording_id": f"r{k}", "label": k % 3, "group": f"g{k}"} for k in range(6)]
    _write_infant(tmp_path / "raw", rows, ("recording_id", "label", "group"))
    spec = make_spec("keypoints_csv", tmp_path / "raw", fps=25.0)
    content = _ingest(spec, tmp_path / "all.h5")
    assert content.json_attr("class_names") == ["label_0", "label_1", "label_2"]
    assert content.attrs["task"] == "multiclass"
    np.testing.assert_array_equal(content["label"], [0, 1, 2, 0, 1, 2])
    subset = make_spec(
        "keypoints_csv", tmp_path / "raw", fps=25.0, classes=[2, 0], class_names=["zero", "two"]
    )
    content = _ingest(subset, tmp_path / "subset.h5")
    assert content["recording_id"].tolist() == ["r0", "r2", "r3", "r5"]
    np.testing.assert_array_equal(content["label"], [0, 1, 0, 1])
    assert content.json_attr("class_names") == ["zero", "two"]
    assert content.attrs["task"] == "binary"


def test_csv_random_split_by_group(tmp_path: Path) -> None:
    rows = [
        {"recording_id": f"r{k}", "label": (k // 2) % 2, "group": f"g{k // 2}", "split": "train"}
        for k in range(20)
    ]
    _write_infant(tmp_path / "raw", rows, ("recording_id", "label", "group", "split"))
    spec = make_spec("keypoints_csv", tmp_path / "raw", fps=25.0, split="random", val_fraction=0.3)
    content = _ingest(spec, tmp_path / "out.h5")
    split, group, label = content["split"], content["group"], content["label"]
    for g in set(group.tolist()):
        assert len(set(split[group == g].tolist())) == 1  # a subject is never on both sides
    for lab in (0, 1):
        val_groups = set(group[(label == lab) & (split == "val")].tolist())
        assert len(val_groups) == 2  # round(0.3 * 5) groups per label
    again = _ingest(spec, tmp_path / "again.h5")
    assert again["split"].tolist() == split.tolist()
    manifest = _ingest(make_spec("keypoints_csv", tmp_path / "raw", fps=25.0), tmp_path / "manifest.h5")
    assert set(manifest["split"].tolist()) == {"train"}  # the split column is the default


def test_random_group_split_rules() -> None:
    groups = ["a", "a", "b", "c", "d", "e", "f"]
    labels = [0, 0, 0, 0, 1, 1, 1]
    split = random_group_split(groups, labels, 0.3)
    assert split[0] == split[1]
    val = {g for g, s in zip(groups, split, strict=True) if s == "val"}
    assert len(val & {"a", "b", "c"}) == 1  # round(0.9) = 1
    assert len(val & {"d", "e", "f"}) == 1
    assert random_group_split(["x", "y"], [0, 1], 0.5).tolist() == ["train", "train"]  # singleton strata
    np.testing.assert_array_equal(random_group_split(groups, labels, 0.3), split)


def test_failed_write_leaves_no_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_ntu(tmp_path / "raw" / "S001C001P001R001A001.skeleton", simple_ntu_frames(3))
    spec = make_spec("ntu", tmp_path / "raw")
    real_prepare = hdf5_module._prepare

    def failing_prepare(name: str, arr: Any) -> Any:
        if name == "label":
            raise OSError("disk full")
        return real_prepare(name, arr)

    monkeypatch.setattr(hdf5_module, "_prepare", failing_prepare)
    out = tmp_path / "results" / "sequences.h5"
    with pytest.raises(OSError, match="disk full"):
        ingest_dataset(spec, layout_param(spec), str(out))
    assert not out.exists()
    assert list(out.parent.iterdir()) == []  # no temporary file left either


def test_provenance_config_holds_spec_and_layout(tmp_path: Path) -> None:
    write_ntu(tmp_path / "raw" / "S001C001P001R001A001.skeleton", simple_ntu_frames(3))
    spec = make_spec("ntu", tmp_path / "raw", max_persons=1)
    content = _ingest(spec, tmp_path / "out.h5")
    config = json.loads(content.attrs["config"])
    assert config == {"dataset": spec, "layout": {"name": "ntu25", "user": None}}
    assert content["coords"].shape[3] == 1
