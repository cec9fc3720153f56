"""Job glue: gradcam_layer, gradcam_layers, shap_chunk and merge_shap files (small models of our own)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from torch import nn

from harxai.explain import jobs
from harxai.explain.cam import gradcam
from harxai.explain.reduce import keypoint_frame
from harxai.io import Array, read_hdf5, write_hdf5

GROUPS = ("joint", "velocity", "bone", "acceleration")
FEATURE_DIMS = ("sample", "group", "channel", "frame", "joint", "person")
SHAPE = (2, 6, 4, 2)  # channel, frame, joint, person


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    """One torch thread: on the shared 2-core machine, 2 threads spin against other jobs."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


class FourBranchNet(nn.Module):
    """model(joint, velocity, bone, acceleration) with conv branches and a nonlinear head."""

    def __init__(self, classes: int = 3) -> None:
        super().__init__()
        self.branches = nn.ModuleDict(
            {
                g: nn.Sequential(nn.Conv2d(2, 4, (3, 1), stride=(2, 1), padding=(1, 0)), nn.ReLU())
                for g in GROUPS
            }
        )
        self.mix = nn.Conv2d(16, 8, 1)
        self.act = nn.ReLU()
        self.fc = nn.Linear(8, classes)

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        n, _, _, _, m = inputs[0].shape
        folded = [x.permute(0, 4, 1, 2, 3).reshape(n * m, *x.shape[1:4]) for x in inputs]
        z = torch.cat([self.branches[g](x) for g, x in zip(GROUPS, folded, strict=True)], dim=1)
        z = self.act(self.mix(z)).mean(dim=(2, 3))
        return self.fc(z.view(n, m, -1).mean(dim=1))


class LinearNet(nn.Module):
    """f(x) = sum_g <w_g, x_g> + b per class: exact SHAP is w * (x - mean(background))."""

    def __init__(self, classes: int = 3) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.randn(classes, len(GROUPS), *SHAPE))
        self.b = nn.Parameter(torch.randn(classes))

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        x = torch.stack(inputs, dim=1)
        return torch.einsum("ngctvm,kgctvm->nk", x, self.w) + self.b


@dataclass(frozen=True)
class FakeResult:
    values: list[np.ndarray]
    expected_value: np.ndarray
    output: np.ndarray
    completeness_error: float


def exact_linear_shap(
    model: LinearNet,
    inputs: Sequence[torch.Tensor],
    background: Sequence[torch.Tensor],
    target: np.ndarray,
    backend: str = "fast",
    batch_size: int | None = None,
    completeness_tolerance: float | None = None,
) -> FakeResult:
    """Stand-in engine with the ShapResult fields, exact for LinearNet."""
    x, b = torch.stack(list(inputs), 1), torch.stack(list(background), 1)
    with torch.no_grad():
        w = model.w[torch.as_tensor(target)]
        phi = (w * (x - b.mean(dim=0))).numpy()
        expected = model(*background).mean(dim=0)[torch.as_tensor(target)].numpy()
        output = model(*inputs)[torch.arange(len(target)), torch.as_tensor(target)].numpy()
    return FakeResult([phi[:, g] for g in range(len(GROUPS))], expected, output, 0.0)


def write_explain_set(path: Path, inputs: np.ndarray, target: np.ndarray) -> None:
    n, s = len(inputs), ("sample",)
    write_hdf5(
        path,
        {
            "inputs": Array(inputs, dims=FEATURE_DIMS),
            "sample_index": Array(np.arange(n) * 10 + 3, dims=s),
            "target": Array(target, dims=s),
            "label": Array((target + 1) % 3, dims=s),
            "prediction": Array(target, dims=s),
            "recording_id": Array(np.asarray([f"rec{i}" for i in range(n)]), dims=s),
            "group": Array(np.asarray([""] * n), dims=s),
            "window_start": Array(np.zeros(n, np.float32), dims=s),
        },
        config={},
    )


