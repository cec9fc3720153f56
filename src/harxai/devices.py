"""Device choice: GPUs requested per job, GradCAM layers per job, and the torch device inside jobs.

:func:`job_gpus` and :func:`gradcam_layers_per_job` are plain functions of the config that the
workflow (``rules/common.smk``) calls while it builds the DAG; :func:`select_device` runs inside
the jobs. Torch is imported only there, so the workflow's import of this module stays light.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)

LAYERS_PER_JOB = ("auto", "one", "all")


def job_gpus(gpus: int | str | None, device: str = "auto") -> int:
    """GPUs a model job requests from the scheduler (``resources.gpu``).

    ``compute.gpu`` GPUs, except ``0`` when ``compute.device`` is ``cpu``: a job that will run
    on the CPU anyway must not wait for, or hold, a GPU.
    """
    n = int(gpus or 0)
    if n < 0:
        raise ValueError(f"compute.gpu must be >= 0, not {n}")
    return 0 if device == "cpu" else n


def gradcam_layers_per_job(
    setting: str, gpus: int | str | None, device: str = "auto"
) -> Literal["one", "all"]:
    """Resolve ``gradcam.layers_per_job``: ``one`` (rule gradcam_layer, one job per layer) or
    ``all`` (rule gradcam_layers, every layer of a dataset in one job).

    ``auto`` is ``all`` when the model jobs run on a GPU (:func:`job_gpus` > 0, or
    ``compute.device: cuda``), so the CUDA start-up and the model load are paid once per
    dataset instead of once per layer, and ``one`` otherwise (CPU jobs start fast, and a
    changed layer reruns only that layer).
    """
    if setting == "one":
        return "one"
    if setting == "all":
        return "all"
    if setting != "auto":
        raise ValueError(
            f"gradcam.layers_per_job must be one of {', '.join(LAYERS_PER_JOB)}, not {setting!r}"
        )
    return "all" if device == "cuda" or job_gpus(gpus, device) > 0 else "one"


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
    import torch  # late: keeps job_gpus / gradcam_layers_per_job (used by the workflow) free of torch

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
