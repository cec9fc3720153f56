"""The mini workflow through a real single-node SLURM cluster with the project's SLURM profile.

The cluster (Debian's slurm-wlm + munge, installed when missing and this is root) is started
by ``slurm_cluster.SlurmCluster`` and stopped by PID afterwards. The run uses
profiles/slurm/config.yaml with only its placeholders replaced for the test cluster, and a
config overlay that asks for one GPU per model job: sbatch must send ``--gpus=1`` for exactly
the model rules, the jobs must still choose the CPU (there is no GPU here) and say so in their
logs, and the results must equal the local run's array by array.

The sbatch calls are written to ``SBATCH_LOG`` (.ci/run prints that file after pytest, so the
CI log shows them whether or not the test passes) and summarised on stdout.
"""

from __future__ import annotations

import ast
import os
import re
import shlex
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from conftest import REPO, run_snakemake
from mini_run import DATA_RULES, MiniRun, parse_jobs, planned_jobs, prepare_workdir, result_differences
from slurm_cluster import PARTITION, SlurmCluster, SlurmUnavailable, ensure_installed

SBATCH_LOG = Path(os.environ.get("HARXAI_SBATCH_LOG", "/tmp/harxai-slurm-sbatch.log"))
SLURM_PROFILE = REPO / "profiles" / "slurm" / "config.yaml"
SLURM_RUN_KILL_AFTER = 2400  # seconds; guards against the plugin's status-polling hang
# Test-cluster settings that replace or extend the profile's site placeholders.
TEST_OVERRIDES = {
    "slurm-no-account": True,  # no accounting here; account guessing is broken in plugin 2.8.0
    "slurm-status-command": "squeue",  # sacct needs slurmdbd; squeue works with MinJobAge=300
    "slurm-init-seconds-before-status-checks": 5,
    "slurm-keep-successful-logs": True,  # job stdout/stderr under .snakemake/slurm_logs for diagnosis
}
# At least these request GPUs; with compute.gpu: 1, gradcam.layers_per_job: auto computes every
# GradCAM layer of a dataset in one gradcam_layers job (and no gradcam_layer job runs).
GPU_RULES = {"train_model", "shap_chunk", "gradcam_layers"}
CPU_FALLBACK_LOG = "using cpu (job was given 1 GPU(s) but CUDA is not available)"


def write_test_profile(directory: Path) -> Path:
    """profiles/slurm with only its placeholders replaced for the single-node test cluster."""
    profile = yaml.safe_load(SLURM_PROFILE.read_text())
    resources = profile["default-resources"]
    for key in ("slurm_partition", "slurm_account"):
        assert str(resources[key]).startswith("FILL_IN"), f"{SLURM_PROFILE}: {key} is no placeholder"
    resources["slurm_partition"] = PARTITION
    del resources["slurm_account"]
    assert not set(TEST_OVERRIDES) & set(profile), "the test would hide a profile setting"
    profile.update(TEST_OVERRIDES)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "config.yaml").write_text(yaml.safe_dump(profile, sort_keys=False))
    return directory


def sbatch_calls(text: str) -> list[str]:
    """The sbatch command lines Snakemake logged with --verbose."""
    return [
        line.split("sbatch call: ", 1)[1].strip() for line in text.splitlines() if "sbatch call: " in line
    ]


def sbatch_options(call: str) -> str:
    """An sbatch call without its long ``--wrap`` payload (the Snakemake job-step command)."""
    options, _, wrap = call.partition(" --wrap=")
    target = re.search(r"--target-jobs '([^']*)'", wrap)
    return f"{options} --wrap=<snakemake job step {target[1] if target else '?'}>" if wrap else options


def sbatch_rule(call: str) -> str:
    """Rule of an sbatch call, from the plugin's ``--comment rule_<rule>[_wildcards_...]``."""
    tokens = shlex.split(call.split(" --wrap", 1)[0])
    comment = tokens[tokens.index("--comment") + 1]
    return comment.removeprefix("rule_").split("_wildcards_", 1)[0]


def sbatch_time_mem(call: str) -> tuple[str, str]:
    """The ``-t`` (minutes) and ``--mem`` (MB) values of an sbatch call."""
    tokens = shlex.split(call.split(" --wrap", 1)[0])
    return tokens[tokens.index("-t") + 1], tokens[tokens.index("--mem") + 1]


def sbatch_gpus(call: str) -> str | None:
    m = re.search(r"--gpus[= ](\S+)", call.split(" --wrap", 1)[0])
    return m[1] if m else None


@pytest.fixture(scope="module")
def slurm_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SlurmCluster]:
    try:
        ensure_installed()
        cluster = SlurmCluster(tmp_path_factory.mktemp("slurm")).start()
    except SlurmUnavailable as exc:
        pytest.skip(f"no single-node SLURM cluster: {exc}")
    try:
        yield cluster
    finally:
        cluster.stop()