def write_background(
    path: Path, background: np.ndarray, chunk: np.ndarray, num_chunks: int | None = None
) -> None:
    b = ("background",)
    write_hdf5(
        path,
        {
            "background": Array(background, dims=("background", *FEATURE_DIMS[1:])),
            "background_index": Array(np.arange(len(background)), dims=b),
            "background_label": Array(np.zeros(len(background), np.int64), dims=b),
            "chunk": Array(chunk, dims=b),
        },
        config={},
        attrs={"num_chunks": num_chunks or int(chunk.max()) + 1},
    )


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    rng = np.random.default_rng(5)
    inputs = rng.normal(size=(5, 4, *SHAPE)).astype(np.float32)
    write_explain_set(tmp_path / "explain_set.h5", inputs, np.asarray([0, 2, 1, 1, 0]))
    background = rng.normal(size=(5, 4, *SHAPE)).astype(np.float32)
    write_background(tmp_path / "background.h5", background, np.asarray([0, 0, 0, 1, 1]))
    return {"explain": tmp_path / "explain_set.h5", "background": tmp_path / "background.h5", "dir": tmp_path}


def use_model(monkeypatch: pytest.MonkeyPatch, model: nn.Module) -> None:
    monkeypatch.setattr(jobs, "load_job_model", lambda _path, device: model.to(device).eval())


def test_gradcam_layer_file_matches_gradcam(monkeypatch: pytest.MonkeyPatch, files: dict[str, Path]) -> None:
    model = FourBranchNet().eval()
    use_model(monkeypatch, model)
    out = files["dir"] / "gradcam" / "mix.h5"
    jobs.gradcam_layer("model.pt", files["explain"], out, "mix", "standard", "cpu", 1, batch_size=2)
    c = read_hdf5(
        out, expected={"cam": ("sample", "frame", "joint"), "cam_negated": ("sample", "frame", "joint")}
    )
    inputs = read_hdf5(files["explain"])["inputs"]
    x = [torch.from_numpy(inputs[:, g].copy()) for g in range(4)]
    target = [0, 2, 1, 1, 0]
    np.testing.assert_allclose(c["cam"], gradcam(model, x, "mix", target), atol=1e-6)
    np.testing.assert_allclose(c["cam_negated"], gradcam(model, x, "mix", target, negate=True), atol=1e-6)
    np.testing.assert_array_equal(c["sample_index"], [3, 13, 23, 33, 43])
    np.testing.assert_array_equal(c["target"], target)
    assert c.attrs["layer"] == "mix"
    assert c.attrs["variant"] == "standard"
    assert c.attrs["frames"] == 3
    assert c.attrs["device"] == "cpu"
    assert c.attrs["elapsed_s"] > 0
    assert c.attrs["forward_elapsed_s"] > 0
    assert c.json_attr("config") == {"layer": "mix", "variant": "standard"}


# Attributes that may differ between two runs of the same GradCAM: timings and the write time.
RUN_ATTRS = {"elapsed_s", "forward_elapsed_s", "created"}


def assert_same_gradcam_file(a: Path, b: Path) -> None:
    """Same datasets (dtype, shape, bytes, dataset attributes) and root attributes except RUN_ATTRS."""
    with h5py.File(a, "r") as fa, h5py.File(b, "r") as fb:
        names: list[list[str]] = [[], []]
        fa.visit(names[0].append)
        fb.visit(names[1].append)
        assert names[0] == names[1]
        for name in names[0]:
            da, db = fa[name], fb[name]
            assert da.dtype == db.dtype, name
            assert da.shape == db.shape, name
            va, vb = da[()], db[()]
            if va.dtype == object:  # variable-length strings: compare the values, not the pointers
                assert va.tolist() == vb.tolist(), name
            else:
                assert va.tobytes() == vb.tobytes(), name
            assert dict(da.attrs) == dict(db.attrs), name
        attrs_a = {k: v for k, v in fa.attrs.items() if k not in RUN_ATTRS}
        attrs_b = {k: v for k, v in fb.attrs.items() if k not in RUN_ATTRS}
        assert attrs_a == attrs_b
        assert set(fa.attrs) == set(fb.attrs)


@pytest.mark.parametrize("variant", ["standard", "shapgcn"])
def test_gradcam_layers_equals_gradcam_layer_per_layer(
    monkeypatch: pytest.MonkeyPatch, files: dict[str, Path], variant: str
) -> None:
    """One process for all layers writes the same files as one job per layer."""
    use_model(monkeypatch, FourBranchNet().eval())
    layers = ["mix", "branches.bone.0", "branches.joint.1"]
    one, many = files["dir"] / "one", files["dir"] / "many"
    for layer in layers:
        jobs.gradcam_layer(
            "model.pt", files["explain"], one / f"{layer}.h5", layer, variant, "cpu", 1, batch_size=2
        )
    outputs = [many / f"{layer}.h5" for layer in layers]
    jobs.gradcam_layers("model.pt", files["explain"], outputs, layers, variant, "cpu", 1, batch_size=2)
    for layer, out in zip(layers, outputs, strict=True):
        assert_same_gradcam_file(one / f"{layer}.h5", out)
        assert read_hdf5(out).attrs["layer"] == layer
    forward = {read_hdf5(out).attrs["forward_elapsed_s"] for out in outputs}
    assert len(forward) == 1  # one forward pass timed per process


