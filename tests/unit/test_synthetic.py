"""Tests of the synthetic benchmark generator (harxai.synthetic).

The files are checked with small parsers written here, independent of harxai.io.readers.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import numpy as np
import pytest
import yaml
from malformed import layout_param, make_spec
from scipy.ndimage import gaussian_filter1d
from scipy.stats import kruskal

import harxai.synthetic.ntu as synthetic_ntu
from harxai.config import SYNTHETIC_MARKER
from harxai.io import read_hdf5
from harxai.io.ingest import ingest_dataset
from harxai.skeletons import IN_MOTION_2022, NTU25
from harxai.synthetic import (
    SyntheticParams,
    SyntheticParamsError,
    candidate_joints,
    class_designs,
    generate_synthetic,
)
from harxai.synthetic.design import FREQUENCY_RANGE_HZ, PEAK_SPEED
from harxai.synthetic.motion import distractor_motion, planted_motion

REPO = Path(__file__).resolve().parents[2]
NTU_PARAMS = {"kind": "synthetic_ntu", "layout": "ntu25", "scale": 0.4, "fps_choices": [25.0, 30.0]}
INFANT_PARAMS = {"kind": "synthetic_infant", "layout": "in-motion-2022", "scale": 0.5}  # 8 infants
NAME = re.compile(r"S(\d{3})C(\d{3})P(\d{3})R(\d{3})A(\d{3})\.skeleton")


# --------------------------------------------------------------------------- parsers
def parse_skeleton(path: Path) -> list[list[tuple[str, np.ndarray]]]:
    """Frames -> bodies (bodyID, (25, 12) values); asserts the structure line by line."""
    raw = path.read_bytes()
    assert raw.endswith(b"\r\n"), path
    assert raw.count(b"\n") == raw.count(b"\r\n"), f"{path}: bare LF line ending"
    lines = raw.decode("ascii").split("\r\n")[:-1]
    n_frames = int(lines[0])
    pos = 1
    index: list[list[tuple[str, int]]] = []  # per frame: (body id, first joint line)
    for _ in range(n_frames):
        n_bodies = int(lines[pos])
        pos += 1
        bodies = []
        for _ in range(n_bodies):
            info = lines[pos].split()
            assert len(info) == 10, f"{path}:{pos + 1}"
            assert info[-1] == "2"
            assert lines[pos + 1] == "25"
            bodies.append((info[0], pos + 2))
            pos += 27
        index.append(bodies)
    assert pos == len(lines), f"{path}: {len(lines) - pos} lines after the last frame"
    starts = [start for bodies in index for _, start in bodies]
    joint_lines = [lines[s + j] for s in starts for j in range(25)]
    counts = {len(line.split()) for line in joint_lines}
    assert counts == {12}, f"{path}: joint lines with {counts} values"
    values = np.array(" ".join(joint_lines).split(), dtype=np.float64).reshape(len(starts), 25, 12)
    it = iter(values)
    return [[(body_id, next(it)) for body_id, _ in bodies] for bodies in index]


def actor_track(frames: list[list[tuple[str, np.ndarray]]]) -> np.ndarray:
    """(frame, joint, 3) xyz of the first body, missing frames filled by interpolation."""
    xyz = np.full((len(frames), 25, 3), np.nan)
    for t, bodies in enumerate(frames):
        if bodies:
            xyz[t] = bodies[0][1][:, :3]
    good = ~np.isnan(xyz[:, 0, 0])
    if not good.all():
        flat = xyz.reshape(len(frames), -1)
        for col in range(flat.shape[1]):
            flat[~good, col] = np.interp(np.flatnonzero(~good), np.flatnonzero(good), flat[good, col])
    return xyz


def read_csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def read_infant_csv(path: Path) -> tuple[list[str], np.ndarray]:
    """Header and float table with NaN for empty cells."""
    lines = path.read_text().splitlines()
    header = lines[0].split(",")
    table = np.array(
        [[float(c) if c else np.nan for c in line.split(",")] for line in lines[1:]], dtype=np.float64
    )
    return header, table


# --------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def ntu_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("ntu") / "synth_ntu"
    generate_synthetic(str(out), NTU_PARAMS, seed=7)
    return out


@pytest.fixture(scope="module")
def infant_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("infant") / "synth_infant"
    generate_synthetic(str(out), INFANT_PARAMS, seed=7)
    return out


@pytest.fixture(scope="module")
def ntu_tracks(ntu_dir: Path) -> dict[str, tuple[int, float, list[list[tuple[str, np.ndarray]]]]]:
    """stem -> (label, fps, parsed frames)."""
    fps = {r["recording_id"]: float(r["fps"]) for r in read_csv_rows(ntu_dir / "manifest.csv")}
    out = {}
    for path in sorted(ntu_dir.glob("*.skeleton")):
        m = NAME.fullmatch(path.name)
        assert m is not None, path.name
        out[path.stem] = (int(m.group(5)) - 1, fps[path.stem], parse_skeleton(path))
    return out


@pytest.fixture(scope="module")
def ntu_actors(ntu_tracks: dict) -> dict[str, np.ndarray]:
    """stem -> (frame, joint, 3) xyz of the first body."""
    return {stem: actor_track(frames) for stem, (_, _, frames) in ntu_tracks.items()}


def truth(folder: Path) -> dict:
    return json.loads((folder / "ground_truth.json").read_text())


def files_bytes(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


# --------------------------------------------------------------------------- parameters
def test_defaults_match_the_config_schema() -> None:
    schema = yaml.safe_load((REPO / "rules" / "schemas" / "config.schema.yaml").read_text())
    props = schema["$defs"]["dataset"]["properties"]["synthetic"]["properties"]
    params = SyntheticParams.from_mapping({"kind": "synthetic_ntu"}, seed=3).to_dict()
    for key, spec in props.items():
        if key == "seed":
            assert params["seed"] == 3  # None resolves to the global seed
        else:
            assert params[key] == spec["default"], key


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"kind": "ntu"}, "kind must be one of"),
        ({"kind": "synthetic_ntu", "layout": "openpose18"}, "writes the ntu25 layout"),
        ({"kind": "synthetic_ntu", "colour": 1}, "unknown setting"),
        ({"kind": "synthetic_infant", "recording_seconds": [5, 2]}, "recording_seconds"),
        ({"kind": "synthetic_ntu", "planted_joints": 17}, "planted_joints"),
        ({"kind": "synthetic_ntu", "planted_sets": "mixed"}, "planted_sets"),
    ],
)
def test_bad_settings_are_rejected(tmp_path: Path, params: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        generate_synthetic(str(tmp_path / "out"), params, seed=1)
    assert not (tmp_path / "out").exists()


def test_params_seed_overrides_global_seed() -> None:
    assert SyntheticParams.from_mapping({"kind": "synthetic_ntu", "seed": 5}, seed=9).seed == 5
    assert SyntheticParams.from_mapping({"kind": "synthetic_ntu", "seed": None}, seed=9).seed == 9
    with pytest.raises(SyntheticParamsError, match="missing_fraction"):
        SyntheticParams.from_mapping({"kind": "synthetic_ntu", "missing_fraction": 0.7}, seed=9)


# --------------------------------------------------------------------------- atomic output
def test_failure_leaves_no_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    def broken(*args: object, **kwargs: object) -> bytes:
        calls.append(1)
        if len(calls) > 3:
            raise RuntimeError("disk full")
        return b"0\r\n"

    monkeypatch.setattr(synthetic_ntu, "format_ntu_skeleton", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        generate_synthetic(str(tmp_path / "out"), NTU_PARAMS, seed=1)
    assert list(tmp_path.iterdir()) == []


def test_existing_output_is_replaced(tmp_path: Path) -> None:
    """A folder harxai made (its marker file) is replaced; others are refused (test_reliability)."""
    out = tmp_path / "out"
    out.mkdir()
    (out / SYNTHETIC_MARKER).write_text("")
    (out / "stale.txt").write_text("old")
    params = {"kind": "synthetic_infant", "scale": 0.25, "recordings_per_subject": 1}
    generate_synthetic(str(out), params, seed=1)
    assert not (out / "stale.txt").exists()
    assert (out / "ground_truth.json").is_file()
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


# --------------------------------------------------------------------------- determinism
@pytest.mark.parametrize("base", [NTU_PARAMS, INFANT_PARAMS])
def test_same_seed_gives_identical_bytes(tmp_path: Path, base: dict) -> None:
    params = {**base, "scale": 0.1, "recordings_per_subject": 1}
    generate_synthetic(str(tmp_path / "a"), params, seed=11)
    generate_synthetic(str(tmp_path / "b"), params, seed=11)
    generate_synthetic(str(tmp_path / "c"), params, seed=12)
    a, b, c = (files_bytes(tmp_path / x) for x in "abc")
    assert a == b
    assert sorted(a) == sorted(c)
    data = [k for k in a if k not in ("manifest.csv", "ground_truth.json", SYNTHETIC_MARKER)]
    assert all(a[k] != c[k] for k in data)
    assert truth(tmp_path / "a")["classes"] != truth(tmp_path / "c")["classes"]


# --------------------------------------------------------------------------- NTU format
def test_ntu_files_names_and_manifest(ntu_dir: Path, ntu_tracks: dict) -> None:
    gt = truth(ntu_dir)
    assert (gt["kind"], gt["layout"], gt["seed"]) == ("synthetic_ntu", "ntu25", 7)
    assert [c["name"] for c in gt["classes"]] == ["A001", "A002", "A003", "A004"]
    manifest = read_csv_rows(ntu_dir / "manifest.csv")
    assert list(manifest[0]) == ["recording_id", "fps"]
    assert sorted(r["recording_id"] for r in manifest) == sorted(ntu_tracks)
    assert {float(r["fps"]) for r in manifest} == {25.0, 30.0}
    assert len({float(r["fps"]) for r in manifest}) > 1
    cams = {(int(s[17:20]), int(s[5:8])) for s in ntu_tracks}  # (action, camera)
    assert cams == {(a, c) for a in range(1, 5) for c in (1, 2, 3)}
    per_class = [sum(1 for s in ntu_tracks if int(s[17:20]) == a) for a in range(1, 5)]
    assert per_class == [12] * 4  # samples_per_class 30 * scale 0.4
    val = sum(1 for s in ntu_tracks if int(s[5:8]) == 1)
    assert val == len(ntu_tracks) // 3
    assert len({s[8:12] for s in ntu_tracks}) >= 3  # several performers


def test_ntu_content_is_metric_and_plausible(ntu_tracks: dict, ntu_actors: dict) -> None:
    two_person = 0
    missing = 0
    for stem, (_, fps, frames) in ntu_tracks.items():
        assert 3.0 * fps - 1 <= len(frames) <= 6.0 * fps + 1, stem
        counts = [len(b) for b in frames]
        assert counts[0] > 0
        assert counts[-1] > 0
        missing += counts.count(0)
        ids = {body_id for bodies in frames for body_id, _ in bodies}
        assert len(ids) == max(counts)
        two_person += max(counts) == 2
        xyz = ntu_actors[stem]
        height = np.median(xyz[:, 3, 1] - 0.5 * (xyz[:, 15, 1] + xyz[:, 19, 1]))
        assert 1.2 < height < 2.0, stem
        assert 2.0 < np.median(xyz[:, :, 2]) < 4.5, stem
        values = np.concatenate([b[1] for bodies in frames for b in bodies])
        assert (values[:, 11] == 2).all()
    assert 0 < two_person < len(ntu_tracks)
    assert missing > 0


def test_ntu_actor_is_first_and_most_active(ntu_tracks: dict) -> None:
    """The first body is the most active by the NTU readers' rule (std over frames and joints)."""
    seen = 0
    for _, _, frames in ntu_tracks.values():
        if max(len(b) for b in frames) < 2:
            continue
        seen += 1
        bodies = [np.stack([b[i][1][:, :3] for b in frames if b]) for i in (0, 1)]
        energy = [x.std(axis=(0, 1)).sum() for x in bodies]
        velocity = [np.abs(np.diff(x, axis=0)).sum() for x in bodies]
        assert energy[0] > energy[1]
        assert velocity[0] > velocity[1]
    assert seen > 0


