"""End to end: the mini workflow with a user's model that lives in a file outside the package.

The model (tests/workflow/external_model.py, an ST-GCN-style two-stream network returning
``(logits, features)``) is copied into the run folder as ``user_models/stgcn.py`` and named by a
relative factory path, as a user would. The run trains it, explains it (SHAP, GradCAM on its own
module paths), evaluates it (perturbation of its edge-importance matrices, rankings, layer
correlation, ground truth) and builds the report. A field-format checkpoint of the trained
weights (nested under ``model``, ``module.`` prefix) then goes through rule load_model.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from conftest import REPO, run_snakemake
from mini_run import FULL_RUN_TIMEOUT, edit_config, prepare_workdir

from harxai.evaluate.verdict import read_verdict_csv

pytestmark = pytest.mark.e2e

LAYERS = ["layers.0.gcn", "layers.1.tcn"]


def _external(config: dict) -> None:
    del config["datasets"]["synth_infant"]  # one dataset keeps the run short
    config["datasets"]["synth_ntu"].pop("model", None)
    config["model"] = {
        "factory": "user_models/stgcn.py:build",
        "kwargs": {"width": 4},
        "auto_kwargs": {"num_class": "num_classes", "num_point": "num_joints", "in_channels": "in_channels"},
        "inputs": ["joint", "velocity"],
        "output": 0,
        "epochs": 2,
        "batch_size": 8,
    }
    config["gradcam"] = {"layers": list(LAYERS)}
    config["evaluate"].update(
        {
            "perturbation_layers": ["layers.1.tcn"],
            "figure_layers": ["layers.1.tcn"],
            "reference_layer": "layers.1.tcn",
        }
    )


@pytest.fixture(scope="module")
def external_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    workdir = prepare_workdir(tmp_path_factory.mktemp("external") / "run")
    (workdir / "user_models").mkdir()
    shutil.copy(REPO / "tests" / "workflow" / "external_model.py", workdir / "user_models" / "stgcn.py")
    edit_config(workdir, _external)
    run_snakemake(workdir, "--cores", "2", timeout=FULL_RUN_TIMEOUT)
    return workdir


@pytest.mark.parametrize(
    ("layers", "reference", "needles"),
    [
        (
            ["layers.0.gcn", "layers.1.tcm"],
            "layers.1.tcn",
            [
                "gradcam.layers: ['layers.1.tcm'] are not module paths of the model of dataset 'synth_ntu'",
                "available module paths of user_models/stgcn.py:build",
                "\n    layers.1.tcn.0\n",
            ],
        ),
        (
            ["layers.1.tcn", "layers.0.gcn", "layers.1.tcn"],
            "layers.1.tcn",
            ["gradcam.layers: duplicate layers ['layers.1.tcn']"],
        ),
        (
            ["layers.0.gcn", "layers.1.tcn"],
            "layers.9",
            [
                "evaluate.reference_layer: ['layers.9'] are not module paths of the model of dataset 'synth_ntu'"
            ],
        ),
    ],
    ids=["unknown", "duplicate", "unknown-reference"],
)
def test_bad_layers_are_refused_before_any_job(
    tmp_path: Path, layers: list[str], reference: str, needles: list[str]
) -> None:
    workdir = prepare_workdir(tmp_path / "run")
    (workdir / "user_models").mkdir()
    shutil.copy(REPO / "tests" / "workflow" / "external_model.py", workdir / "user_models" / "stgcn.py")

    def bad(config: dict) -> None:
        _external(config)
        config["gradcam"]["layers"] = layers
        config["evaluate"]["reference_layer"] = reference

    edit_config(workdir, bad)
    proc = run_snakemake(workdir, "-n", "--cores", "2", check=False)
    text = proc.stdout + proc.stderr
    assert proc.returncode != 0
    for needle in needles:
        assert needle in text
    assert not (workdir / "results").exists()


def test_external_model_runs_through_the_report(external_run: Path) -> None:
    d = external_run / "results" / "synth_ntu" / "external"
    content = torch.load(d / "model.pt", map_location="cpu", weights_only=True)
    spec = content["architecture"]["external"]
    assert spec["factory"] == "user_models/stgcn.py:build"
    assert spec["built_kwargs"] == {"width": 4, "num_class": 3, "num_point": 25, "in_channels": 6}
    assert any(k.startswith("net.layers.0.gcn.edge_importance") for k in content["state_dict"])
    with h5py.File(d / "shap.h5", "r") as f:
        values = f["values"][()]
    groups = values.reshape(values.shape[0], 4, -1)
    assert np.abs(groups[:, :2]).sum() > 0  # joint and velocity carry attributions
    assert np.abs(groups[:, 2:]).max() == 0  # bone and acceleration are not model inputs
    for layer in LAYERS:
        with h5py.File(d / "gradcam" / f"{layer}.h5", "r") as f:
            cam = f["cam"][()]
        assert cam.shape[-1] == 25
        assert np.isfinite(cam).all()
        assert cam.max() > 0
    with h5py.File(d / "evaluate" / "perturbation" / "gradcam:layers.1.tcn_most.h5", "r") as f:
        probability = f["probability"][()]
    assert not np.allclose(probability[0], probability[-1])  # perturbing E changed the outputs
    report = (external_run / "results" / "report.html").read_text()
    assert "layers.1.tcn" in report
    # the verdict of the external model: every criterion but ground truth has a value for GradCAM
    verdict = read_verdict_csv(d / "evaluate" / "verdict.csv")
    cam = verdict[verdict["method"] == "gradcam:layers.1.tcn"].set_index("criterion")["value"]
    assert cam[["deletion_area", "insertion_area", "sanity_rho", "infidelity", "runtime_s"]].notna().all()
    assert 'id="verdict-synth_ntu"' in report
    assert report.index('id="verdict"') < report.index('id="ds-synth_ntu"')


def test_field_checkpoint_goes_through_load_model(external_run: Path, tmp_path: Path) -> None:
    trained = external_run / "results" / "synth_ntu" / "external"
    state = torch.load(trained / "model.pt", map_location="cpu", weights_only=True)["state_dict"]
    field = {f"module.{k.removeprefix('net.')}": v for k, v in state.items()}
    (external_run / "weights").mkdir(exist_ok=True)
    torch.save({"epoch": 2, "model": field}, external_run / "weights" / "field.pth")

    def loaded(config: dict) -> None:
        config["model"].update({"checkpoint": "weights/field.pth", "name": "field"})

    edit_config(external_run, loaded)
    run_snakemake(external_run, "--cores", "2", "results/synth_ntu/field/metrics.h5")
    with (
        h5py.File(trained / "metrics.h5", "r") as a,
        h5py.File(external_run / "results" / "synth_ntu" / "field" / "metrics.h5", "r") as b,
    ):
        np.testing.assert_array_equal(a["val_logits"][()], b["val_logits"][()])
