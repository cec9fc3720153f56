"""Helpers for workflow tests: run Snakemake in a subprocess against the repository's Snakefile."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
SNAKEFILE = REPO / "Snakefile"


def snakemake_command(workdir: Path, *args: str, configfile: Path | None = None) -> list[str]:
    """``python -m snakemake -s <repo Snakefile> -d <workdir> [--configfile ...] args``."""
    cmd = [sys.executable, "-m", "snakemake", "-s", str(SNAKEFILE), "-d", str(workdir)]
    if configfile is not None:
        cmd += ["--configfile", str(configfile)]
    return cmd + list(args)


def run_snakemake(
    workdir: Path,
    *args: str,
    configfile: Path | None = None,
    timeout: float = 600,
    check: bool = True,
    kill_after: float | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``snakemake -s <repo Snakefile> -d <workdir> ...`` and return the completed process.

    ``kill_after`` wraps the call in ``timeout -s KILL <seconds>`` (for runs that may hang and
    ignore SIGTERM, such as the SLURM executor's status polling).
    """
    cmd = snakemake_command(workdir, *args, configfile=configfile)
    if kill_after is not None:
        cmd = ["timeout", "-s", "KILL", str(round(kill_after)), *cmd]
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    proc = subprocess.run(
        cmd, capture_output=True, text=True, timeout=timeout, env=env, cwd=REPO, check=False
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"snakemake failed ({proc.returncode}): {' '.join(cmd)}\n--- stdout ---\n{proc.stdout[-6000:]}"
            f"\n--- stderr ---\n{proc.stderr[-6000:]}"
        )
    return proc


@pytest.fixture
def default_config() -> dict:
    """The embedded default config.yaml as a dict."""
    return yaml.safe_load((REPO / "config.yaml").read_text())


def write_config(path: Path, config: dict) -> Path:
    """Write a config dict as YAML."""
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


@pytest.fixture(scope="session")
def mini_run(tmp_path_factory: pytest.TempPathFactory):
    """One full local run of configs/mini.yaml shared by the e2e tests: copy it, never modify it."""
    from mini_run import prepare_workdir, run_full

    return run_full(prepare_workdir(tmp_path_factory.mktemp("mini_run") / "run"))