# --------------------------------------------------------------------------- class design
@pytest.mark.parametrize("layout", [NTU25, IN_MOTION_2022])
def test_planted_joints_are_limb_joints(layout: object) -> None:
    cands = candidate_joints(layout)  # type: ignore[arg-type]
    anchors = {layout.center, *layout.trunk_top, *layout.trunk_bottom}  # type: ignore[attr-defined]
    assert not anchors & set(cands)
    assert not set(layout.parts["torso"]) & set(cands)  # type: ignore[attr-defined]
    assert len(cands) >= 16


def test_design_falls_back_to_open_sets_and_names_the_leaks() -> None:
    params = SyntheticParams.from_mapping(
        {"kind": "synthetic_ntu", "num_classes": 6, "planted_sets": "per_class"}, seed=1
    )
    designs = class_designs(params)
    sets = [set(d.joints) for d in designs]
    assert all(len(x) == 3 for x in sets)
    assert len({frozenset(x) for x in sets}) == 6
    assert len({d.frequency_hz for d in designs}) == 6
    assert set().union(*sets) <= set(candidate_joints(NTU25))
    parents = NTU25.parents()
    for d in designs:
        leaks = [NTU25.joints[v] for v in range(25) if parents[v] in d.joints and v not in d.joints]
        assert d.to_dict(NTU25)["bone_children"] == leaks


