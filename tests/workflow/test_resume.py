"""Kill and resume: a mini run killed mid-DAG resumes with --rerun-incomplete and redoes only
the unfinished jobs, ending with results identical (HDF5 arrays, model weights) to the
uninterrupted run of the ``mini_run`` fixture."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from conftest import REPO, run_snakemake, snakemake_command
from mini_run import (
    FULL_RUN_TIMEOUT,
    MiniRun,
    finished_jobs,
    parse_jobs,
    planned_jobs,
    prepare_workdir,
    result_differences,
)

pytestmark = pytest.mark.e2e


def _kill_mid_dag(workdir: Path, log: Path, after_finished: int) -> str:
    """Run the mini workflow and SIGKILL its process group once ``after_finished`` jobs have
    finished while another job is running; return the run's output up to the kill."""
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    cmd = snakemake_command(workdir, "--cores", "2")
    with log.open("w") as out:
        proc = subprocess.Popen(
            cmd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True, env=env, cwd=REPO
        )
    deadline = time.monotonic() + FULL_RUN_TIMEOUT
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            text = log.read_text()
            announced = parse_jobs(text)
            done = finished_jobs(text, announced)
            running = set(announced) - done - {"all"}
            if len(done) >= after_finished and running:
                os.killpg(proc.pid, signal.SIGKILL)
                break
            time.sleep(0.2)
    finally:
        if proc.poll() is None and time.monotonic() >= deadline:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL, (
        f"the run ended ({proc.returncode}) before it was killed mid-DAG:\n{log.read_text()[-4000:]}"
    )
    return log.read_text()


def test_kill_and_resume(mini_run: MiniRun, tmp_path: Path) -> None:
    all_jobs = set(mini_run.jobs)
    workdir = prepare_workdir(tmp_path / "run")
    text = _kill_mid_dag(workdir, tmp_path / "killed.log", after_finished=len(all_jobs) // 3)
    finished = finished_jobs(text, parse_jobs(text))
    assert finished < all_jobs, f"finished jobs {sorted(finished - all_jobs)} are not jobs of the full run"

    # Snakemake's lock survives SIGKILL: the documented resume is --unlock, then --rerun-incomplete.
    run_snakemake(workdir, "--unlock")
    planned, _ = planned_jobs(workdir, "--rerun-incomplete")
    assert set(planned) == all_jobs - finished, (
        f"resume would redo finished jobs {sorted(set(planned) & finished)} or skip unfinished "
        f"{sorted(all_jobs - finished - set(planned))}"
    )
    proc = run_snakemake(workdir, "--cores", "2", "--rerun-incomplete", timeout=FULL_RUN_TIMEOUT)
    resumed = parse_jobs(proc.stdout + proc.stderr)
    assert set(resumed) == all_jobs - finished

    assert result_differences(mini_run.workdir, workdir) == []
    after, after_text = planned_jobs(workdir)
    assert after == {}, f"jobs left after the resumed run: {sorted(after)}\n{after_text[-2000:]}"
