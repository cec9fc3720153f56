"""Bounded-memory data jobs: block-wise HDF5 writes and reads give the in-memory values exactly.

The references are the in-memory computations (``preprocess_sequences`` and ``compute_features``
on whole arrays, ``FileContract.write``) and the readers' own output; the streamed files must
equal them bit for bit whatever the block size and the number of reader processes.
"""

from __future__ import annotations

import csv
import json
import logging
import os
from pathlib import Path

import h5py
import numpy as np
import pytest

from harxai import features as features_module
from harxai.config import resolve_dataset
from harxai.features import FeatureParams, compute_feature_file, compute_features
from harxai.io import HDF5ContractError, pool, read_hdf5
from harxai.io.blocks import BlockWriter, LazyRows, chunk_rows, iter_blocks, read_except
from harxai.io.contracts import SEQUENCES, WINDOWS, DatasetSpec, FileContract
from harxai.io.ingest import FrameStore, ingest_dataset
from harxai.io.pool import ReadJob, read_batches
from harxai.io.readers import ReaderError, Recording, read_ntu_skeleton
from harxai.models.training import read_features
from harxai.preprocess import BadRecording, PreprocessParams, preprocess_file, preprocess_sequences
from harxai.skeletons import SkeletonLayout, get_layout
from harxai.synthetic.generate import generate_synthetic

PREPROCESS = {"target_fps": 30.0, "median_window": 5, "fixed_frames": 40}
TOY = FileContract(
    name="toy",
    path="toy.h5",
    rule="none",
    doc="test",
    datasets=(
        DatasetSpec("values", ("frame", "channel", "joint"), "float32", "v"),
        DatasetSpec("times", ("frame",), "float64", "t", units="s"),
        DatasetSpec("names", ("sample",), "str", "n"),
        DatasetSpec("score", ("sample",), "float32", "s", nan_allowed=True, required=False),
    ),
    attrs=("task",),
)


def all_arrays(path: Path) -> dict[str, np.ndarray]:
    with h5py.File(path, "r") as fh:
        out: dict[str, np.ndarray] = {}
        fh.visititems(lambda n, o: out.__setitem__(n, o[()]) if isinstance(o, h5py.Dataset) else None)
    return out


def assert_same_arrays(a: Path, b: Path) -> None:
    x, y = all_arrays(a), all_arrays(b)
    assert sorted(x) == sorted(y)
    for name in x:
        assert x[name].dtype == y[name].dtype, name
        np.testing.assert_array_equal(x[name], y[name], err_msg=name)


def without_created(path: Path) -> dict[str, object]:
    return {k: v for k, v in read_hdf5(path, load=()).attrs.items() if k != "created"}


@pytest.fixture(scope="module")
def ntu_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("raw") / "synth_ntu"
    generate_synthetic(folder, {"kind": "synthetic_ntu", "num_classes": 3, "samples_per_class": 6}, 7)
    return folder