def test_design_shared_fallback_keeps_distractors_off_the_planted_set() -> None:
    params = SyntheticParams.from_mapping({"kind": "synthetic_ntu", "num_classes": 6}, seed=1)
    designs = class_designs(params)
    shared = set(designs[0].joints)
    assert len(shared) == 3
    assert all(set(d.joints) == shared and d.distractor_sets == designs[0].distractor_sets for d in designs)
    assert len(designs[0].distractor_sets) == 5
    assert all(not set(x) & shared for x in designs[0].distractor_sets)
    assert len({d.frequency_hz for d in designs}) == 6


@pytest.mark.parametrize("kind", ["synthetic_ntu", "synthetic_infant"])
def test_per_class_design_keeps_disjoint_closed_sets(kind: str) -> None:
    params = SyntheticParams.from_mapping({"kind": kind, "planted_sets": "per_class"}, seed=1234)
    designs = class_designs(params)
    layout = NTU25 if kind == "synthetic_ntu" else IN_MOTION_2022
    joints = [j for d in designs for j in d.joints]
    assert len(joints) == len(set(joints)) == len(designs) * 3
    parents = layout.parents()
    for d in designs:
        assert {v for v in range(layout.num_joints) if parents[v] in d.joints and parents[v] != v} <= set(
            d.joints
        )
        assert d.planted_sets == "per_class"
        assert set(d.distractor_sets) == {o.joints for o in designs if o.label != d.label}
    # per_class distractors move the other classes' sets only, never the own set
    times = np.arange(90) / 30.0
    for d in designs:
        moved = np.abs(distractor_motion(np.random.default_rng(0), designs, d.label, times, 29)).sum(
            axis=(0, 2)
        )
        others = sorted({j for o in designs if o.label != d.label for j in o.joints})
        assert (moved[others] > 0).all()
        assert (np.delete(moved, others) == 0).all()


