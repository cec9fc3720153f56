"""Helpers of the end-to-end tests that share one full run of configs/mini.yaml.

The session fixture ``mini_run`` (conftest.py) runs the mini workflow once; rerun scenarios,
the kill-and-resume test and the SLURM test compare against it or work on copies of it
(``copy_run`` keeps modification times and the ``.snakemake`` metadata, so Snakemake sees the
copy exactly as it saw the original).

Job lists are read from Snakemake's own dry-run output (the ``rule``/``input``/``output``/
``reason`` blocks of ``snakemake -n``), never hand-listed: the expected jobs of a change are
the jobs downstream of the directly affected ones in the forced (``-n -F``) job graph.
"""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np
import torch
import yaml

REPO = Path(__file__).resolve().parents[2]
DATA_RULES = frozenset({"generate_synthetic", "ingest_dataset", "preprocess_sequences", "compute_features"})
MODEL_RULES = frozenset({"train_model", "load_model"})
MINI_CONFIG = REPO / "tests" / "workflow" / "configs" / "mini.yaml"
FULL_RUN_TIMEOUT = 2400  # seconds; the mini run takes a few minutes on 2 idle cores
RESULTS_COMPARED = ("*.h5", "*.pt")  # final and intermediate outputs compared array by array
# Wall-clock measurements stored as data (the last part of the dataset name): never reproducible.
VOLATILE_DATASETS = frozenset({"seconds", "elapsed_s"})
# Allowed float deviation, as a fraction of the array's largest magnitude. Runs of the same
# code with the same params and threads are bit-identical here (local, resumed and SLURM runs
# alike); raise this only for a platform whose reductions differ in the last bits.
FLOAT_TOLERANCE = 0.0

_BLOCK_START = re.compile(r"^(?P<local>local)?(?:checkpoint|rule) (?P<rule>\w+):$")
_FIELD = re.compile(r"^ {4}(?P<key>[a-z_]+): ?(?P<value>.*)$")
_FINISHED = re.compile(r"^Finished jobid: (?P<jobid>\d+) \(Rule: (?P<rule>\w+)\)")


@dataclass(frozen=True)
class Job:
    """One job block of Snakemake's output (dry run or real run)."""

    rule: str
    jobid: int
    wildcards: str = ""
    inputs: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()
    reason: str = ""
    resources: str = ""
    local: bool = False  # announced as "localrule" (runs in the Snakemake process's executor)

    @property
    def key(self) -> str:
        """``rule[wildcards]``: stable across runs (job ids are not)."""
        return f"{self.rule}[{self.wildcards}]" if self.wildcards else self.rule


@dataclass
class MiniRun:
    """A finished full run of the mini workflow."""

    workdir: Path
    seconds: float
    jobs: dict[str, Job] = field(default_factory=dict)


def _split_paths(value: str) -> tuple[str, ...]:
    return tuple(p.strip() for p in value.split(",") if p.strip())


def parse_jobs(text: str) -> dict[str, Job]:
    """Jobs announced in Snakemake output, by :attr:`Job.key` (each job once)."""
    jobs: dict[str, Job] = {}
    current: dict[str, str] | None = None
    rule, local = "", False

    def flush() -> None:
        if current is None or "jobid" not in current:
            return
        outputs = (
            _split_paths(current.get("output", ""))
            + _split_paths(current.get("benchmark", ""))
            + _split_paths(current.get("log", ""))
        )
        job = Job(
            rule=rule,
            jobid=int(current["jobid"]),
            wildcards=current.get("wildcards", ""),
            inputs=_split_paths(current.get("input", "")),
            outputs=outputs,
            reason=current.get("reason", ""),
            resources=current.get("resources", ""),
            local=local,
        )
        jobs.setdefault(job.key, job)

    for line in text.splitlines():
        start = _BLOCK_START.match(line)
        if start:
            flush()
            current, rule, local = {}, start["rule"], bool(start["local"])
            continue
        if current is None:
            continue
        m = _FIELD.match(line)
        if m:
            current[m["key"]] = m["value"]
        else:
            flush()
            current = None
    flush()
    return jobs


def finished_jobs(text: str, announced: dict[str, Job]) -> set[str]:
    """Keys of the jobs that a (possibly interrupted) run reported as finished."""
    by_id = {job.jobid: job for job in announced.values()}
    done = set()
    for line in text.splitlines():
        m = _FINISHED.match(line.strip())
        if m and int(m["jobid"]) in by_id:
            done.add(by_id[int(m["jobid"])].key)
    return done


def planned_jobs(workdir: Path, *args: str) -> tuple[dict[str, Job], str]:
    """Dry run in ``workdir``: the jobs Snakemake would run, and its output text."""
    from conftest import run_snakemake  # conftest imports this module: import lazily

    proc = run_snakemake(workdir, "-n", "--cores", "2", *args)
    text = proc.stdout + proc.stderr
    return parse_jobs(text), text


