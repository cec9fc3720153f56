"""Device choice inside jobs."""

from __future__ import annotations

import logging

import torch

log = logging.getLogger(__name__)


def select_device(requested: str = "auto", gpus: int | str | None = 0) -> torch.device:
    """Choose the torch device of a job and log the choice.

    Parameters
    ----------
    requested
        ``auto``: CUDA when the job was given a GPU (``gpus`` > 0) and CUDA is available,
        otherwise CPU. ``cpu``: always CPU. ``cuda``: CUDA, or an error when unavailable.
    gpus
        GPUs the job was given (Snakemake's ``resources.gpu``).
    """
    n_gpus = int(gpus or 0)
    available = torch.cuda.is_available()
    if requested == "cpu":
        device, why = torch.device("cpu"), "device: cpu requested"
    elif requested == "cuda":
        if not available:
            raise RuntimeError("device: cuda requested but CUDA is not available on this machine")
        device, why = torch.device("cuda"), "device: cuda requested"
    elif requested == "auto":
        if n_gpus > 0 and available:
            device, why = torch.device("cuda"), f"job was given {n_gpus} GPU(s) and CUDA is available"
        elif n_gpus > 0:
            device, why = torch.device("cpu"), f"job was given {n_gpus} GPU(s) but CUDA is not available"
        else:
            device, why = torch.device("cpu"), "job was given no GPU"
    else:
        raise ValueError(f"device must be auto, cpu or cuda, not {requested!r}")
    log.info("using %s (%s)", device, why)
    return device