def test_ntu_ground_truth_design(ntu_dir: Path) -> None:
    gt = truth(ntu_dir)
    allowed = set(candidate_joints(NTU25))
    assert gt["planted_sets"] == gt["params"]["planted_sets"] == "shared"
    shared = gt["classes"][0]["joint_indices"]
    assert len(shared) == 3
    assert all(c["joint_indices"] == shared for c in gt["classes"])  # one planted set for all
    distractors = gt["distractor_joint_indices"]
    assert len(distractors) >= len(gt["classes"]) - 1
    assert gt["distractor_joints"] == [[NTU25.joints[j] for j in d] for d in distractors]
    joints = [j for s in [shared, *distractors] for j in s]
    assert len(joints) == len(set(joints))  # the planted set and the distractor sets are disjoint
    assert set(joints) <= allowed
    parents = NTU25.parents()
    for s in distractors:  # distractor sets are closed under the bone tree too
        assert {v for v in range(25) if parents[v] in s and parents[v] != v} <= set(s)
    for c in gt["classes"]:
        assert c["joints"] == [NTU25.joints[j] for j in c["joint_indices"]]
        assert c["distractor_joint_indices"] == distractors
        # closed under the bone tree: every child of a planted joint is planted too, so no
        # bone feature outside the set depends on the class motion
        children = {v for v in range(25) if parents[v] in c["joint_indices"] and parents[v] != v}
        assert children <= set(c["joint_indices"])
        assert c["bone_children"] == []
        # the same peak speed for every class: amplitude x 2 pi f
        assert c["amplitude"] * 2 * np.pi * c["frequency_hz"] == pytest.approx(PEAK_SPEED, rel=1e-3)
    freqs = sorted(c["frequency_hz"] for c in gt["classes"])
    assert np.min(np.diff(freqs)) >= 0.25
    assert FREQUENCY_RANGE_HZ[0] <= freqs[0]
    assert freqs[-1] <= FREQUENCY_RANGE_HZ[1]
    # at least half the classes move in one burst at a known time inside the shortest clip
    temporal = [c for c in gt["classes"] if c["temporal"]]
    assert len(temporal) >= len(gt["classes"]) / 2
    for c in temporal:
        b = c["burst"]
        assert b["period_s"] is None
        assert 1.0 <= b["duration_s"] <= 2.0
        assert b["start_s"] >= 0
        assert b["start_s"] + b["duration_s"] <= synthetic_ntu.NTU_SECONDS[0]
    for c in gt["classes"]:
        if not c["temporal"]:
            assert c["burst"]["start_s"] is None
            assert c["burst"]["random_start_range_s"] is not None
    assert gt["params"]["scale"] == 0.4


