"""Snakemake's own dry run and lint on the default config and the test configs."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import REPO, run_snakemake

CONFIGS = sorted((REPO / "tests" / "workflow" / "configs").glob("*.yaml"))


def test_default_config_dry_run(tmp_path: Path) -> None:
    proc = run_snakemake(tmp_path, "-n", "--configfile", str(REPO / "config.yaml"))
    out = proc.stdout
    for rule in (
        "generate_synthetic",
        "ingest_dataset",
        "preprocess_sequences",
        "compute_features",
        "train_model",
        "select_explain_set",
        "select_background",
        "shap_chunk",
        "merge_shap",
        "gradcam_layer",
    ):
        assert rule in out, f"rule {rule} missing from the default DAG"


@pytest.mark.parametrize("config", CONFIGS, ids=[c.stem for c in CONFIGS])
def test_test_configs_dry_run(tmp_path: Path, config: Path) -> None:
    run_snakemake(tmp_path, "-n", configfile=config)


def test_lint_is_clean(tmp_path: Path) -> None:
    proc = run_snakemake(tmp_path, "--lint", "--configfile", str(REPO / "config.yaml"), check=False)
    text = proc.stdout + proc.stderr
    assert proc.returncode == 0, text
    assert "Lints for" not in text, text
