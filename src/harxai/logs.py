"""Logging for workflow jobs: one log file per job, plus stderr."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure_job_logging(log_path: str | os.PathLike[str] | None) -> None:
    """Send INFO and above to ``log_path`` (truncated) and to stderr.

    Only workflow adapters and command-line entry points call this; package modules log
    through ``logging.getLogger(__name__)`` and never configure handlers.
    """
    root = logging.getLogger()
    target = Path(log_path).resolve() if log_path else None
    if target is not None and any(
        isinstance(h, logging.FileHandler) and Path(h.baseFilename) == target for h in root.handlers
    ):
        return  # already logging to this job's file (adapter, then run_job): keep its lines
    for handler in list(root.handlers):
        root.removeHandler(handler)
        if isinstance(handler, logging.FileHandler):
            handler.close()
    root.setLevel(logging.INFO)
    formatter = logging.Formatter(_FORMAT)
    stream = logging.StreamHandler(sys.stderr)
    stream.setFormatter(formatter)
    root.addHandler(stream)
    if log_path:
        Path(log_path).parent.mkdir(parents=True, exist_ok=True)
        fh = logging.FileHandler(log_path, mode="w", encoding="utf-8")
        fh.setFormatter(formatter)
        root.addHandler(fh)
    logging.captureWarnings(True)


def run_job(log_path: str | os.PathLike[str] | None, func: Callable[..., T], **kwargs: Any) -> T:
    """Run one workflow step with logging; a failure is logged as one line and re-raised."""
    configure_job_logging(log_path)
    log = logging.getLogger("harxai.job")
    log.info("running %s.%s", func.__module__, func.__qualname__)
    try:
        result = func(**kwargs)
    except Exception as exc:
        log.error("%s: %s", type(exc).__name__, exc)
        raise
    log.info("done")
    return result