def downstream(jobs: dict[str, Job], seeds: Iterable[str]) -> set[str]:
    """``seeds`` and every job that consumes their outputs, transitively (from ``-n -F`` jobs)."""
    producer = {path: key for key, job in jobs.items() for path in job.outputs}
    consumers: dict[str, set[str]] = {key: set() for key in jobs}
    for key, job in jobs.items():
        for path in job.inputs:
            if path in producer:
                consumers[producer[path]].add(key)
    todo, seen = list(seeds), set(seeds)
    while todo:
        for nxt in consumers[todo.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def prepare_workdir(workdir: Path, config: Path = MINI_CONFIG) -> Path:
    """Create ``workdir`` with the mini config as its ``config.yaml`` (the Snakefile's configfile)."""
    workdir.mkdir(parents=True, exist_ok=True)
    shutil.copy2(config, workdir / "config.yaml")
    return workdir


def edit_config(workdir: Path, edit: Callable[[dict], object]) -> dict:
    """Load ``workdir/config.yaml``, apply ``edit`` (which mutates the dict) and write it back."""
    path = workdir / "config.yaml"
    config = yaml.safe_load(path.read_text())
    edit(config)
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return config


def run_full(workdir: Path, *args: str) -> MiniRun:
    """Run the whole mini workflow locally on 2 cores in a prepared ``workdir``."""
    from conftest import run_snakemake

    start = time.monotonic()
    proc = run_snakemake(workdir, "--cores", "2", *args, timeout=FULL_RUN_TIMEOUT)
    seconds = time.monotonic() - start
    return MiniRun(workdir=workdir, seconds=seconds, jobs=parse_jobs(proc.stdout + proc.stderr))


def copy_run(src: Path, dst: Path) -> Path:
    """Copy a run folder with its ``.snakemake`` metadata, keeping every modification time."""
    shutil.copytree(src, dst, symlinks=True, copy_function=shutil.copy2)
    return dst


def compared_files(workdir: Path) -> list[str]:
    """Relative paths of the HDF5 and model files under ``results/`` (logs and benchmarks excluded)."""
    results = workdir / "results"
    files = {p for pattern in RESULTS_COMPARED for p in results.rglob(pattern)}
    skip = {"logs", "benchmarks"}
    return sorted(str(p.relative_to(workdir)) for p in files if not skip & set(p.relative_to(results).parts))


def h5_arrays(path: Path) -> dict[str, np.ndarray]:
    """Every dataset of an HDF5 file by its full name (attributes such as ``created`` ignored)."""
    arrays: dict[str, np.ndarray] = {}

    def visit(name: str, obj: object) -> None:
        if isinstance(obj, h5py.Dataset):
            arrays[name] = obj[()]

    with h5py.File(path, "r") as h5:
        h5.visititems(visit)
    return arrays


def model_arrays(path: Path) -> dict[str, np.ndarray]:
    """The state dict of a ``model.pt`` as numpy arrays."""
    saved = torch.load(path, map_location="cpu", weights_only=True)
    state = saved.get("state_dict", saved) if isinstance(saved, dict) else {}
    return {k: v.detach().cpu().numpy() for k, v in state.items() if isinstance(v, torch.Tensor)}


def array_difference(a: np.ndarray, b: np.ndarray) -> str | None:
    """None when two arrays match (floats within ``FLOAT_TOLERANCE``), else what differs."""
    if a.shape != b.shape or a.dtype != b.dtype:
        return f"shape/dtype {a.shape} {a.dtype} vs {b.shape} {b.dtype}"
    if a.dtype.kind not in "fc":
        return None if np.array_equal(a, b) else "values differ"
    if not np.array_equal(np.isnan(a), np.isnan(b)):
        return "NaN positions differ"
    finite = ~np.isnan(a)
    if not finite.any():
        return None
    deviation = float(np.abs(a[finite] - b[finite]).max())
    scale = float(np.abs(a[finite]).max())
    if deviation > FLOAT_TOLERANCE * scale:
        return f"max deviation {deviation:.3g} > {FLOAT_TOLERANCE:g} x max magnitude {scale:.3g}"
    return None


def result_differences(a: Path, b: Path) -> list[str]:
    """Differences between the compared outputs of two run folders (empty when identical)."""
    files_a, files_b = compared_files(a), compared_files(b)
    problems = []
    if files_a != files_b:
        problems.append(
            f"different files: only in {a}: {sorted(set(files_a) - set(files_b))}; "
            f"only in {b}: {sorted(set(files_b) - set(files_a))}"
        )
    for rel in sorted(set(files_a) & set(files_b)):
        read = h5_arrays if rel.endswith(".h5") else model_arrays
        arrays_a, arrays_b = read(a / rel), read(b / rel)
        if sorted(arrays_a) != sorted(arrays_b):
            problems.append(f"{rel}: datasets differ: {sorted(arrays_a)} vs {sorted(arrays_b)}")
            continue
        for name in arrays_a:
            if name.rsplit("/", 1)[-1] in VOLATILE_DATASETS:
                continue
            difference = array_difference(arrays_a[name], arrays_b[name])
            if difference:
                problems.append(f"{rel}:{name}: {difference}")
    return problems
