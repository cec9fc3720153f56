"""Device choice inside jobs: CUDA only when the job was given a GPU and CUDA is available."""

from __future__ import annotations

import logging

import pytest
import torch

from harxai.devices import select_device


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
