"""Bad recordings set aside (``on_bad_recording``), ``rejected.csv``, and memory bounded by ``max_seconds``."""

from __future__ import annotations

import contextlib
import csv
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from malformed import (
    NTU_JOINTS,
    layout_param,
    make_spec,
    simple_kinetics_data,
    write_kinetics,
    write_ntu,
)

from harxai.io import read_hdf5
from harxai.io.ingest import ingest_dataset
from harxai.io.readers import ReaderError, read_kinetics_json, read_ntu_skeleton
from harxai.preprocess import preprocess_file

PREPROCESS = {"target_fps": 30.0, "median_window": 1, "fixed_frames": 20}


def _body(f: int, shift: float = 0.0) -> np.ndarray:
    """A standing NTU body: spine along y, trunk 0.5 m, moving in x."""
    xyz = np.zeros((NTU_JOINTS, 3))
    xyz[:, 1] = np.linspace(0.0, 1.5, NTU_JOINTS)
    xyz[:, 0] = 0.01 * f + shift + 0.05 * np.sin(np.arange(NTU_JOINTS))
    xyz[:, 2] = 3.0
    return xyz


def _good(path: Path, frames: int = 15, shift: float = 0.0) -> None:
    write_ntu(path, [[("1", _body(f, shift))] for f in range(frames)])


def _dataset(raw: Path) -> None:
    """Two actions, cameras 1 (val) and 2 (train): 4 good recordings."""
    for cam in (1, 2):
        for action in (1, 2):
            _good(raw / f"S001C00{cam}P001R001A00{action}.skeleton", shift=0.1 * action)


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open() as fh:
        return list(csv.DictReader(fh))


