"""Partial reruns after a full mini run: a config change reruns exactly what it shapes.

Each scenario copies the shared full run (``mini_run`` fixture), edits its ``config.yaml``
like a user would, and compares the jobs of ``snakemake -n`` (rule + wildcards, read from
the job blocks and their ``reason:`` lines) with the expected set computed from the DAG: the
directly affected jobs and everything downstream of them in the forced job graph
(``snakemake -n -F`` of the edited config). ``--list-changes params`` is not used: it lists
every output in Snakemake 9.27.1.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import run_snakemake
from mini_run import DATA_RULES, MODEL_RULES, Job, MiniRun, copy_run, downstream, edit_config, planned_jobs

pytestmark = pytest.mark.e2e

UPSTREAM = frozenset({*DATA_RULES, *MODEL_RULES, "select_explain_set"})
SHAP_RULES = frozenset({"select_background", "shap_chunk", "merge_shap"})


def _add_layer(config: dict) -> None:
    config["gradcam"]["layers"].append("branches.joint.blocks.1.att")


def _change_layer(config: dict) -> None:
    layers = config["gradcam"]["layers"]
    assert "main.1.tcn.conv" in layers, "mini.yaml must list main.1.tcn.conv"
    layers[layers.index("main.1.tcn.conv")] = "branches.bone.blocks.1.tcn.conv"


def _set(section: str, key: str, value: object) -> Callable[[dict], None]:
    def edit(config: dict) -> None:
        config[section][key] = value

    return edit


def _all_mode_then(edit: Callable[[dict], None]) -> Callable[[Path], None]:
    """Switch the run to gradcam.layers_per_job: all, run its gradcam_layers jobs, then ``edit``."""

    def scenario(workdir: Path) -> None:
        edit_config(workdir, _set("gradcam", "layers_per_job", "all"))
        run_snakemake(workdir, "--cores", "2", "--until", "gradcam_layers")
        edit_config(workdir, edit)

    return scenario


def _comment_only(workdir: Path) -> None:
    path = workdir / "config.yaml"
    text = path.read_text()
    assert text.startswith("#"), "mini.yaml must start with a comment line"
    path.write_text("# edited comment: nothing should rerun\n" + text.replace("#", "# (edited)", 1))


@dataclass(frozen=True)
class Scenario:
    """A config edit, the jobs it affects directly, and rules that must not rerun."""

    edit: Callable[[Path], None]
    seed: Callable[[Job], bool] | None  # None: nothing may rerun
    reason: str = ""  # expected in the reason of every seed job
    untouched: frozenset[str] = frozenset()


SCENARIOS = {
    "add_gradcam_layer": Scenario(
        lambda w: edit_config(w, _add_layer),
        lambda j: j.rule == "gradcam_layer" and "layer=branches.joint.blocks.1.att" in j.wildcards,
        "Missing output files",
        UPSTREAM | SHAP_RULES,
    ),
    "change_gradcam_layer": Scenario(
        lambda w: edit_config(w, _change_layer),
        lambda j: j.rule == "gradcam_layer" and "layer=branches.bone.blocks.1.tcn.conv" in j.wildcards,
        "Missing output files",
        UPSTREAM | SHAP_RULES,
    ),
    # gradcam.layers_per_job: all: one job computes every layer, so a new layer or a changed
    # GradCAM setting reruns all layers of the dataset (one job each), never gradcam_layer.
    "all_mode_add_gradcam_layer": Scenario(
        _all_mode_then(_add_layer),
        lambda j: j.rule == "gradcam_layers",
        "Missing output files",
        UPSTREAM | SHAP_RULES | {"gradcam_layer"},
    ),
    "all_mode_gradcam_variant": Scenario(
        _all_mode_then(_set("gradcam", "variant", "shapgcn")),
        # the sanity check and the robustness metrics recompute GradCAM with the variant
        lambda j: j.rule in {"gradcam_layers", "sanity_check", "robustness"},
        "Params have changed",
        UPSTREAM | SHAP_RULES | {"gradcam_layer"},
    ),
    "one_mode_gradcam_variant": Scenario(
        lambda w: edit_config(w, _set("gradcam", "variant", "shapgcn")),
        lambda j: j.rule in {"gradcam_layer", "sanity_check", "robustness"},
        "Params have changed",
        UPSTREAM | SHAP_RULES | {"gradcam_layers"},
    ),
    "shap_background_size": Scenario(
        lambda w: edit_config(w, _set("shap", "background_size", 12)),
        lambda j: j.rule == "select_background",
        "Params have changed",
        UPSTREAM | {"gradcam_layer"},
    ),
    "shap_chunk_size": Scenario(
        lambda w: edit_config(w, _set("shap", "background_chunk_size", 8)),
        lambda j: j.rule == "select_background",
        "Params have changed",
        UPSTREAM | {"gradcam_layer"},
    ),
    "preprocess_median_window": Scenario(
        lambda w: edit_config(w, _set("preprocess", "median_window", 5)),
        lambda j: j.rule == "preprocess_sequences",
        "Params have changed",
        frozenset({"generate_synthetic", "ingest_dataset"}),
    ),
    "nothing_changed": Scenario(lambda w: None, None),
    "comment_edited": Scenario(_comment_only, None),
}


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_partial_rerun_jobs(mini_run: MiniRun, tmp_path: Path, name: str) -> None:
    scenario = SCENARIOS[name]
    workdir = copy_run(mini_run.workdir, tmp_path / "run")
    scenario.edit(workdir)
    planned, text = planned_jobs(workdir)
    if scenario.seed is None:
        assert planned == {}, f"{name}: expected no jobs, got {sorted(planned)}\n{text[-3000:]}"
        assert "Nothing to be done" in text, text[-3000:]
        return
    graph, _ = planned_jobs(workdir, "--forceall")
    seeds = {key for key, job in graph.items() if scenario.seed(job)}
    assert seeds, f"{name}: no job of the forced DAG matches the scenario's seed"
    expected = downstream(graph, seeds)
    assert set(planned) == expected, (
        f"{name}: unexpected reruns {sorted(set(planned) - expected)}; "
        f"missing reruns {sorted(expected - set(planned))}"
    )
    for key in seeds:
        assert scenario.reason in planned[key].reason, f"{key}: reason {planned[key].reason!r}"
    rerun_rules = {job.rule for job in planned.values()}
    assert not rerun_rules & scenario.untouched, f"{name}: reruns {sorted(rerun_rules & scenario.untouched)}"
    assert len(planned) < len(graph), f"{name}: everything reruns"