@pytest.fixture(scope="module")
def chain(ntu_folder: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """sequences.h5 (ingested with 2 reader processes), windows.h5, features.h5 of the folder."""
    out = tmp_path_factory.mktemp("chain")
    spec = resolve_dataset("s", {"kind": "synthetic_ntu", "path": str(ntu_folder)})
    paths = {k: out / f"{k}.h5" for k in ("sequences", "windows", "features")}
    ingest_dataset(spec, {"name": "ntu25", "user": None}, str(paths["sequences"]), threads=2)
    preprocess_file(paths["sequences"], paths["windows"], PREPROCESS, "fixed", block_recordings=4)
    compute_feature_file(paths["windows"], paths["features"], {})
    return paths


def test_block_writer_equals_the_contract_write(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    values = rng.normal(size=(37, 3, 4))  # float64: stored as float32 by both
    times = rng.uniform(size=37)  # kept as float64 by the contract
    names = np.array([f"r{i}" for i in range(37)], dtype=str)
    score = np.where(rng.uniform(size=37) < 0.3, np.nan, 1.0)  # NaN allowed here
    whole = tmp_path / "whole.h5"
    attrs = {"layout": {"name": "n"}, "task": "binary"}
    TOY.write(
        whole,
        {"values": values, "times": times, "names": names, "score": score},
        config={"a": 1},
        inputs=["x"],
        attrs=attrs,
    )
    streamed = tmp_path / "streamed.h5"
    with BlockWriter(streamed, TOY) as out:
        for start, stop in ((0, 5), (5, 6), (6, 20), (20, 37)):
            out.append("values", values[start:stop])
            out.append("times", times[start:stop])
        out.append("score", score[:0])
        out.append("score", score)
        out.write("names", names)
        out.finish(config={"a": 1}, inputs=["x"], attrs=attrs)
    assert_same_arrays(whole, streamed)
    a, b = read_hdf5(whole), read_hdf5(streamed)
    assert a.dims == b.dims
    assert without_created(whole) == without_created(streamed)
    with h5py.File(streamed) as fh:
        assert fh["times"].attrs["units"] == "s"
        assert fh["times"].dtype == np.float64
        assert fh["values"].chunks[1:] == (3, 4)  # whole rows per chunk
        blocks = list(iter_blocks(fh["values"], 10))
    assert [s for s, _ in blocks] == [0, 10, 20, 30]
    np.testing.assert_array_equal(np.concatenate([b for _, b in blocks]), values.astype(np.float32))


def _write(target: Path, body: str) -> None:
    with BlockWriter(target, TOY) as out:
        out.append("values", np.zeros((3, 2, 1)))
        if body == "raise":
            raise KeyError("boom")
        if body == "shape":
            out.append("values", np.zeros((3, 4, 1)))
        if body == "nan":
            out.append("values", np.full((2, 2, 1), np.nan))
        if body == "overflow":  # finite in float64, inf once stored as float32
            out.append("values", np.full((2, 2, 1), 1e300))
        if body == "unknown":
            out.append("other", np.zeros(3))
        out.append("times", np.zeros(3))
        if body != "missing":
            out.write("names", np.array(["a"]))
        if body == "no finish":
            return
        out.finish(config={}, attrs={} if body == "attr" else {"task": "x"})


@pytest.mark.parametrize(
    ("body", "error", "match"),
    [
        ("raise", KeyError, "boom"),
        ("no finish", RuntimeError, "without finish"),
        ("shape", HDF5ContractError, "does not extend"),
        ("nan", HDF5ContractError, r"'values' holds 4 NaN or inf"),
        ("overflow", HDF5ContractError, r"'values' holds 4 NaN or inf"),
        ("unknown", HDF5ContractError, "no dataset 'other'"),
        ("missing", HDF5ContractError, r"required datasets \['names'\]"),
        ("attr", HDF5ContractError, r"required attributes \['task'\]"),
    ],
)
def test_block_writer_checks_the_contract_and_leaves_nothing_on_failure(
    tmp_path: Path, body: str, error: type[Exception], match: str
) -> None:
    target = tmp_path / "out" / "x.h5"
    with pytest.raises(error, match=match):
        _write(target, body)
    assert not target.exists()
    assert list(target.parent.iterdir()) == []
    _write(target, "ok")
    assert target.exists()


def test_lazy_rows_check_finiteness(tmp_path: Path) -> None:
    path = tmp_path / "t.h5"
    TOY.write(
        path,
        {"values": np.zeros((4, 2, 1)), "times": np.zeros(4), "names": ["a"]},
        config={},
        attrs={"task": "x"},
    )
    with h5py.File(path, "r+") as fh:
        fh["values"][2, 1, 0] = np.inf
    content = read_except(TOY, path, ("values",))
    assert "values" not in content
    assert "times" in content
    with LazyRows(TOY, path) as rows:
        np.testing.assert_array_equal(rows.rows("values", 0, 2), 0)
        with pytest.raises(HDF5ContractError, match=r"t.h5: dataset 'values' holds 1 NaN or inf"):
            rows.rows("values", 1, 4)


def test_chunk_rows() -> None:
    assert chunk_rows((4, 6, 150, 25, 2), 4) == 1  # one NTU feature sample (720 kB) per chunk
    assert chunk_rows((3, 25, 2), 4) == (1 << 20) // 600
    assert chunk_rows((), 8) == (1 << 20) // 8


def _recording(rid: str, frames: int, value: float) -> Recording:
    coords = np.full((frames, 3, 2, 1), value)
    conf = np.full((frames, 2, 1), value / 10, dtype=np.float32)
    return Recording(rid, Path(f"{rid}.x"), coords, np.arange(frames) / 30.0, 30.0, 0, confidence=conf)


def test_frame_store_keeps_the_frames_of_the_kept_recordings(tmp_path: Path) -> None:
    recs = [_recording(f"r{i}", n, float(i + 1)) for i, n in enumerate((4, 1, 3, 5, 2))]
    got: dict[str, np.ndarray] = {}

    def store_and_finish() -> None:
        with BlockWriter(tmp_path / "s.h5", SEQUENCES) as out:
            store = FrameStore(out)
            light = [store.put(r) for r in recs]
            assert [r.num_frames for r in light] == [4, 1, 3, 5, 2]
            for r in light:  # no memory held per recording
                for values in (r.coords, r.timestamps, r.confidence):
                    assert values is not None
                    assert values.strides == (0,) * values.ndim
            got["offsets"] = store.keep([light[1], light[3], light[4]])
            out.flush()
            got.update({k: out.file[k][()] for k in ("coords", "timestamps", "confidence")})
            out.finish(config={})  # the other datasets were not written: refused

    with pytest.raises(HDF5ContractError, match="required datasets"):
        store_and_finish()
    np.testing.assert_array_equal(got["offsets"], [0, 1, 6])
    kept = [recs[k] for k in (1, 3, 4)]
    np.testing.assert_array_equal(got["coords"], np.concatenate([r.coords for r in kept]).astype(np.float32))
    np.testing.assert_array_equal(got["timestamps"], np.concatenate([r.timestamps for r in kept]))
    np.testing.assert_array_equal(got["confidence"], np.concatenate([r.confidence for r in kept]))  # type: ignore[misc]
    assert not (tmp_path / "s.h5").exists()


def _read_each(jobs: list[ReadJob[object]], workers: int, batch: int = 1) -> list[object]:
    """Every file's result in input order (read_batches without packing yields each batch's list)."""
    return [r for results in read_batches(jobs, workers, batch=batch) for r in results]


def test_read_batches_keeps_order_and_returns_reader_errors(ntu_folder: Path, tmp_path: Path) -> None:
    files = sorted(ntu_folder.glob("*.skeleton"))[:7]
    bad = tmp_path / "S001C001P001R001A001.skeleton"
    bad.write_text("3\n1\n", encoding="utf-8")
    paths = [*files[:3], bad, *files[3:]]
    jobs = [ReadJob(read_ntu_skeleton, (p,), {"max_persons": 2}) for p in paths]
    serial = _read_each(jobs, 1)
    parallel = _read_each(jobs, 3, batch=2)
    assert isinstance(serial[3], ReaderError)
    assert isinstance(parallel[3], ReaderError)
    assert str(serial[3]) == str(parallel[3])
    assert parallel[3].path == bad
    assert str(bad) in str(parallel[3])
    for a, b, p in zip(serial, parallel, paths, strict=True):
        if p is bad:
            continue
        assert isinstance(a, Recording)
        assert isinstance(b, Recording)
        assert b.recording_id == p.stem
        np.testing.assert_array_equal(a.coords, b.coords)
        np.testing.assert_array_equal(a.confidence, b.confidence)  # type: ignore[arg-type]


def _fails(name: str) -> None:
    raise ZeroDivisionError("no data")


def _no_memory(name: str) -> None:
    raise MemoryError


def test_read_batches_names_the_file_of_another_error() -> None:
    jobs = [ReadJob(_fails, (f"f{i}.txt",), {}) for i in range(3)]
    with pytest.raises(RuntimeError, match=r"f0.txt: ZeroDivisionError: no data"):
        _read_each(jobs, 2)
    out = _read_each([ReadJob(_no_memory, (f"g{i}.txt",), {}) for i in range(2)], 2)
    assert all(isinstance(r, ReaderError) and "out of memory" in str(r) for r in out)
    assert [str(r.path) for r in out if isinstance(r, ReaderError)] == ["g0.txt", "g1.txt"]


def _value(name: str, value: int) -> int:
    if value % 5 == 3:
        raise ReaderError(name, "bad value")
    return value * value


def _packed(results: list[int | ReaderError]) -> tuple[int, list[int | str]]:
    return os.getpid(), [str(r.path) if isinstance(r, ReaderError) else r for r in results]


def test_read_batches_packs_in_the_worker_keeps_order_and_counts_files(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pool, "PROGRESS_EVERY", 4)
    jobs = [ReadJob(_value, (f"f{i}.txt", i), {}) for i in range(23)]
    expected = [f"f{i}.txt" if i % 5 == 3 else i * i for i in range(23)]
    for workers in (1, 2, 3):
        with caplog.at_level(logging.INFO, logger="harxai.io.pool"):
            caplog.clear()
            out = list(read_batches(jobs, workers, batch=5, pack=_packed))
        assert [len(values) for _, values in out] == [5, 5, 5, 5, 3]
        assert [v for _, values in out for v in values] == expected
        pids = {pid for pid, _ in out}
        assert (os.getpid() in pids) == (workers == 1)  # packed where the files were read
        counts = [int(r.getMessage().split()[1].split("/")[0]) for r in caplog.records]
        assert counts == [5, 10, 15, 20, 23]  # files, one line per PROGRESS_EVERY crossed and at the end
    with pytest.raises(ValueError, match="batch"):
        list(read_batches(jobs, 2, batch=0))


def test_ingest_streams_the_reader_output_whatever_the_workers(
    ntu_folder: Path, chain: dict[str, Path], tmp_path: Path
) -> None:
    spec = resolve_dataset("s", {"kind": "synthetic_ntu", "path": str(ntu_folder)})
    serial = tmp_path / "sequences.h5"
    ingest_dataset(spec, {"name": "ntu25", "user": None}, str(serial), threads=1)
    assert_same_arrays(serial, chain["sequences"])
    assert without_created(serial) == without_created(chain["sequences"])
    content = read_hdf5(serial)
    files = sorted(ntu_folder.glob("*.skeleton"))
    fps = content["fps"].astype(float)  # from the generator's manifest
    assert len(set(fps.tolist())) > 1
    recs = [read_ntu_skeleton(f, max_persons=2, fps=r) for f, r in zip(files, fps, strict=True)]
    for name in ("coords", "timestamps", "confidence"):
        expected = np.concatenate([getattr(r, name) for r in recs])
        np.testing.assert_array_equal(content[name], expected.astype(content[name].dtype), err_msg=name)
    assert (content["confidence"] < 1).any()  # the synthetic trackingState is not all "tracked"
    np.testing.assert_array_equal(content["lengths"], [r.num_frames for r in recs])
    np.testing.assert_array_equal(content["offsets"], np.cumsum([0] + [r.num_frames for r in recs])[:-1])
    assert content["source_file"].tolist() == [str(f) for f in files]


def test_ingest_sets_bad_files_aside_in_file_order_whatever_the_workers(
    ntu_folder: Path, tmp_path: Path
) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    for f in sorted(ntu_folder.iterdir()):
        (raw / f.name).symlink_to(f)
    files = sorted(ntu_folder.glob("*.skeleton"))
    (raw / files[2].name).unlink()
    (raw / files[2].name).write_text("1\n1\n", encoding="utf-8")  # truncated
    (raw / "S001C001P001R001A000.skeleton").write_text("0\n", encoding="utf-8")  # action 000
    (raw / files[9].name).unlink()
    (raw / files[9].name).write_text("x\n", encoding="utf-8")  # not a number
    spec = resolve_dataset("s", {"kind": "synthetic_ntu", "path": str(raw)})
    outs = [tmp_path / f"s{t}.h5" for t in (1, 2, 3)]
    for threads, out in zip((1, 2, 3), outs, strict=True):
        ingest_dataset(spec, {"name": "ntu25", "user": None}, str(out), threads=threads)
    for out in outs[1:]:
        assert_same_arrays(outs[0], out)
        assert without_created(outs[0]) == without_created(out)
    rejected = json.loads(read_hdf5(outs[0], load=()).attrs["rejected"])
    assert [r["file"] for r in rejected] == [
        str(raw / "S001C001P001R001A000.skeleton"),
        str(raw / files[2].name),
        str(raw / files[9].name),
    ]
    kept = [f for f in files if f not in (files[2], files[9])]
    content = read_hdf5(outs[0])
    assert content["recording_id"].tolist() == [f.stem for f in kept]
    recs = [
        read_ntu_skeleton(f, max_persons=2, fps=r)
        for f, r in zip(kept, content["fps"].astype(float), strict=True)
    ]
    np.testing.assert_array_equal(
        content["coords"], np.concatenate([r.coords for r in recs]).astype(np.float32)
    )
    strict = resolve_dataset("s", {"kind": "synthetic_ntu", "path": str(raw), "on_bad_recording": "error"})
    with pytest.raises(ReaderError, match=r"A000\.skeleton"):
        ingest_dataset(strict, {"name": "ntu25", "user": None}, str(tmp_path / "e.h5"), threads=2)
    assert not (tmp_path / "e.h5").exists()


def test_ingest_with_a_class_subset_keeps_only_their_frames(ntu_folder: Path, tmp_path: Path) -> None:
    spec = resolve_dataset("s", {"kind": "synthetic_ntu", "path": str(ntu_folder), "classes": [1, 3]})
    out = tmp_path / "sequences.h5"
    ingest_dataset(spec, {"name": "ntu25", "user": None}, str(out), threads=2)
    content = read_hdf5(out)
    files = [f for f in sorted(ntu_folder.glob("*.skeleton")) if not f.stem.endswith("A002")]
    recs = [read_ntu_skeleton(f, max_persons=2) for f in files]
    assert content["recording_id"].tolist() == [f.stem for f in files]
    np.testing.assert_array_equal(
        content["coords"], np.concatenate([r.coords for r in recs]).astype(np.float32)
    )


def _in_memory(sequences: Path, params: dict[str, float], segment: str, on_bad: str = "skip"):  # type: ignore[no-untyped-def]
    content = SEQUENCES.read(sequences)  # every recording at once
    layout = SkeletonLayout.from_dict(content.json_attr("layout"))
    return content, preprocess_sequences(content, layout, PreprocessParams.from_dict(params, segment), on_bad)


@pytest.mark.parametrize("segment", ["fixed", "windows"])
def test_preprocess_blocks_equal_the_whole_file(chain: dict[str, Path], tmp_path: Path, segment: str) -> None:
    params = {**PREPROCESS, "window_seconds": 0.5, "window_overlap_seconds": 0.25}
    outs = {b: tmp_path / f"w{b}.h5" for b in (1, 3, 10_000)}
    for b, out in outs.items():
        preprocess_file(chain["sequences"], out, params, segment, block_recordings=b)
    assert_same_arrays(outs[1], outs[3])
    assert_same_arrays(outs[1], outs[10_000])
    content, samples = _in_memory(chain["sequences"], params, segment)
    w = read_hdf5(outs[1])
    np.testing.assert_array_equal(w["data"], samples.data)
    np.testing.assert_array_equal(w["confidence"], samples.confidence)  # type: ignore[arg-type]
    np.testing.assert_array_equal(w["recording_index"], samples.recording_index)
    np.testing.assert_array_equal(w["window_start"], samples.window_start)
    np.testing.assert_array_equal(w["valid_frames"], samples.valid_frames)
    np.testing.assert_array_equal(w["label"], content["label"][samples.recording_index])
    np.testing.assert_array_equal(w["recording_id"], content["recording_id"][w["recording_index"]])
    assert (w["confidence"] < 1).any()


def test_preprocess_sets_the_same_recordings_aside_whatever_the_blocks(
    chain: dict[str, Path], tmp_path: Path
) -> None:
    seq = SEQUENCES.read(chain["sequences"])
    last = seq["timestamps"][seq["offsets"] + seq["lengths"] - 1]
    frames = np.sort(seq["lengths"])
    # some recordings too long (refused first), some with too few frames (refused while preprocessed)
    params = {
        **PREPROCESS,
        "max_seconds": float(np.quantile(last, 0.85)),
        "min_person_frames": int(frames[2]) + 1,
    }
    outs = {}
    for b in (1, 4, 10_000):
        outs[b] = (tmp_path / f"w{b}.h5", tmp_path / f"r{b}.csv")
        preprocess_file(
            chain["sequences"], outs[b][0], params, "fixed", rejected_path=outs[b][1], block_recordings=b
        )
    texts = {b: r.read_text(encoding="utf-8") for b, (_, r) in outs.items()}
    assert texts[1] == texts[4] == texts[10_000]
    assert_same_arrays(outs[1][0], outs[4][0])
    assert_same_arrays(outs[1][0], outs[10_000][0])
    _, samples = _in_memory(chain["sequences"], params, "fixed")
    rows = list(csv.DictReader(texts[1].splitlines()))
    assert rows == [
        {k: r[k] for k in ("recording_id", "file", "stage", "reason")} for r in samples.rejected or []
    ]
    reasons = [r["reason"] for r in rows]
    assert any("too long" in r for r in reasons)
    assert any("min_person_frames" in r for r in reasons)
    assert "too long" in reasons[0]  # the whole file's order: too long first
    w = read_hdf5(outs[1][0])
    np.testing.assert_array_equal(w["data"], samples.data)
    np.testing.assert_array_equal(w["recording_index"], samples.recording_index)
    # under error the first recording too long stops the job, as on the whole file
    with pytest.raises(BadRecording) as whole:
        _in_memory(chain["sequences"], params, "fixed", "error")
    with pytest.raises(BadRecording) as blocks:
        preprocess_file(
            chain["sequences"],
            tmp_path / "e.h5",
            params,
            "fixed",
            on_bad_recording="error",
            block_recordings=1,
        )
    assert str(blocks.value) == str(whole.value)
    assert not (tmp_path / "e.h5").exists()


def test_features_blocks_equal_the_in_memory_features(
    chain: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(features_module, "CHUNK_SAMPLES", 5)
    small = tmp_path / "features.h5"
    compute_feature_file(chain["windows"], small, {})
    assert_same_arrays(small, chain["features"])
    windows = WINDOWS.read(chain["windows"])
    expected = compute_features(windows["data"], get_layout("ntu25"), FeatureParams(), windows["confidence"])
    got = read_hdf5(small)
    np.testing.assert_array_equal(got["features"], expected)
    np.testing.assert_array_equal(got["confidence"], windows["confidence"])
    np.testing.assert_array_equal(got["label"], windows["label"])
    with h5py.File(small) as fh:  # whole samples per chunk: a random row decompresses little
        ds = fh["features"]
        assert ds.chunks == (chunk_rows(ds.shape[1:], 4), *ds.shape[1:])
        assert ds.chunks[0] * np.prod(ds.shape[1:]) * 4 <= 1 << 20


def test_lazy_feature_rows_equal_the_in_memory_rows(chain: dict[str, Path]) -> None:
    eager = read_features(chain["features"])
    lazy = read_features(chain["features"], max_bytes=0)
    assert eager._array is not None
    assert lazy._array is None
    index = np.random.default_rng(3).permutation(eager.shape[0])[:7]
    np.testing.assert_array_equal(lazy.rows(index), eager.rows(index))
    lazy.close()