def band_power(signal: np.ndarray, fps: float, freqs: np.ndarray) -> np.ndarray:
    """Power of the de-meaned, Hann-windowed signal (frame, joint, channel) at each frequency.

    Returns (frequency, joint): squared DFT magnitude summed over channels.
    """
    x = signal - signal.mean(axis=0)
    w = np.hanning(len(x))
    basis = np.exp(-2j * np.pi * np.outer(freqs, np.arange(len(x))) / fps) * w  # (frequency, frame)
    proj = np.tensordot(basis, x, axes=(1, 0))  # (frequency, joint, channel)
    return np.sum(np.abs(proj) ** 2, axis=-1) / np.sum(w) ** 2


def relative(xyz: np.ndarray, center: int) -> np.ndarray:
    return xyz - xyz[:, center : center + 1]


def speeds(rel: np.ndarray, fps: float) -> np.ndarray:
    """(frame - 1, joint) speed per second after a 0.04 s Gaussian smoothing (damps the jitter,
    hardly the 0.8-1.6 Hz motion)."""
    smooth = gaussian_filter1d(rel, 0.04 * fps, axis=0)
    return np.asarray(np.linalg.norm(np.diff(smooth, axis=0), axis=-1) * fps)


def segment_speed(rel: np.ndarray, fps: float, seconds: tuple[float, float]) -> np.ndarray:
    """Mean speed (per second) of every joint inside [start, end) seconds, shape (joint,)."""
    t = np.arange(len(rel) - 1) / fps
    inside = (t >= seconds[0]) & (t < seconds[1])
    return np.asarray(speeds(rel, fps)[inside].mean(axis=0))