def test_gradcam_layers_on_a_shipped_checkpoint(tmp_path: Path) -> None:
    """The tiny preset (attention layers, two persons): bit-identical maps from both rules' functions."""
    models = pytest.importorskip("harxai.models")
    from harxai.config import FEATURE_GROUPS  # late: mirrors test_jobs_on_a_shipped_checkpoint
    from harxai.skeletons import get_layout  # late: see above

    arch = models.make_architecture(
        "tiny",
        attention="joint",
        dropout=0.0,
        in_channels=dict.fromkeys(FEATURE_GROUPS, 6),
        layout=get_layout("ntu25").to_dict(),
        num_classes=3,
    )
    models.save_checkpoint(
        tmp_path / "model.pt", models.build_model(arch), arch, ["a", "b", "c"], "multiclass"
    )
    inputs = np.random.default_rng(4).normal(size=(5, 4, 6, 8, 25, 2)).astype(np.float32)
    write_explain_set(tmp_path / "explain_set.h5", inputs, np.asarray([2, 0, 1, 1, 2]))
    layers = ["main.1.tcn.conv", "main.1.att", "branches.bone.init_bn", "branches.joint.blocks.1.att"]
    for layer in layers:
        jobs.gradcam_layer(
            tmp_path / "model.pt", tmp_path / "explain_set.h5", tmp_path / "one" / f"{layer}.h5", layer,
            "standard", "cpu", 1, batch_size=2,
        )  # fmt: skip
    outputs = [tmp_path / "all" / f"{layer}.h5" for layer in layers]
    jobs.gradcam_layers(
        tmp_path / "model.pt",
        tmp_path / "explain_set.h5",
        outputs,
        layers,
        "standard",
        "cpu",
        1,
        batch_size=2,
    )
    for layer, out in zip(layers, outputs, strict=True):
        assert_same_gradcam_file(tmp_path / "one" / f"{layer}.h5", out)


def test_gradcam_layers_checks_every_layer_before_writing(
    monkeypatch: pytest.MonkeyPatch, files: dict[str, Path]
) -> None:
    use_model(monkeypatch, FourBranchNet().eval())
    out = files["dir"] / "many"
    with pytest.raises(ValueError, match="'nope' is not a named_modules"):
        jobs.gradcam_layers(
            "model.pt", files["explain"], [out / "a.h5", out / "b.h5"], ["mix", "nope"], "standard", "cpu", 1
        )
    assert not out.exists() or not any(out.iterdir())
    with pytest.raises(ValueError, match="2 GradCAM layers but 1 output files"):
        jobs.gradcam_layers("model.pt", files["explain"], [out / "a.h5"], ["mix", "fc"], "standard", "cpu", 1)
    with pytest.raises(ValueError, match=r"listed twice: \['mix'\]"):
        jobs.gradcam_layers(
            "model.pt", files["explain"], [out / "a.h5", out / "b.h5"], ["mix", "mix"], "standard", "cpu", 1
        )


def run_chunks(files: dict[str, Path], parts: int, chunks: int = 2) -> list[Path]:
    paths = []
    for chunk in range(chunks):
        for part in range(parts):
            path = files["dir"] / "shap" / f"chunk_{chunk}_part_{part}.h5"
            jobs.shap_chunk(
                "model.pt",
                files["explain"],
                files["background"],
                path,
                chunk,
                part,
                parts,
                "fast",
                64,
                "cpu",
                1,
            )
            paths.append(path)
    return paths