def test_bad_files_are_set_aside_and_listed(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    _dataset(raw)
    (raw / "S001C002P001R002A001.skeleton").write_text("2\r\n1\r\nbroken\r\n")  # fails to parse
    _good(raw / "S001C002P002R001A002.skeleton", frames=1)  # one frame: too few to preprocess
    flat = raw / "S001C002P003R001A001.skeleton"
    write_ntu(flat, [[("1", np.ones((NTU_JOINTS, 3)))] for _ in range(15)])  # no trunk: zero length
    spec = make_spec("ntu", raw)
    seq, win, rejected = tmp_path / "s.h5", tmp_path / "w.h5", tmp_path / "rejected.csv"
    ingest_dataset(spec, layout_param(spec), str(seq))
    assert len(read_hdf5(seq)["recording_id"]) == 6
    preprocess_file(str(seq), str(win), PREPROCESS, "fixed", rejected, "skip")
    rows = _rows(rejected)
    assert [r["recording_id"] for r in rows] == [
        "S001C002P001R002A001",
        "S001C002P002R001A002",
        "S001C002P003R001A001",
    ]
    assert [r["stage"] for r in rows] == ["ingest", "preprocess", "preprocess"]
    assert rows[0]["file"].endswith("S001C002P001R002A001.skeleton")
    assert "body info line" in rows[0]["reason"]
    assert "present in 1 frames, fewer than preprocess.min_person_frames" in rows[1]["reason"]
    assert rows[2]["file"] == str(flat)
    assert "trunk" in rows[2]["reason"]
    content = read_hdf5(win)
    assert sorted(set(content["recording_id"].astype(str))) == sorted(
        f"S001C00{c}P001R001A00{a}" for c in (1, 2) for a in (1, 2)
    )
    assert content["confidence"].shape == (4, 20, NTU_JOINTS, 2)
    assert np.isfinite(content["data"]).all()


def test_error_mode_stops_naming_the_file(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    _dataset(raw)
    _good(raw / "S001C002P002R001A002.skeleton", frames=1)
    spec = make_spec("ntu", raw, on_bad_recording="error")
    seq = tmp_path / "s.h5"
    ingest_dataset(spec, layout_param(spec), str(seq))
    with pytest.raises(ValueError, match=r"S001C002P002R001A002\.skeleton: .*min_person_frames"):
        preprocess_file(str(seq), str(tmp_path / "w.h5"), PREPROCESS, "fixed", tmp_path / "r.csv", "error")
    assert not (tmp_path / "w.h5").exists()
    (raw / "S001C001P001R002A001.skeleton").write_text("garbage\r\n")
    with pytest.raises(ReaderError, match=r"S001C001P001R002A001\.skeleton: line 1"):
        ingest_dataset(spec, layout_param(spec), str(tmp_path / "s2.h5"))


def test_dataset_left_too_small_fails_clearly(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    _good(raw / "S001C002P001R001A001.skeleton")
    _good(raw / "S001C001P001R001A002.skeleton")
    (raw / "S001C002P001R001A002.skeleton").write_text("1\r\n")  # the only train file of class 2
    spec = make_spec("ntu", raw)
    with pytest.raises(
        ReaderError,
        match=r"too few recordings to train: 1 training recordings of 1 classes.*1 recordings were set aside",
    ):
        ingest_dataset(spec, layout_param(spec), str(tmp_path / "s.h5"))


def test_real_json_clips_never_stop_the_dataset(real_data: Path, tmp_path: Path) -> None:
    """Every real Kinetics-format clip is ingested and preprocessed, or set aside with a reason."""
    raw = tmp_path / "raw"
    raw.mkdir()
    sources = [*sorted((real_data / "kinetics-skeleton").glob("*.json"))]
    sources += sorted((real_data / "ntu-rgbd-openpose-stgcn-json").glob("*.json"))
    for src in sources:  # symlinks: the real files are read in place, never copied
        (raw / src.name).symlink_to(src)
    labels = {p.stem: i % 2 for i, p in enumerate(sources)}
    (raw / "m.csv").write_text(
        "recording_id,label,split\n"
        + "".join(f"{k},{v},{'train' if i < 2 else 'val'}\n" for i, (k, v) in enumerate(labels.items()))
    )
    spec = make_spec("kinetics_json", raw, manifest=str(raw / "m.csv"))
    ingest_dataset(spec, layout_param(spec), str(tmp_path / "s.h5"))
    preprocess_file(
        str(tmp_path / "s.h5"), str(tmp_path / "w.h5"), PREPROCESS, "fixed", tmp_path / "r.csv", "skip"
    )
    content = read_hdf5(tmp_path / "w.h5")
    kept = set(content["recording_id"].astype(str))
    rejected = {r["recording_id"] for r in _rows(tmp_path / "r.csv")}
    assert kept | rejected == set(labels)
    assert not kept & rejected
    data, conf = content["data"], content["confidence"]
    assert np.isfinite(data).all()
    assert (conf > 0).any()
    assert (conf == 0).any()
    # under missing: zero no undetected key point keeps a coordinate (the old (0, 0) artefacts)
    preprocess_file(
        str(tmp_path / "s.h5"),
        str(tmp_path / "z.h5"),
        {**PREPROCESS, "missing": "zero"},
        "fixed",
        tmp_path / "r2.csv",
        "skip",
    )
    zero = read_hdf5(tmp_path / "z.h5")
    undetected = np.broadcast_to((zero["confidence"] == 0)[:, None], zero["data"].shape)
    np.testing.assert_array_equal(zero["data"][undetected], 0.0)
    assert np.abs(zero["data"]).max() > 0


def _peak_mb(fn) -> float:  # type: ignore[no-untyped-def]
    tracemalloc.start()
    with contextlib.suppress(ReaderError, ValueError):
        fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20


def test_huge_time_spans_are_refused_without_allocating(tmp_path: Path) -> None:
    # an NTU file whose body appears in frame 1 and in frame 60,000 (33 min at 30 fps)
    path = tmp_path / "S001C001P001R001A001.skeleton"
    lines = ["60000", "1", "1 0 1 1 1 1 0 0 0 2", "25"] + ["0.1 0.2 3 0 0 0 0 0 0 0 0 2"] * 25
    lines += ["0"] * 59998 + ["1", "1 0 1 1 1 1 0 0 0 2", "25"] + ["0.1 0.2 3 0 0 0 0 0 0 0 0 2"] * 25
    path.write_text("\r\n".join(lines) + "\r\n")
    assert _peak_mb(lambda: read_ntu_skeleton(path, max_seconds=1800.0)) < 100
    with pytest.raises(ReaderError, match="recording too long"):
        read_ntu_skeleton(path, max_seconds=1800.0)
    data = simple_kinetics_data(2)
    data[1]["frame_index"] = 10**9
    clip = write_kinetics(tmp_path / "clip.json", data)
    assert _peak_mb(lambda: read_kinetics_json(clip, max_seconds=1800.0)) < 50
    with pytest.raises(ReaderError, match=r"clip\.json: recording too long"):
        read_kinetics_json(clip, max_seconds=1800.0)


def test_preprocess_refuses_a_long_sequence_before_allocating(tmp_path: Path) -> None:
    """A sequences.h5 made elsewhere with a 10^6 s recording: set aside, not resampled."""
    raw = tmp_path / "raw"
    _dataset(raw)
    spec = make_spec("ntu", raw, max_seconds=None)
    seq = tmp_path / "s.h5"
    ingest_dataset(spec, layout_param(spec), str(seq))
    import h5py

    with h5py.File(seq, "r+") as fh:
        ts = fh["timestamps"]
        first_len = int(fh["lengths"][0])
        ts[first_len - 1] = 1e6  # the first recording's last frame at 10^6 s (30 M frames at 30 fps)
    peak = _peak_mb(
        lambda: preprocess_file(
            str(seq), str(tmp_path / "w.h5"), PREPROCESS, "fixed", tmp_path / "r.csv", "skip"
        )
    )
    assert peak < 300
    rows = _rows(tmp_path / "r.csv")
    assert len(rows) == 1
    assert "max_seconds" in rows[0]["reason"]


def test_memory_error_of_a_reader_names_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    raw = tmp_path / "raw"
    _dataset(raw)
    from harxai.io import ingest

    real = ingest.read_ntu_skeleton

    def exhausted(path: Path, **kw: object) -> object:
        if "C002P001R001A001" in str(path):
            raise MemoryError
        return real(path, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(ingest, "read_ntu_skeleton", exhausted)
    spec = make_spec("ntu", raw, on_bad_recording="error")
    with pytest.raises(ReaderError, match=r"S001C002P001R001A001\.skeleton: out of memory"):
        ingest_dataset(spec, layout_param(spec), str(tmp_path / "s.h5"))