def set_speeds(rel: np.ndarray, fps: float, sets: list[list[int]]) -> np.ndarray:
    """Mean speed over the whole clip of each joint set, shape (set,)."""
    speed = speeds(rel, fps).mean(axis=0)
    return np.array([speed[s].mean() for s in sets])


def test_ntu_temporal_classes_move_only_in_their_segment(
    ntu_dir: Path, ntu_tracks: dict, ntu_actors: dict
) -> None:
    classes = truth(ntu_dir)["classes"]
    checked = 0
    for stem, (label, fps, _) in ntu_tracks.items():
        c = classes[label]
        if not c["temporal"]:
            continue
        trunk = np.median(np.linalg.norm(ntu_actors[stem][:, 20] - ntu_actors[stem][:, 0], axis=-1))
        rel = relative(ntu_actors[stem], NTU25.center) / trunk
        a, d = c["burst"]["start_s"], c["burst"]["duration_s"]
        inside = segment_speed(rel, fps, (a + 0.3, a + d - 0.3))[c["joint_indices"]]
        before = segment_speed(rel, fps, (0.0, a - 0.05))[c["joint_indices"]]
        after = segment_speed(rel, fps, (a + d + 0.05, 9.0))[c["joint_indices"]]
        assert inside.min() > 2 * max(before.max(), after.max()), (stem, inside, before, after)
        checked += 1
    assert checked >= 10


def test_shared_classes_differ_only_on_the_planted_joints() -> None:
    """With the same generator state, two classes' samples differ only on the shared set: the
    distractor motion does not depend on the class and the planted motion stays on the set."""
    for kind, channels, v in (("synthetic_ntu", 3, 25), ("synthetic_infant", 2, 29)):
        designs = class_designs(SyntheticParams.from_mapping({"kind": kind}, seed=1234))
        shared = list(designs[0].joints)
        times = np.arange(150) / 30.0
        base = distractor_motion(np.random.default_rng(5), designs, 0, times, v)
        assert base.shape == (150, v, channels)
        moved = np.abs(base).sum(axis=(0, 2)) > 0
        assert moved.sum() == 3 * len(designs[0].distractor_sets)
        assert not moved[shared].any()
        for d in designs[1:]:
            np.testing.assert_array_equal(
                distractor_motion(np.random.default_rng(5), designs, d.label, times, v), base
            )
        for d in designs:
            planted = planted_motion(np.random.default_rng(5), d, times, v)
            assert (np.abs(np.delete(planted, shared, axis=1)) == 0).all()
            assert (np.abs(planted[:, shared]).sum(axis=(0, 2)) > 0).all()


