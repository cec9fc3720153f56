"""GradCAM layers per job in Snakemake's own dry run of the mini config.

``gradcam.layers_per_job: one`` plans one gradcam_layer job per layer, ``all`` one
gradcam_layers job per dataset writing every layer's file, and ``auto`` picks ``all`` exactly
when the model jobs get a GPU; ``compute.device: cpu`` requests no GPU even with ``compute.gpu: 1``.
The runtime summary then reads the one gradcam_layers benchmark instead of per-layer ones.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from conftest import REPO
from mini_run import planned_jobs, prepare_workdir

MINI = yaml.safe_load((Path(__file__).parent / "configs" / "mini.yaml").read_text())
LAYERS = MINI["gradcam"]["layers"]
DATASETS = list(MINI["datasets"])
MODEL_JOB_RULES = {"train_model", "shap_chunk", "perturb_edges", "perturb_random"}

CASES = {
    # name: (config overlay, mode, GPUs of the model jobs)
    "cpu_default": ({}, "one", 0),
    "gpu_auto": ({"compute": {"gpu": 1}}, "all", 1),
    "gpu_device_cpu": ({"compute": {"gpu": 1, "device": "cpu"}}, "one", 0),
    "gpu_one": ({"compute": {"gpu": 1}, "gradcam": {"layers_per_job": "one"}}, "one", 1),
    "cpu_all": ({"gradcam": {"layers_per_job": "all"}}, "all", 0),
}


def gpus_of(resources: str) -> int:
    found = re.search(r"\bgpu=(\d+)", resources)
    assert found, resources
    return int(found.group(1))


@pytest.mark.parametrize("name", list(CASES))
def test_gradcam_jobs_per_mode(tmp_path: Path, name: str) -> None:
    overlay, mode, gpus = CASES[name]
    workdir = prepare_workdir(tmp_path / "run")
    args = ("--configfile", str(workdir / "config.yaml"))
    if overlay:
        (tmp_path / "overlay.yaml").write_text(yaml.safe_dump(overlay))
        args += (str(tmp_path / "overlay.yaml"),)
    planned, text = planned_jobs(workdir, *args)
    per_layer = [j for j in planned.values() if j.rule == "gradcam_layer"]
    per_dataset = [j for j in planned.values() if j.rule == "gradcam_layers"]
    if mode == "one":
        assert per_dataset == [], text[-3000:]
        assert len(per_layer) == len(DATASETS) * len(LAYERS)
        cam_jobs = per_layer
    else:
        assert per_layer == [], text[-3000:]
        assert len(per_dataset) == len(DATASETS)
        for job in per_dataset:
            files = sorted(p for p in job.outputs if p.endswith(".h5"))
            assert [Path(p).name for p in files] == sorted(f"{layer}.h5" for layer in LAYERS)
            assert len({Path(p).parent for p in files}) == 1
        cam_jobs = per_dataset
    assert {gpus_of(j.resources) for j in cam_jobs} == {gpus}
    model_jobs = [j for j in planned.values() if j.rule in MODEL_JOB_RULES]
    assert model_jobs
    assert {gpus_of(j.resources) for j in model_jobs} == {gpus}
    light = [j for j in planned.values() if j.rule in {"select_explain_set", "summarize_runtime"}]
    assert light
    assert {gpus_of(j.resources) for j in light} == {0}

    (summary,) = (j for j in planned.values() if j.rule == "summarize_runtime")
    benchmarks = sorted(p for p in summary.inputs if p.startswith("results/benchmarks/gradcam"))
    if mode == "one":
        assert len(benchmarks) == len(DATASETS) * len(LAYERS)
        assert all(p.startswith("results/benchmarks/gradcam_layer/") for p in benchmarks)
    else:
        shared = {p for j in per_dataset for p in j.outputs if p.startswith("results/benchmarks/")}
        assert set(benchmarks) == shared  # each layer names its dataset's one gradcam_layers benchmark
        assert len(shared) == len(DATASETS)


def commented_groups(profile: Path) -> dict:
    """The commented ``groups:``/``group-components:`` example at the end of the SLURM profile."""
    lines = profile.read_text().splitlines()
    start = lines.index("# groups:")
    block = [line.removeprefix("#")[1:] for line in lines[start:] if line.startswith("# ")]
    return yaml.safe_load("\n".join(block))


def test_slurm_profile_group_example_bundles_jobs(tmp_path: Path) -> None:
    """The profile's opt-in job groups are valid for this workflow and bundle jobs (dry run, local)."""
    groups = commented_groups(REPO / "profiles" / "slurm" / "config.yaml")
    assert set(groups) == {"groups", "group-components"}
    assert "gradcam_layer" in groups["groups"]
    profile = tmp_path / "profile"
    profile.mkdir()
    (profile / "config.yaml").write_text(yaml.safe_dump(groups))
    workdir = prepare_workdir(tmp_path / "run")
    _, text = planned_jobs(workdir, "--workflow-profile", str(profile))
    for group in set(groups["groups"].values()):
        assert f"Group job {group} " in text, text[-3000:]
    blocks = text.split("Group job ")[1:]
    for rule, group in groups["groups"].items():
        assert any(b.startswith(f"{group} ") and f"rule {rule}:" in b for b in blocks), (
            f"{rule} not in a group job"
        )