def test_every_rule_declares_resources() -> None:
    """threads, mem_mb, runtime and gpu on every rule (the SLURM submission relies on them)."""
    missing = []
    for smk in sorted((REPO / "rules").glob("*.smk")):
        blocks = re.split(r"^(?=rule \w+:)", smk.read_text(), flags=re.MULTILINE)[1:]
        for block in blocks:
            name = block.split(":", 1)[0].removeprefix("rule ")
            resources = block.split("resources:", 1)[1] if "resources:" in block else ""
            shared = re.search(r"^\s+\*\*(LIGHT|MODEL)_RESOURCES,", resources, flags=re.MULTILINE)
            needed = {"threads:": "threads:" in block}
            needed |= {
                k: shared is not None or re.search(rf"^\s+{k}=", resources, flags=re.MULTILINE) is not None
                for k in ("mem_mb", "runtime", "gpu")
            }
            missing += [f"{smk.name}:{name}:{k}" for k, ok in needed.items() if not ok]
    assert missing == []
    common = (REPO / "rules" / "common.smk").read_text()
    light = re.search(r"^LIGHT_RESOURCES = (\{.*\})$", common, flags=re.MULTILINE)
    assert light is not None
    assert set(ast.literal_eval(light.group(1))) == {"mem_mb", "runtime", "gpu"}
    assert 'for key in ("mem_mb", "runtime", "gpu")' in common


@pytest.mark.e2e
@pytest.mark.slurm
def test_slurm_run_matches_local(mini_run: MiniRun, slurm_cluster: SlurmCluster, tmp_path: Path) -> None:
    workdir = prepare_workdir(tmp_path / "run")
    overlay = tmp_path / "gpu.yaml"
    overlay.write_text(yaml.safe_dump({"compute": {"gpu": 1}}))
    profile = write_test_profile(tmp_path / "profile")
    args = ("--workflow-profile", str(profile), "--configfile", str(overlay))

    planned, _ = planned_jobs(workdir, *args)
    expected_gpu_rules = {job.rule for job in planned.values() if re.search(r"\bgpu=1\b", job.resources)}
    assert expected_gpu_rules >= GPU_RULES, (
        f"model rules without the config's GPU request: {expected_gpu_rules}"
    )
    assert "gradcam_layer" not in {job.rule for job in planned.values()}

    start = time.monotonic()
    proc = run_snakemake(
        workdir,
        *args,
        "--verbose",
        timeout=SLURM_RUN_KILL_AFTER + 60,
        kill_after=SLURM_RUN_KILL_AFTER,
        check=False,
    )
    seconds = time.monotonic() - start
    text = proc.stdout + proc.stderr
    (tmp_path / "slurm_run.log").write_text(text)
    calls = sbatch_calls(text)
    summary = [
        f"SLURM mini run: {len(calls)} sbatch calls in {seconds:.0f} s (local run {mini_run.seconds:.0f} s)"
    ]
    summary += [f"  {sbatch_rule(c):22s} gpus={sbatch_gpus(c) or '-'}" for c in calls]
    header = f"# sbatch calls of tests/workflow/test_slurm.py (full calls in {tmp_path / 'slurm_run.log'})"
    SBATCH_LOG.write_text("\n".join([header, *map(sbatch_options, calls), "", *summary, ""]))
    print("\n".join([*map(sbatch_options, calls), *summary]))
    assert proc.returncode == 0, (
        f"SLURM run failed ({proc.returncode}; -9 = killed after {SLURM_RUN_KILL_AFTER} s)\n"
        f"{text[-6000:]}\n{slurm_cluster.logs()}"
    )

    submitted = [sbatch_rule(c) for c in calls]
    remote = sorted(job.rule for job in planned.values() if job.rule != "all")
    assert sorted(submitted) == remote, "every job except the target rule goes through sbatch, once"
    for call in calls:
        rule, gpus = sbatch_rule(call), sbatch_gpus(call)
        assert gpus == ("1" if rule in expected_gpu_rules else None), f"{rule}: --gpus={gpus} in {call}"
        assert f"-p {PARTITION}" in call.replace("'", ""), call
        assert " -A " not in call, call
    assert not {sbatch_rule(c) for c in calls if sbatch_gpus(c)} & DATA_RULES
    declared = {
        (job.rule, *(re.search(rf"\b{k}=(\d+)", job.resources)[1] for k in ("runtime", "mem_mb")))
        for job in planned.values()
        if job.rule != "all"
    }
    assert {(sbatch_rule(c), *sbatch_time_mem(c)) for c in calls} == declared, (
        "-t/--mem differ from the rules"
    )

    ran = parse_jobs(text)
    for job in ran.values():
        if job.rule in expected_gpu_rules:
            log = workdir / next(p for p in job.outputs if p.startswith("results/logs/"))
            assert CPU_FALLBACK_LOG in log.read_text(), f"{log}: no CPU fallback line"
    assert result_differences(mini_run.workdir, workdir) == []