def test_ntu_distractors_make_motion_energy_uninformative(
    ntu_dir: Path, ntu_tracks: dict, ntu_actors: dict
) -> None:
    """The shared planted set and every distractor set move in every sample with the same
    speed: per-set speed depends neither on the class nor on whether the set is planted (no
    class by absence of motion, no planted set by motion energy), while the power at the class
    frequency on the planted set tells the class."""
    gt = truth(ntu_dir)
    classes = gt["classes"]
    sets = [classes[0]["joint_indices"], *gt["distractor_joint_indices"]]
    quiet = sorted(set(range(25)) - {j for s in sets for j in s} - {NTU25.center})
    labels, set_speed, powers = [], [], []
    for stem, (label, fps, _) in ntu_tracks.items():
        trunk = np.median(np.linalg.norm(ntu_actors[stem][:, 20] - ntu_actors[stem][:, 0], axis=-1))
        rel = relative(ntu_actors[stem], NTU25.center) / trunk
        labels.append(label)
        set_speed.append(set_speeds(rel, fps, sets))
        at = band_power(rel, fps, np.array([c["frequency_hz"] for c in classes]))  # (class, joint)
        powers.append(at[:, sets[0]].mean(axis=1))
        speed = speeds(rel, fps).mean(axis=0)
        assert speed[[j for s in sets for j in s]].min() > 2 * np.median(speed[quiet]), stem  # all sets move
    y, speed_x, power_x = np.array(labels), np.log(np.array(set_speed)), np.log(np.array(powers))
    for k in range(len(sets)):  # a set's speed does not tell the class ...
        p = kruskal(*[speed_x[y == c, k] for c in range(len(classes))]).pvalue
        assert p > 1e-3, (k, p)
    for k in range(1, len(sets)):  # ... nor is the planted set faster than a distractor set
        p = kruskal(speed_x[:, 0], speed_x[:, k]).pvalue
        assert p > 1e-3, (k, p)
        assert abs(np.mean(speed_x[:, 0] - speed_x[:, k])) < 0.1, k
    assert nearest_centroid_accuracy(speed_x, y) < 0.5  # chance 0.25
    assert nearest_centroid_accuracy(power_x, y) > 0.75  # ... its motion at the class frequency does


def nearest_centroid_accuracy(x: np.ndarray, y: np.ndarray) -> float:
    """Leave-one-out accuracy of a nearest-centroid classifier on standardised features."""
    z = (x - x.mean(axis=0)) / (x.std(axis=0) + 1e-12)
    hits = 0
    for i in range(len(y)):
        keep = np.arange(len(y)) != i
        centroids = np.stack([z[keep & (y == k)].mean(axis=0) for k in np.unique(y)])
        hits += int(np.argmin(np.linalg.norm(centroids - z[i], axis=1)) == y[i])
    return hits / len(y)


# --------------------------------------------------------------------------- infant set
def test_infant_manifest_and_splits(infant_dir: Path) -> None:
    rows = read_csv_rows(infant_dir / "manifest.csv")
    assert list(rows[0]) == ["recording_id", "label", "group", "site", "fps", "split"]
    csvs = sorted(p.stem for p in infant_dir.glob("*.csv") if p.name != "manifest.csv")
    assert sorted(r["recording_id"] for r in rows) == csvs
    assert len(rows) == 8 * 2
    groups: dict[str, set[tuple[str, str]]] = {}
    for r in rows:
        groups.setdefault(r["group"], set()).add((r["label"], r["split"]))
        assert float(r["fps"]) in (25.0, 30.0, 60.0)
    assert all(len(v) == 1 for v in groups.values())  # one label and split per subject
    subject = [next(iter(v)) for v in groups.values()]
    for split in ("train", "val"):
        assert {lab for lab, s in subject if s == split} == {"0", "1"}
    assert 0.2 <= sum(s == "val" for _, s in subject) / len(subject) <= 0.4
    assert sum(lab == "1" for lab, _ in subject) == len(subject) // 2
    gt = truth(infant_dir)
    assert [c["name"] for c in gt["classes"]] == ["negative", "positive"]
    assert gt["classes"][0]["joint_indices"] == gt["classes"][1]["joint_indices"]  # shared set
    assert len(gt["distractor_joint_indices"]) == 1
    assert not set(gt["classes"][0]["joint_indices"]) & set(gt["distractor_joint_indices"][0])
    assert all(c["bone_children"] == [] for c in gt["classes"])


def test_infant_set_ingests_with_its_ground_truth_class_names(infant_dir: Path, tmp_path: Path) -> None:
    spec = make_spec("synthetic_infant", infant_dir)
    ingest_dataset(spec, layout_param(spec), str(tmp_path / "sequences.h5"))
    names = read_hdf5(tmp_path / "sequences.h5").json_attr("class_names")
    assert names == [c["name"] for c in truth(infant_dir)["classes"]] == ["negative", "positive"]