def test_shap_chunk_selects_part_and_chunk(monkeypatch: pytest.MonkeyPatch, files: dict[str, Path]) -> None:
    model = LinearNet()
    use_model(monkeypatch, model)
    monkeypatch.setattr(jobs, "shap_values", exact_linear_shap)
    path = run_chunks(files, parts=2)[3]  # chunk 1, part 1: samples 3, 4 vs background rows 3, 4
    c = read_hdf5(path, expected={"values": FEATURE_DIMS})
    np.testing.assert_array_equal(c["sample_index"], [3, 4])
    inputs = read_hdf5(files["explain"])["inputs"][3:]
    background = read_hdf5(files["background"])["background"][3:]
    w = model.w.detach().numpy()[[1, 0]]
    np.testing.assert_allclose(c["values"], w * (inputs - background.mean(axis=0)), atol=1e-5)
    with torch.no_grad():
        logits = model(*[torch.from_numpy(inputs[:, g].copy()) for g in range(4)]).numpy()
    np.testing.assert_allclose(c["output"], logits[[0, 1], [1, 0]], rtol=1e-5)
    assert c.attrs["background_size"] == 2
    assert (c.attrs["chunk"], c.attrs["part"], c.attrs["parts"]) == (1, 1, 2)
    assert c.attrs["backend"] == "fast"


def test_merge_equals_whole_background_with_exact_engine(
    monkeypatch: pytest.MonkeyPatch, files: dict[str, Path]
) -> None:
    model = LinearNet()
    use_model(monkeypatch, model)
    monkeypatch.setattr(jobs, "shap_values", exact_linear_shap)
    out = files["dir"] / "shap.h5"
    chunk_files = run_chunks(files, parts=2)
    jobs.merge_shap(files["explain"], chunk_files, out)
    c = read_hdf5(out, expected={"values": FEATURE_DIMS, "keypoint_frame": ("sample", "frame", "joint")})
    per_chunk = {f"{k // 2}_{k % 2}": read_hdf5(f).attrs["elapsed_s"] for k, f in enumerate(chunk_files)}
    assert c.json_attr("chunk_elapsed_s") == pytest.approx(per_chunk)
    assert c.attrs["elapsed_s"] == pytest.approx(sum(per_chunk.values()))
    assert c.attrs["device"] == "cpu"
    inputs = read_hdf5(files["explain"])["inputs"]
    background = read_hdf5(files["background"])["background"]
    target = np.asarray([0, 2, 1, 1, 0])
    whole = exact_linear_shap(
        model, [torch.from_numpy(inputs[:, g].copy()) for g in range(4)],
        [torch.from_numpy(background[:, g].copy()) for g in range(4)], target,
    )  # fmt: skip
    np.testing.assert_allclose(c["values"], np.stack(whole.values, axis=1), atol=1e-5)
    np.testing.assert_allclose(c["expected_value"], whole.expected_value, atol=1e-5)
    np.testing.assert_allclose(c["keypoint_frame"], keypoint_frame(c["values"]), atol=1e-5)
    np.testing.assert_array_equal(c["sample_index"], [3, 13, 23, 33, 43])
    np.testing.assert_array_equal(c["label"], (target + 1) % 3)
    assert c.attrs["background_size"] == 5
    assert c.attrs["num_chunks"] == 2
    assert c.attrs["completeness_error"] < 1e-4
    assert c.attrs["backend"] == "fast"
    for name in ("keypoint_importance_abs", "group_importance", "frame_importance", "recording_id"):
        assert name in c


def test_merge_rejects_missing_and_repeated_samples(
    monkeypatch: pytest.MonkeyPatch, files: dict[str, Path]
) -> None:
    use_model(monkeypatch, LinearNet())
    monkeypatch.setattr(jobs, "shap_values", exact_linear_shap)
    paths = run_chunks(files, parts=2)
    out = files["dir"] / "shap.h5"
    with pytest.raises(ValueError, match=r"chunk 1 explains samples not exactly once \(missing \[3, 4\]"):
        jobs.merge_shap(files["explain"], paths[:3], out)
    with pytest.raises(
        ValueError, match=r"chunk 0 explains samples not exactly once \(missing \[\], repeated \[0"
    ):
        jobs.merge_shap(files["explain"], [*paths, paths[0]], out)
    assert not out.exists()


