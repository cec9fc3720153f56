"""Reliability catalogue (issue 15): every bad-input and fault case, one place, kept holding.

Sections follow the issue's acceptance points:

1. finite everywhere (float32 overflow in readers, NaN in intermediates),
2. memory bounded by design (``preprocess.max_seconds``),
3. settings checked before any job (here in-process, exactly the calls ``rules/common.smk``
   makes; ``tests/workflow/test_reliability_workflow.py`` runs ``snakemake -n`` on a few),
4. no user file touched (synthetic folders),
5. no debris (a write killed mid-way),
6. every reader error names the file (JSON recursion),
7. the kinds that already held when the issue was filed: malformed files, escaping in the
   report, weights-only checkpoints and crafted pickles, kill-and-resume, locking.

Cases whose code lands with another branch are marked ``xfail(strict=True)``: they fail today
and will flag (XPASS) once the code is there, so the marker is removed at merge.
"""

from __future__ import annotations

import copy
import importlib
import json
import os
import pickle
import signal
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import yaml
from malformed import (
    csv_text,
    layout_param,
    make_spec,
    ntu_text,
    simple_csv_rows,
    simple_kinetics_data,
    simple_ntu_frames,
    write_csv_dataset,
    write_kinetics,
)
from snakemake.utils import validate

from harxai.config import (
    MAX_SYNTHETIC_BYTES,
    SYNTHETIC_MARKER,
    check_config,
    check_layers,
    resolve_dataset,
    synthetic_folder,
)
from harxai.io import Array, HDF5ContractError, read_hdf5, write_hdf5
from harxai.io.atomic import atomic_directory, stale_temporaries
from harxai.io.contracts import GRADCAM
from harxai.io.ingest import ingest_dataset
from harxai.io.readers import ReaderError
from harxai.models.checkpoint import CheckpointError, read_checkpoint
from harxai.skeletons import IN_MOTION_2022
from harxai.synthetic import generate_synthetic

REPO = Path(__file__).resolve().parents[2]
SCHEMA = REPO / "rules" / "schemas" / "config.schema.yaml"
DEFAULT_CONFIG = yaml.safe_load((REPO / "config.yaml").read_text())
SRC = REPO / "src"
NTU_FILE = "S001C001P001R001A001.skeleton"
SEED_MAX = 2**63 - 1

LANDS_WITH_DATA: str | None = None  # landed: readers refuse float32 overflow, max_seconds, named JSON limits


# ================================================================ 3. settings checked at planning
def plan(config: dict[str, Any]) -> None:
    """What rules/common.smk runs before any job: schema, dataset resolution, the checks."""
    validate(config, str(SCHEMA))
    datasets = {name: resolve_dataset(name, spec) for name, spec in config["datasets"].items()}
    check_layers(list(config["gradcam"]["layers"]))
    check_config(config, datasets)


