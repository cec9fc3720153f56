"""Job logging: one file per job, lines written before run_job are kept."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from harxai.logs import configure_job_logging, run_job


@pytest.fixture(autouse=True)
def _restore_root_logger():
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for h in list(root.handlers):
        root.removeHandler(h)
        if h not in handlers:
            h.close()
    for h in handlers:
        root.addHandler(h)
    root.setLevel(level)
    logging.captureWarnings(False)


def _work(x: int) -> int:
    logging.getLogger("harxai.test").info("working on %d", x)
    return x * 2


def _fail() -> None:
    raise ValueError("data.h5: bad dims")


def test_lines_before_run_job_survive(tmp_path: Path) -> None:
    log = tmp_path / "logs" / "job.log"
    configure_job_logging(log)
    logging.getLogger("harxai.devices").info("using cpu (job was given no GPU)")
    assert run_job(log, _work, x=3) == 6
    text = log.read_text()
    assert "using cpu (job was given no GPU)" in text
    assert "working on 3" in text
    assert text.rstrip().endswith("done")


def test_failure_is_logged_as_one_line_and_reraised(tmp_path: Path) -> None:
    log = tmp_path / "job.log"
    with pytest.raises(ValueError, match="bad dims"):
        run_job(log, _fail)
    assert "ERROR harxai.job: ValueError: data.h5: bad dims" in log.read_text()


def test_a_new_job_log_starts_empty(tmp_path: Path) -> None:
    first, second = tmp_path / "a.log", tmp_path / "b.log"
    run_job(first, _work, x=1)
    run_job(second, _work, x=2)
    assert "working on 1" not in second.read_text()
    assert "working on 2" in second.read_text()
