"""Device choice inside jobs (CUDA only when the job was given a GPU and CUDA is available), the
GPUs a model job requests, and the GradCAM layers per job."""

from __future__ import annotations

import logging
import subprocess
import sys

import pytest
import torch

from harxai.devices import gradcam_layers_per_job, job_gpus, select_device


@pytest.fixture
def cuda(monkeypatch: pytest.MonkeyPatch):
    """Set what torch.cuda.is_available() answers."""

    def set_available(available: bool) -> None:
        monkeypatch.setattr(torch.cuda, "is_available", lambda: available)

    return set_available


@pytest.mark.parametrize(
    ("requested", "gpus", "available", "device", "why"),
    [
        ("auto", 0, True, "cpu", "job was given no GPU"),
        ("auto", 0, False, "cpu", "job was given no GPU"),
        ("auto", None, True, "cpu", "job was given no GPU"),
        ("auto", 1, True, "cuda", "job was given 1 GPU(s) and CUDA is available"),
        ("auto", "2", True, "cuda", "job was given 2 GPU(s) and CUDA is available"),
        ("auto", 1, False, "cpu", "job was given 1 GPU(s) but CUDA is not available"),
        ("cpu", 1, True, "cpu", "device: cpu requested"),
        ("cpu", 0, False, "cpu", "device: cpu requested"),
        ("cuda", 0, True, "cuda", "device: cuda requested"),
        ("cuda", 1, True, "cuda", "device: cuda requested"),
    ],
)
def test_select_device_choice_and_log_line(
    cuda, caplog: pytest.LogCaptureFixture, requested: str, gpus, available: bool, device: str, why: str
) -> None:
    cuda(available)
    with caplog.at_level(logging.INFO, logger="harxai.devices"):
        chosen = select_device(requested, gpus)
    assert chosen == torch.device(device)
    records = [r for r in caplog.records if r.name == "harxai.devices"]
    assert [(r.levelno, r.getMessage()) for r in records] == [(logging.INFO, f"using {device} ({why})")]


@pytest.mark.parametrize("gpus", [0, 1])
def test_cuda_requested_without_cuda_is_an_error(cuda, gpus: int) -> None:
    cuda(False)
    with pytest.raises(RuntimeError, match="cuda requested but CUDA is not available"):
        select_device("cuda", gpus)


def test_unknown_device_is_an_error(cuda) -> None:
    cuda(True)
    with pytest.raises(ValueError, match="device must be auto, cpu or cuda, not 'gpu'"):
        select_device("gpu", 1)


def test_default_is_auto_without_gpu(cuda, caplog: pytest.LogCaptureFixture) -> None:
    cuda(True)
    with caplog.at_level(logging.INFO, logger="harxai.devices"):
        assert select_device() == torch.device("cpu")
    assert "using cpu (job was given no GPU)" in caplog.text


@pytest.mark.parametrize(
    ("gpus", "device", "requested"),
    [
        (0, "auto", 0),
        (1, "auto", 1),
        ("2", "auto", 2),
        (None, "auto", 0),
        (1, "cpu", 0),
        (2, "cuda", 2),
        (0, "cuda", 0),
    ],
)
def test_job_gpus_none_for_cpu_device(gpus, device: str, requested: int) -> None:
    assert job_gpus(gpus, device) == requested


def test_job_gpus_refuses_negative() -> None:
    with pytest.raises(ValueError, match=r"compute\.gpu must be >= 0"):
        job_gpus(-1, "auto")


@pytest.mark.parametrize(
    ("setting", "gpus", "device", "mode"),
    [
        ("auto", 0, "auto", "one"),
        ("auto", 1, "auto", "all"),
        ("auto", 1, "cpu", "one"),  # compute.device: cpu keeps tiny models on the CPU, per layer
        ("auto", 0, "cuda", "all"),  # jobs run on CUDA even without a scheduler GPU request
        ("auto", 0, "cpu", "one"),
        ("one", 1, "auto", "one"),
        ("one", 1, "cuda", "one"),
        ("all", 0, "auto", "all"),
        ("all", 0, "cpu", "all"),
    ],
)
def test_gradcam_layers_per_job(setting: str, gpus: int, device: str, mode: str) -> None:
    assert gradcam_layers_per_job(setting, gpus, device) == mode


def test_gradcam_layers_per_job_refuses_unknown_setting() -> None:
    with pytest.raises(
        ValueError, match=r"gradcam\.layers_per_job must be one of auto, one, all, not 'some'"
    ):
        gradcam_layers_per_job("some", 1, "auto")


def test_workflow_functions_do_not_import_torch() -> None:
    """rules/common.smk imports harxai.devices while it builds the DAG: torch must stay a job import."""
    code = "import sys, harxai.devices; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True)