def test_empty_background_chunk_has_no_weight(
    monkeypatch: pytest.MonkeyPatch, files: dict[str, Path]
) -> None:
    model = LinearNet()
    use_model(monkeypatch, model)
    monkeypatch.setattr(jobs, "shap_values", exact_linear_shap)
    background = read_hdf5(files["background"])["background"]
    write_background(files["background"], background, np.asarray([0, 0, 0, 0, 0]), num_chunks=2)
    paths = run_chunks(files, parts=1)
    assert read_hdf5(paths[1]).attrs["background_size"] == 0
    jobs.merge_shap(files["explain"], paths, files["dir"] / "shap.h5")
    merged = read_hdf5(files["dir"] / "shap.h5")
    np.testing.assert_allclose(merged["values"], read_hdf5(paths[0])["values"], atol=1e-6)
    assert merged.attrs["background_size"] == 5


def test_merge_of_two_chunks_equals_whole_background_fast_engine(
    monkeypatch: pytest.MonkeyPatch, files: dict[str, Path]
) -> None:
    explain = pytest.importorskip("harxai.explain")
    if not hasattr(explain, "shap_values"):
        pytest.skip("harxai.explain.shap_values is not available yet")
    model = FourBranchNet().eval()
    use_model(monkeypatch, model)
    out = files["dir"] / "shap.h5"
    jobs.merge_shap(files["explain"], run_chunks(files, parts=1), out)
    merged = read_hdf5(out)
    inputs = read_hdf5(files["explain"])["inputs"]
    background = read_hdf5(files["background"])["background"]
    whole = explain.shap_values(
        model,
        [torch.from_numpy(inputs[:, g].copy()) for g in range(4)],
        [torch.from_numpy(background[:, g].copy()) for g in range(4)],
        np.asarray([0, 2, 1, 1, 0]),
        backend="fast",
    )
    np.testing.assert_allclose(merged["values"], np.stack(whole.values, axis=1), atol=1e-5)
    np.testing.assert_allclose(merged["expected_value"], whole.expected_value, atol=1e-5)
    assert merged.attrs["completeness_error"] < 1e-4


def test_jobs_on_a_shipped_checkpoint(tmp_path: Path) -> None:
    models = pytest.importorskip("harxai.models")
    from harxai.config import FEATURE_GROUPS
    from harxai.skeletons import get_layout

    layout = get_layout("ntu25")
    arch = models.make_architecture(
        "tiny",
        attention="joint",
        dropout=0.0,
        in_channels=dict.fromkeys(FEATURE_GROUPS, 6),
        layout=layout.to_dict(),
        num_classes=3,
    )
    models.save_checkpoint(
        tmp_path / "model.pt", models.build_model(arch), arch, ["a", "b", "c"], "multiclass"
    )
    rng = np.random.default_rng(2)
    inputs = rng.normal(size=(3, 4, 6, 8, 25, 2)).astype(np.float32)
    write_explain_set(tmp_path / "explain_set.h5", inputs, np.asarray([2, 0, 1]))
    background = rng.normal(size=(4, 4, 6, 8, 25, 2)).astype(np.float32)
    write_background(tmp_path / "background.h5", background, np.asarray([0, 0, 1, 1]))
    model = models.load_model(tmp_path / "model.pt")
    x = [torch.from_numpy(inputs[:, g].copy()) for g in range(4)]

    layer = "branches.bone.blocks.1.att"
    out = tmp_path / "gradcam" / f"{layer}.h5"
    jobs.gradcam_layer(tmp_path / "model.pt", tmp_path / "explain_set.h5", out, layer, "shapgcn", "cpu", 1)
    cam = read_hdf5(out)
    np.testing.assert_allclose(cam["cam"], gradcam(model, x, layer, [2, 0, 1], variant="shapgcn"), atol=1e-6)
    assert cam.attrs["frames"] == 2  # two temporal strides of 2 in the tiny preset's branches

    paths = [tmp_path / f"chunk_{c}_part_0.h5" for c in range(2)]
    for c, path in enumerate(paths):
        jobs.shap_chunk(
            tmp_path / "model.pt", tmp_path / "explain_set.h5", tmp_path / "background.h5", path, c, 0, 1, "fast", 8,
            "cpu", 1,
        )  # fmt: skip
    jobs.merge_shap(tmp_path / "explain_set.h5", paths, tmp_path / "shap.h5")
    merged = read_hdf5(tmp_path / "shap.h5")
    with torch.no_grad():
        logits = model(*x).numpy()
    np.testing.assert_allclose(merged["output"], logits[[0, 1, 2], [2, 0, 1]], rtol=1e-4, atol=1e-5)
    assert merged.attrs["completeness_error"] < 1e-3
    assert merged["group_importance"].shape == (3, 4)