def _set(*keys: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(config: dict[str, Any]) -> None:
        node = config
        for key in keys[:-1]:
            node = node.setdefault(key, {})
        node[keys[-1]] = value

    return mutate


def _both(*mutations: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
    def mutate(config: dict[str, Any]) -> None:
        for m in mutations:
            m(config)

    return mutate


def _ntu_dataset(classes: list[int]) -> Callable[[dict[str, Any]], None]:
    return _set("datasets", "real_ntu", value={"kind": "ntu", "path": "raw/ntu", "classes": classes})


_BAD_LAYOUT = {"joints": ["a", "b", "c"], "edges": [[0, 1]], "center": 0, "trunk": [0, 1]}

# (mutation of the default config, text the refusal must contain: the key)
REFUSED: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    "seed-negative": (_set("seed", value=-1), "['seed']"),
    "seed-2^63": (_set("seed", value=SEED_MAX + 1), "['seed']"),
    "seed-2^64": (_set("seed", value=2**64), "['seed']"),
    "background-seed-negative": (_set("shap", "background_seed", value=-5), "background_seed"),
    "background-seed-2^64": (_set("shap", "background_seed", value=2**64), "background_seed"),
    "synthetic-seed-negative": (
        _set("datasets", "synth_ntu", "synthetic", "seed", value=-1),
        "['seed']",
    ),
    "synthetic-seed-2^63": (
        _set("datasets", "synth_infant", "synthetic", "seed", value=SEED_MAX + 1),
        "['seed']",
    ),
    "median-window-even": (_set("preprocess", "median_window", value=4), "preprocess.median_window"),
    "overlap-equals-window": (
        _set("preprocess", "window_overlap_seconds", value=5.0),
        "preprocess.window_overlap_seconds",
    ),
    "overlap-exceeds-window": (
        _set("preprocess", "window_overlap_seconds", value=9.0),
        "preprocess.window_overlap_seconds",
    ),
    "window-below-one-frame": (_set("preprocess", "window_seconds", value=0.01), "preprocess.window_seconds"),
    "window-absurdly-long": (
        _both(
            _set("preprocess", "window_seconds", value=86400.0),
            _set("preprocess", "window_overlap_seconds", value=0.0),
        ),
        "preprocess.window_seconds",
    ),
    "fixed-frames-absurd": (_set("preprocess", "fixed_frames", value=10**9), "preprocess.fixed_frames"),
    "target-fps-absurd": (_set("preprocess", "target_fps", value=1e6), "target_fps"),
    "max-persons-1e9": (_set("datasets", "synth_ntu", "max_persons", value=10**9), "max_persons"),
    "max-persons-zero": (_set("datasets", "synth_ntu", "max_persons", value=0), "max_persons"),
    "synthetic-scale-1e9": (_set("datasets", "synth_ntu", "synthetic", "scale", value=1e9), "scale"),
    "synthetic-size-cap": (
        _set("datasets", "synth_infant", "synthetic", "recording_seconds", value=[30000.0, 36000.0]),
        "datasets.synth_infant.synthetic",
    ),
    "synthetic-samples-cap": (
        _set("datasets", "synth_ntu", "synthetic", "samples_per_class", value=10**6),
        "datasets.synth_ntu.synthetic",
    ),
    "synthetic-num-classes": (
        _set("datasets", "synth_ntu", "synthetic", "num_classes", value=500),
        "num_classes",
    ),
    "synthetic-planted-joints": (
        _set("datasets", "synth_ntu", "synthetic", "planted_joints", value=20),
        "datasets.synth_ntu.synthetic.planted_joints",
    ),
    "synthetic-recording-seconds-order": (
        _set("datasets", "synth_infant", "synthetic", "recording_seconds", value=[20.0, 10.0]),
        "datasets.synth_infant.synthetic.recording_seconds",
    ),
    "synthetic-wrong-layout": (
        _set("datasets", "synth_ntu", "layout", value="openpose18"),
        "datasets.synth_ntu.synthetic",
    ),
    "unknown-layout": (
        _set("datasets", "synth_ntu", "layout", value="nolayout"),
        "datasets.synth_ntu.layout",
    ),
    "broken-user-layout": (_set("layouts", "broken", value=_BAD_LAYOUT), "layouts.broken"),
    "synthetic-classes-out-of-range": (
        _set("datasets", "synth_ntu", "classes", value=[1, 9]),
        "datasets.synth_ntu.classes",
    ),
    "synthetic-infant-class-2": (
        _set("datasets", "synth_infant", "classes", value=[0, 2]),
        "datasets.synth_infant.classes",
    ),
    "ntu-class-0": (_ntu_dataset([0, 1]), "datasets.real_ntu.classes"),
    "ntu-class-121": (_ntu_dataset([1, 121]), "datasets.real_ntu.classes"),
    "classes-negative": (_set("datasets", "synth_ntu", "classes", value=[-1, 2]), "classes"),
    "classes-duplicate": (_set("datasets", "synth_ntu", "classes", value=[2, 2]), "classes"),
    "classes-single": (_set("datasets", "synth_ntu", "classes", value=[2]), "classes"),
    "class-names-count": (
        _set("datasets", "synth_ntu", "class_names", value=["a", "b", "c"]),
        "datasets.synth_ntu.class_names",
    ),
    "explain-class-in-no-dataset": (_set("explain", "classes", value=[7]), "explain.classes"),
    "explain-class-negative": (_set("explain", "classes", value=[-1]), "classes"),
    "explain-classes-none-for-a-dataset": (_set("explain", "classes", value=[2, 3]), "explain.classes"),
    "max-train-seconds-negative": (_set("model", "max_train_seconds", value=-1), "max_train_seconds"),
    "gradcam-layer-duplicate": (
        _set("gradcam", "layers", value=["main.1.att", "main.1.att"]),
        "gradcam.layers",
    ),
    "synthetic-path-shared": (
        _set("datasets", "synth_infant", "path", value="results/synthetic/synth_ntu"),
        "datasets.synth_infant.path",
    ),
    "synthetic-path-is-results": (
        _set("datasets", "synth_ntu", "path", value="results"),
        "datasets.synth_ntu.path",
    ),
    "synthetic-path-is-workdir": (
        _set("datasets", "synth_ntu", "path", value="."),
        "datasets.synth_ntu.path",
    ),
    "synthetic-path-user-folder": (
        _set("datasets", "synth_ntu", "path", value="mine"),
        "datasets.synth_ntu.path",
    ),
}

LATE: dict[str, tuple[Callable[[dict[str, Any]], None], str, str | None]] = {
    "max-seconds-key": (_set("preprocess", "max_seconds", value=600.0), "", LANDS_WITH_DATA),
}


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory holding a user folder ``mine`` (with a file) and nothing else."""
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.txt").write_text("precious")
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_planning_refuses_naming_the_key(workdir: Path, case: str) -> None:
    mutate, key = REFUSED[case]
    config = copy.deepcopy(DEFAULT_CONFIG)
    mutate(config)
    with pytest.raises(Exception) as info:  # noqa: PT011 - schema (WorkflowError) or ConfigError
        plan(config)
    assert type(info.value).__name__ in ("WorkflowError", "ConfigError")
    assert key in str(info.value), str(info.value)
    assert (workdir / "mine" / "thesis.txt").read_text() == "precious"


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(
            name, marks=[pytest.mark.xfail(strict=True, reason=LATE[name][2])] if LATE[name][2] else []
        )
        for name in sorted(LATE)
    ],
)
def test_planning_refuses_cases_of_other_branches(workdir: Path, case: str) -> None:
    """``preprocess.max_seconds`` is a key another branch adds (a sane value passes, -1 not).

    Unknown layer names are refused by ``snakemake -n`` (tests/workflow/test_reliability_workflow.py).
    """
    mutate, key, _ = LATE[case]
    config = copy.deepcopy(DEFAULT_CONFIG)
    mutate(config)
    if case == "max-seconds-key":
        plan(config)  # the key exists and a sane value passes
        config["preprocess"]["max_seconds"] = -1.0
    with pytest.raises(Exception) as info:  # noqa: PT011
        plan(config)
    assert key in str(info.value)


ACCEPTED: dict[str, Callable[[dict[str, Any]], None]] = {
    "default": lambda c: None,
    "seed-0": _set("seed", value=0),
    "seed-2^63-1": _set("seed", value=SEED_MAX),
    "background-seed-2^63-1": _set("shap", "background_seed", value=SEED_MAX),
    "median-window-1": _set("preprocess", "median_window", value=1),
    "overlap-0": _set("preprocess", "window_overlap_seconds", value=0.0),
    "classes-in-range": _both(
        _set("datasets", "synth_ntu", "classes", value=[1, 4]),
        _set("datasets", "synth_infant", "classes", value=[0, 1]),
    ),
    "class-names-match": _set("datasets", "synth_ntu", "class_names", value=["a", "b", "c", "d"]),
    "explain-classes-partly-in-range": _set("explain", "classes", value=[1, 3]),
    "ntu-classes-1-120": _ntu_dataset([1, 120]),
    "max-persons-10": _set("datasets", "synth_ntu", "max_persons", value=10),
    "synthetic-scale-10": _set("datasets", "synth_ntu", "synthetic", "scale", value=10.0),
    "synthetic-path-outside-new": _set("datasets", "synth_ntu", "path", value="../elsewhere/synth"),
    "synthetic-path-harxai-folder": _set("datasets", "synth_ntu", "path", value="made_by_harxai"),
    "synthetic-path-under-results": _set("datasets", "synth_ntu", "path", value="results/old_synth"),
}


@pytest.mark.parametrize("case", sorted(ACCEPTED))
def test_planning_accepts_the_valid_neighbours(workdir: Path, case: str) -> None:
    """The boundary values next to each refusal pass, so each refusal is for its own defect."""
    (workdir / "made_by_harxai").mkdir()
    (workdir / "made_by_harxai" / SYNTHETIC_MARKER).write_text("")
    (workdir / "results" / "old_synth").mkdir(parents=True)
    config = copy.deepcopy(DEFAULT_CONFIG)
    ACCEPTED[case](config)
    plan(config)


def test_size_cap_is_generous_for_the_documented_settings() -> None:
    """The cap leaves room: scale 10 of the default NTU set is about 0.7 GB."""
    from harxai.config import synthetic_size_estimate
    from harxai.synthetic import SyntheticParams

    params = SyntheticParams.from_mapping({"kind": "synthetic_ntu", "scale": 10.0}, 1)
    files, size = synthetic_size_estimate(params)
    assert files == 4 * 300
    assert 0.3 * 2**30 < size < MAX_SYNTHETIC_BYTES / 5


# ================================================================ 4. no user file touched
@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("results/synthetic/x", "results/synthetic/x"),
        ("results/./synthetic//x/", "results/synthetic/x"),
        ("data/../results/x", "results/x"),
    ],
)
def test_synthetic_folder_inside_stays_relative(workdir: Path, path: str, expected: str) -> None:
    assert synthetic_folder(path) == expected


@pytest.mark.parametrize("path", ["../x", "../../a/b", "sub/../../x"])
def test_synthetic_folder_outside_becomes_absolute(workdir: Path, path: str) -> None:
    """Rule generate_synthetic_outside logs it under results/logs/generate_synthetic_outside/."""
    folder = synthetic_folder(path)
    assert Path(folder).is_absolute()
    assert Path(folder) == (workdir / path).resolve()
    assert ".." not in Path(folder).parts


def test_generation_refuses_a_folder_it_did_not_create(tmp_path: Path) -> None:
    user = tmp_path / "mine"
    user.mkdir()
    (user / "thesis.txt").write_text("precious")
    with pytest.raises(FileExistsError, match="mine"):
        generate_synthetic(user, {"kind": "synthetic_infant", "scale": 0.25, "recordings_per_subject": 1}, 1)
    assert sorted(p.name for p in user.iterdir()) == ["thesis.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine"]


def test_generation_marks_its_folder_and_replaces_only_that(tmp_path: Path) -> None:
    out = tmp_path / "synth"
    params = {"kind": "synthetic_infant", "scale": 0.25, "recordings_per_subject": 1}
    generate_synthetic(out, params, 1)
    assert (out / SYNTHETIC_MARKER).is_file()
    before = sorted(p.name for p in out.iterdir())
    generate_synthetic(out, params, 1)
    assert sorted(p.name for p in out.iterdir()) == before
    assert [p.name for p in tmp_path.iterdir()] == ["synth"]


# ================================================================ 5. no debris
_KILLED_WRITER = textwrap.dedent(
    """
    import sys, time
    import h5py, numpy as np
    from harxai.io import Array, write_hdf5
    from harxai.synthetic import generate_synthetic

    def pause(*args, **kwargs):
        print("writing", flush=True)
        time.sleep(600)

    kind, target = sys.argv[1], sys.argv[2]
    if kind == "hdf5":
        original = h5py.Group.create_dataset
        def create_then_pause(self, *args, **kwargs):
            out = original(self, *args, **kwargs)
            pause()
            return out
        h5py.Group.create_dataset = create_then_pause
        write_hdf5(target, {"x": Array(np.ones((64, 64)), dims=("sample", "joint"))}, config={})
    else:
        real_write_text = __import__("pathlib").Path.write_text
        def write_then_pause(self, *args, **kwargs):
            out = real_write_text(self, *args, **kwargs)
            pause()
            return out
        __import__("pathlib").Path.write_text = write_then_pause
        generate_synthetic(target, {"kind": "synthetic_infant", "scale": 0.25, "recordings_per_subject": 1}, 1)
    """
)


def _kill_mid_write(kind: str, target: Path) -> None:
    env = {**os.environ, "PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    with subprocess.Popen(
        [sys.executable, "-c", _KILLED_WRITER, kind, str(target)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    ) as proc:
        assert proc.stdout is not None
        assert proc.stderr is not None
        line = proc.stdout.readline()
        if line.strip() != "writing":
            proc.kill()
            pytest.fail(f"the writer did not reach the pause: {proc.stderr.read()[-3000:]}")
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL


def _write_again(kind: str, target: Path) -> None:
    if kind == "hdf5":
        write_hdf5(target, {"x": Array(np.ones((64, 64)), dims=("sample", "joint"))}, config={})
    else:
        generate_synthetic(
            target, {"kind": "synthetic_infant", "scale": 0.25, "recordings_per_subject": 1}, 1
        )


@pytest.mark.parametrize("kind", ["hdf5", "folder"])
def test_killed_write_leaves_debris_that_the_next_write_removes(tmp_path: Path, kind: str) -> None:
    target = tmp_path / ("out.h5" if kind == "hdf5" else "synth")
    (tmp_path / "other.h5").write_bytes(b"not ours")
    _kill_mid_write(kind, target)
    stale = stale_temporaries(target)
    assert len(stale) == 1, sorted(p.name for p in tmp_path.iterdir())
    assert not target.exists()
    _write_again(kind, target)
    assert stale_temporaries(target) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["other.h5", target.name])
    if kind == "hdf5":
        assert read_hdf5(target)["x"].shape == (64, 64)


def test_debris_of_a_replaced_folder_is_removed(tmp_path: Path) -> None:
    """A kill between moving the old folder aside and removing it leaves ``.old``; cleaned next time."""
    target = tmp_path / "d"
    (tmp_path / ".d.abcd1234.old" / "content").mkdir(parents=True)
    (tmp_path / ".d.abcd1234.tmp").mkdir()
    (tmp_path / ".d.h5.abcd1234.tmp").write_text("another target's")
    with atomic_directory(target) as tmp:
        (tmp / "f").write_text("x")
    assert sorted(p.name for p in tmp_path.iterdir()) == [".d.h5.abcd1234.tmp", "d"]


# ================================================================ 1, 2, 6. readers and intermediates
def _ntu_with_value(raw: Path, value: str) -> dict[str, Any]:
    lines = ntu_text(simple_ntu_frames(3)).split("\r\n")[:-1]
    lines[10] = f"{value} " + lines[10].split(" ", 1)[1]
    raw.mkdir(parents=True)
    (raw / NTU_FILE).write_bytes(("\r\n".join(lines) + "\r\n").encode("ascii"))
    return make_spec("ntu", raw)


def _csv_with_value(raw: Path, value: str) -> dict[str, Any]:
    rows = [{"recording_id": "r1", "label": 0, "group": "s1", "fps": 25, "split": "train"}]
    write_csv_dataset(raw, IN_MOTION_2022.joints, rows)
    table: list[list[Any]] = [list(r) for r in simple_csv_rows(IN_MOTION_2022.joints, 4)]
    table[2][3] = value
    (raw / "r1.csv").write_text(csv_text(IN_MOTION_2022.joints, table))
    return make_spec("keypoints_csv", raw)


def _kinetics_with_value(raw: Path, value: float) -> dict[str, Any]:
    data = simple_kinetics_data(3)
    data[1]["skeleton"][0]["pose"][4] = value
    write_kinetics(raw / "clip.json", data)
    return make_spec("kinetics_json", raw)


def _kinetics_deeply_nested(raw: Path) -> dict[str, Any]:
    raw.mkdir(parents=True)
    depth = 200_000
    (raw / "clip.json").write_text("[" * depth + "]" * depth)
    return make_spec("kinetics_json", raw)


READER_CASES: dict[str, tuple[Callable[[Path], dict[str, Any]], str, str | None]] = {
    # builder, file the message names, reason of an xfail (None: holds today)
    "ntu-float32-overflow": (lambda raw: _ntu_with_value(raw, "1e39"), NTU_FILE, LANDS_WITH_DATA),
    "csv-float32-overflow": (lambda raw: _csv_with_value(raw, "1e39"), "r1.csv", LANDS_WITH_DATA),
    "kinetics-float32-overflow": (lambda raw: _kinetics_with_value(raw, 1e39), "clip.json", LANDS_WITH_DATA),
    "kinetics-json-recursion": (_kinetics_deeply_nested, "clip.json", LANDS_WITH_DATA),
    "ntu-non-finite": (lambda raw: _ntu_with_value(raw, "nan"), NTU_FILE, None),
    "csv-non-finite": (lambda raw: _csv_with_value(raw, "inf"), "r1.csv", None),
}


def _reader_param(name: str) -> Any:
    reason = READER_CASES[name][2]
    marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
    return pytest.param(name, marks=marks)


@pytest.mark.parametrize("case", [_reader_param(n) for n in sorted(READER_CASES)])
def test_reader_refuses_naming_the_file(tmp_path: Path, case: str) -> None:
    build, named, _ = READER_CASES[case]
    spec = {
        **build(tmp_path / "raw"),
        "on_bad_recording": "error",
    }  # skip (the default) lists it in rejected.csv
    out = tmp_path / "results" / "ds" / "sequences.h5"
    with pytest.raises(ReaderError) as info:
        ingest_dataset(spec, layout_param(spec), str(out))
    assert named in str(info.value)
    assert not out.exists()


_BOUNDED = textwrap.dedent(
    """
    import resource, sys
    resource.setrlimit(resource.RLIMIT_AS, (2**30, 2**30))
    import json
    from harxai.io.ingest import ingest_dataset
    from harxai.preprocess import preprocess_file
    spec, layout, out, windows = json.loads(sys.argv[1])
    try:
        ingest_dataset({**spec, "on_bad_recording": "error"}, layout, out)
        preprocess_file(input_path=out, output_path=windows, params={}, segment=spec["segment"], on_bad_recording="error")
    except MemoryError:
        print("MemoryError escaped"); sys.exit(3)
    except Exception as exc:
        print(f"refused: {exc}"); sys.exit(2)
    print("accepted"); sys.exit(0)
    """
)


def _csv_long_span(raw: Path) -> dict[str, Any]:
    rows = [{"recording_id": "r1", "label": 0, "group": "s1", "fps": 25, "split": "train"}]
    write_csv_dataset(raw, IN_MOTION_2022.joints, rows)
    table = simple_csv_rows(IN_MOTION_2022.joints, 4)
    table[-1][0] = 1e6  # time runs from 0 to 1e6 s
    (raw / "r1.csv").write_text(csv_text(IN_MOTION_2022.joints, table))
    return make_spec("keypoints_csv", raw)


def _ntu_far_frames(raw: Path) -> dict[str, Any]:
    spec = _ntu_with_value(raw, "0.1")
    return {**spec, "fps": 1e-6}


@pytest.mark.parametrize("case", ["csv-time-span-1e6-s", "ntu-fps-1e-6"])
def test_memory_is_bounded_and_the_refusal_names_the_file(tmp_path: Path, case: str) -> None:
    """Run under a 1 GiB address-space limit: refused naming the file, no MemoryError."""
    spec = _csv_long_span(tmp_path / "raw") if case.startswith("csv") else _ntu_far_frames(tmp_path / "raw")
    named = "r1" if case.startswith("csv") else NTU_FILE.split(".")[0]
    args = [spec, layout_param(spec), str(tmp_path / "seq.h5"), str(tmp_path / "win.h5")]
    env = {**os.environ, "PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    proc = subprocess.run(
        [sys.executable, "-c", _BOUNDED, json.dumps(args, default=str)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr[-2000:]
    assert named in proc.stdout


def _gradcam_arrays(samples: int = 4, frames: int = 5, joints: int = 3) -> dict[str, np.ndarray]:
    """A valid gradcam/<layer>.h5 content (the GRADCAM contract, as the gradcam_layer job writes it)."""
    rng = np.random.default_rng(0)
    cam = rng.random((samples, frames, joints)).astype(np.float32)
    return {
        "cam": cam,
        "cam_negated": cam[:, ::-1].copy(),
        "target": np.arange(samples, dtype=np.int64) % 2,
        "label": np.arange(samples, dtype=np.int64) % 2,
        "sample_index": np.arange(samples, dtype=np.int64),
        "recording_id": np.array([f"rec{i}" for i in range(samples)]),
    }


_GRADCAM_ATTRS = {
    "layer": "blocks.0",
    "variant": "standard",
    "elapsed_s": 0.1,
    "forward_elapsed_s": 0.05,
    "frames": 5,
    "device": "cpu",
    "threads": 1,
    "batch_size": 4,
}


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf, 1e39])
@pytest.mark.parametrize("dataset", ["cam", "cam_negated"])
def test_non_finite_array_is_refused_on_write_naming_file_and_dataset(
    tmp_path: Path, dataset: str, value: float
) -> None:
    """Through the contract every job writes with: NaN, inf or a float32 overflow (1e39) fails the
    write naming file and dataset, and nothing is left behind (no file, no temporary)."""
    arrays = _gradcam_arrays()
    arrays[dataset] = arrays[dataset].astype(np.float64)
    arrays[dataset][2, 1, 0] = value
    target = tmp_path / "gradcam" / "blocks.0.h5"
    target.parent.mkdir()
    with pytest.raises(HDF5ContractError, match=r"blocks\.0\.h5") as info:
        GRADCAM.write(target, arrays, config={}, attrs=_GRADCAM_ATTRS)
    assert repr(dataset) in str(info.value)
    assert list(target.parent.iterdir()) == []


def test_finite_arrays_pass_the_contract(tmp_path: Path) -> None:
    """The control of the two cases around it: the same content without the bad value is written and read."""
    target = tmp_path / "blocks.0.h5"
    GRADCAM.write(target, _gradcam_arrays(), config={}, attrs=_GRADCAM_ATTRS)
    np.testing.assert_array_equal(GRADCAM.read(target)["cam"], _gradcam_arrays()["cam"])


@pytest.mark.parametrize("dataset", ["cam", "cam_negated"])
def test_corrupted_but_readable_intermediate_is_refused_on_read(tmp_path: Path, dataset: str) -> None:
    """A NaN written into a finished intermediate (outside harxai) stops the next reader naming the file."""
    import h5py

    target = tmp_path / "blocks.0.h5"
    GRADCAM.write(target, _gradcam_arrays(), config={}, attrs=_GRADCAM_ATTRS)
    with h5py.File(target, "r+") as fh:
        fh[dataset][2, 1, 0] = np.nan
    with pytest.raises(HDF5ContractError, match=r"blocks\.0\.h5") as info:
        GRADCAM.read(target)
    assert repr(dataset) in str(info.value)


# ================================================================ 7. kinds that already held
def test_escaping_in_the_report(tmp_path: Path) -> None:
    """Markup in the title and in table cells is shown as text, never run."""
    import pandas as pd

    from harxai.report import build_report

    evil = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    pd.DataFrame(
        {
            "dataset": ["toy"],
            "stage": ["gradcam"],
            "item": [evil],
            "core_s": [0.5],
            "job_s": [1.0],
            "cpu": [evil],
            "cores": [2],
            "gpu": ["none"],
        }
    ).to_csv(tmp_path / "runtime.csv", index=False)
    out = build_report(
        output=tmp_path / "report.html",
        title=evil,
        config_json=json.dumps({"report": {"title": evil}}),
        datasets={},
        runtime_csv=tmp_path / "runtime.csv",
    )
    text = Path(out).read_text(encoding="utf-8")
    assert "<script>" not in text
    assert "<img src=x" not in text
    assert "&lt;script&gt;" in text


class _Payload:
    """A pickle that would create a file when unpickled (the crafted-checkpoint attack)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (Path.write_text, (self.marker, "pwned"))


@pytest.mark.parametrize("how", ["torch-save", "raw-pickle"])
def test_crafted_pickle_checkpoint_never_runs(tmp_path: Path, how: str) -> None:
    marker = tmp_path / "pwned.txt"
    path = tmp_path / "model.pt"
    payload = {"state_dict": _Payload(marker), "architecture": {}}
    if how == "torch-save":
        torch.save(payload, path)
    else:
        path.write_bytes(pickle.dumps(payload))
    with pytest.raises(CheckpointError, match=r"model\.pt"):
        read_checkpoint(path)
    assert not marker.exists()


# Existing tests that hold the remaining kinds; each must stay in the suite.
EXISTING = {
    "malformed-files": ("test_readers_malformed", "test_malformed_input_is_rejected", 40),
    "checkpoint-weights-only": ("test_training", "test_checkpoint_content_is_weights_only", 0),
    "checkpoint-errors": ("test_models", "test_read_checkpoint_errors", 0),
    "failed-write-leaves-nothing": ("test_hdf5", "test_failed_write_leaves_nothing_and_keeps_old_file", 0),
    "kill-and-resume": ("workflow/test_resume", "test_kill_and_resume", 0),
    "locking": ("workflow/test_reliability_workflow", "test_second_run_is_locked_out", 0),
    "snakemake-n-refusals": ("workflow/test_reliability_workflow", "test_dry_run_refuses_naming_the_key", 0),
    "logs-stay-under-results": (
        "workflow/test_reliability_workflow",
        "test_logs_of_outside_folders_stay_under_results",
        0,
    ),
    "forcerun-keeps-user-folders": (
        "workflow/test_reliability_workflow",
        "test_forcerun_regenerates_only_its_own_folder",
        0,
    ),
}


@pytest.mark.parametrize("kind", sorted(EXISTING))
def test_existing_guard_is_in_the_suite(kind: str) -> None:
    """The catalogue's references: the test exists (and, for catalogues, keeps its cases)."""
    module, name, min_cases = EXISTING[kind]
    path = REPO / "tests" / ("unit/" if "/" not in module else "") / f"{module}.py"
    assert path.is_file(), path
    source = path.read_text()
    assert f"def {name}(" in source, f"{path}: {name} missing"
    if min_cases:
        mod = importlib.import_module(module)
        assert len(mod.CASES) >= min_cases, f"{module}.CASES shrank to {len(mod.CASES)}"
