"""Reliability catalogue, workflow part (issue 15): what only a Snakemake run can show.

``snakemake -n`` refuses bad settings naming the key before any job; log and benchmark paths
stay under ``results/`` whatever a synthetic dataset's path; ``--forcerun`` regenerates only
a folder harxai made and refuses (before Snakemake deletes anything) a folder it did not; a
second run on the same working directory is locked out. The in-process cases are in
``tests/unit/test_reliability.py``.
"""

from __future__ import annotations

import copy
import os
import re
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import REPO, run_snakemake, snakemake_command, write_config

from harxai.config import SYNTHETIC_MARKER

MINI = yaml.safe_load((REPO / "tests" / "workflow" / "configs" / "mini.yaml").read_text())


def _one_dataset(path: str = "results/synthetic/synth_infant") -> dict[str, Any]:
    """The mini config with its infant dataset only (the smallest DAG)."""
    config = copy.deepcopy(MINI)
    config["datasets"] = {"synth_infant": {**config["datasets"]["synth_infant"], "path": path}}
    return config


def _dry_run(workdir: Path, config: dict[str, Any], *args: str) -> subprocess.CompletedProcess[str]:
    workdir.parent.mkdir(parents=True, exist_ok=True)
    cfg = write_config(workdir.parent / f"{workdir.name}.yaml", config)
    return run_snakemake(workdir, "-n", *args, configfile=cfg, check=False)


REFUSED = {
    "seed-negative": (lambda c: c.__setitem__("seed", -1), "['seed']"),
    "median-window-even": (
        lambda c: c["preprocess"].__setitem__("median_window", 4),
        "preprocess.median_window",
    ),
    "overlap-equals-window": (
        lambda c: c["preprocess"].__setitem__("window_overlap_seconds", 2.0),
        "preprocess.window_overlap_seconds",
    ),
    "max-persons-1e9": (
        lambda c: c["datasets"]["synth_infant"].__setitem__("max_persons", 10**9),
        "max_persons",
    ),
    "synthetic-scale-1e9": (
        lambda c: c["datasets"]["synth_infant"]["synthetic"].__setitem__("scale", 1e9),
        "scale",
    ),
    "explain-class-out-of-range": (lambda c: c["explain"].__setitem__("classes", [5]), "explain.classes"),
    "gradcam-layer-duplicate": (
        lambda c: c["gradcam"].__setitem__("layers", ["main.1.att", "main.1.att"]),
        "gradcam.layers",
    ),
    "gradcam-layer-unknown": (
        lambda c: c["gradcam"].__setitem__("layers", ["main.1.att", "main.9.nope"]),
        "main.9.nope",
    ),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_dry_run_refuses_naming_the_key(tmp_path: Path, case: str) -> None:
    mutate, key = REFUSED[case]
    config = _one_dataset()
    mutate(config)
    proc = _dry_run(tmp_path / "run", config)
    text = proc.stdout + proc.stderr
    assert proc.returncode != 0, text[-3000:]
    assert key in text, text[-3000:]
    assert "rule " not in proc.stdout, "jobs were planned"
    assert not (tmp_path / "run" / "results").exists()


def _log_and_benchmark_paths(text: str) -> list[str]:
    return re.findall(r"^\s+(?:log|benchmark): (.+)$", text, flags=re.MULTILINE)


@pytest.mark.parametrize("where", ["dot-dot", "absolute", "inside"])
def test_logs_of_outside_folders_stay_under_results(tmp_path: Path, where: str) -> None:
    workdir = tmp_path / "deep" / "run"
    path = {
        "dot-dot": "../../outside/synth",
        "absolute": str(tmp_path / "abs" / "synth"),
        "inside": "results/synthetic/synth",
    }[where]
    proc = _dry_run(workdir, _one_dataset(path), "--forceall")
    text = proc.stdout + proc.stderr
    assert proc.returncode == 0, text[-3000:]
    assert "double '/'" not in text
    files = _log_and_benchmark_paths(proc.stdout)
    assert len(files) > 10
    results = (workdir / "results").resolve()
    for f in files:
        resolved = (workdir / f.split(",")[0].strip()).resolve()
        assert resolved.is_relative_to(results), f"{f} leaves results/"
    rule = "generate_synthetic_outside" if where != "inside" else "generate_synthetic"
    assert re.search(rf"^rule {rule}:", proc.stdout, flags=re.MULTILINE), proc.stdout[-3000:]


def test_forcerun_regenerates_only_its_own_folder(tmp_path: Path) -> None:
    """A folder outside results/ is generated with harxai's marker and regenerated under
    --forcerun; once it is a user's folder (no marker) the run is refused before Snakemake
    deletes it (Snakemake removes a directory() output before rerunning its job)."""
    workdir = tmp_path / "run"
    outside = tmp_path / "outside" / "synth"
    cfg = write_config(tmp_path / "c.yaml", _one_dataset(str(outside)))
    run_snakemake(workdir, "--cores", "1", str(outside), configfile=cfg)
    assert (outside / SYNTHETIC_MARKER).is_file()
    first = sorted(p.name for p in outside.iterdir())
    # --forcerun (like --configfile) takes every following word up to the next option
    run_snakemake(
        workdir, "--forcerun", "generate_synthetic_outside", "--cores", "1", str(outside), configfile=cfg
    )
    assert not (workdir / "results" / "synth_infant").exists(), "more than the generation ran"
    assert sorted(p.name for p in outside.iterdir()) == first
    # The folder becomes the user's: marker gone, a file of theirs added.
    (outside / SYNTHETIC_MARKER).unlink()
    (outside / "thesis.txt").write_text("precious")
    for args in (("--forcerun", "generate_synthetic_outside"), ("--forceall",), ()):
        proc = run_snakemake(workdir, *args, "--cores", "1", str(outside), configfile=cfg, check=False)
        text = proc.stdout + proc.stderr
        assert proc.returncode != 0, text[-3000:]
        assert "datasets.synth_infant.path" in text, text[-3000:]
        assert SYNTHETIC_MARKER in text, text[-3000:]
        assert (outside / "thesis.txt").read_text() == "precious"
    assert sorted(p.name for p in outside.iterdir()) == sorted(
        [*set(first) - {SYNTHETIC_MARKER}, "thesis.txt"]
    )


def test_second_run_is_locked_out(tmp_path: Path) -> None:
    """While a run works on a directory, a second run there stops with a lock error."""
    workdir = tmp_path / "run"
    cfg = write_config(tmp_path / "c.yaml", _one_dataset())
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    log = tmp_path / "first.log"
    with log.open("w") as out:
        first = subprocess.Popen(
            snakemake_command(workdir, "--cores", "1", configfile=cfg),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=env,
            cwd=REPO,
        )
    try:
        locks = workdir / ".snakemake" / "locks"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and first.poll() is None:
            if locks.is_dir() and any(locks.iterdir()):
                break
            time.sleep(0.2)
        assert first.poll() is None, f"the first run ended early:\n{log.read_text()[-3000:]}"
        second = run_snakemake(workdir, "--cores", "1", configfile=cfg, check=False)
        text = second.stdout + second.stderr
        assert second.returncode != 0, text[-3000:]
        assert "lock" in text.lower(), text[-3000:]
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
        first.wait(timeout=60)