def test_infant_csv_format(infant_dir: Path) -> None:
    rows = {r["recording_id"]: r for r in read_csv_rows(infant_dir / "manifest.csv")}
    expected = ["time"] + [f"{kp}_{c}" for kp in IN_MOTION_2022.joints for c in ("x", "y", "score")]
    blanks = 0
    for rid, row in rows.items():
        header, table = read_infant_csv(infant_dir / f"{rid}.csv")
        assert header == expected
        fps = float(row["fps"])
        assert 12.0 <= len(table) / fps <= 20.0 + 1 / fps
        np.testing.assert_allclose(np.diff(table[:, 0]), 1 / fps, atol=2e-6)
        values = table[:, 1:].reshape(len(table), 29, 3)
        missing = np.isnan(values)
        assert (missing.all(axis=2) == missing.any(axis=2)).all()  # a key point is blank as a whole
        assert not missing[0].any()
        assert not missing[-1].any()
        assert (missing[:, :, 0].sum(axis=1) <= 1).all()
        blanks += int(missing[:, :, 0].sum())
        xy = values[..., :2]
        assert np.nanmin(xy) > 0
        assert np.nanmax(xy[..., 0]) < 1920
        assert np.nanmax(xy[..., 1]) < 1080
        assert np.nanmin(values[..., 2]) > 0
        assert np.nanmax(values[..., 2]) < 1
        # supine infant: head above the pelvis, feet below, in image coordinates (y down)
        assert np.nanmedian(xy[:, 0, 1]) < np.nanmedian(xy[:, 12, 1]) < np.nanmedian(xy[:, 15, 1])
    assert blanks > 0


def test_infant_planted_joints_define_the_label(infant_dir: Path) -> None:
    """The shared planted set and the distractor set move in every recording with the same
    speed; only the power at each class's frequency on the planted set tells the label (no class
    by absence of motion)."""
    spec = truth(infant_dir)
    gt = spec["classes"]
    sets = [gt[0]["joint_indices"], *spec["distractor_joint_indices"]]
    assert any(c["temporal"] and c["burst"]["period_s"] == 2.5 for c in gt)
    labels, set_speed, powers = [], [], []
    for row in read_csv_rows(infant_dir / "manifest.csv"):
        _, table = read_infant_csv(infant_dir / f"{row['recording_id']}.csv")
        xy = table[:, 1:].reshape(len(table), 29, 3)[..., :2]
        for j in range(29):  # fill the blanks
            for c in range(2):
                bad = np.isnan(xy[:, j, c])
                xy[bad, j, c] = np.interp(np.flatnonzero(bad), np.flatnonzero(~bad), xy[~bad, j, c])
        fps = float(row["fps"])
        trunk = np.median(np.linalg.norm(xy[:, 8] - xy[:, 12], axis=-1))
        rel = relative(xy, IN_MOTION_2022.center) / trunk
        labels.append(int(row["label"]))
        set_speed.append(set_speeds(rel, fps, sets))
        at = band_power(rel, fps, np.array([c["frequency_hz"] for c in gt]))
        powers.append(at[:, sets[0]].mean(axis=1))
    y, sp, pw = np.array(labels), np.log(np.array(set_speed)), np.log(np.array(powers))
    for k in range(2):
        spread = np.sqrt(sp[y == 0, k].var() / (y == 0).sum() + sp[y == 1, k].var() / (y == 1).sum())
        assert abs(sp[y == 0, k].mean() - sp[y == 1, k].mean()) < 4.5 * spread, k  # speed: no label
        own, other = pw[y == k, k], pw[y != k, k]
        auc = np.mean(own[:, None] > other[None, :])
        assert auc > 0.9, (k, auc)  # power at class k's frequency on the planted set: the label
    spread = np.sqrt((sp[:, 0] - sp[:, 1]).var() / len(sp))
    assert abs(np.mean(sp[:, 0] - sp[:, 1])) < max(4.5 * spread, 0.1)  # planted set: no faster
