"""Parse raw files in parallel: a pool of reader processes, results in input order.

Parsing the text formats (NTU ``.skeleton``, Kinetics JSON, key-point CSV) is Python-bound,
so threads would share one interpreter lock; :func:`read_many` uses ``workers`` processes
(the job's ``threads``) instead. Results come back in the order of the inputs, so the output
does not depend on the number of workers. A reader's :class:`~harxai.io.readers.ReaderError`
(and a ``MemoryError``, as a ``ReaderError`` naming the job's first argument, the file) is
returned in place of its result (not raised in the worker), so the caller decides whether a
bad file stops the job (``on_bad_recording``); any other exception is raised in the caller as a ``RuntimeError``
naming the file. Progress is logged at INFO every :data:`PROGRESS_EVERY` files and at
the end, with the rate.

On Linux the workers are forked (they inherit the imported modules and need no re-import of
the calling script, which a Snakemake ``script:`` cannot provide); elsewhere they are spawned.
"""

from __future__ import annotations

import logging
import multiprocessing
import sys
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import islice
from typing import Any, Generic, TypeVar

from .readers import ReaderError

log = logging.getLogger(__name__)

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)

PROGRESS_EVERY = 500
"""Files between two progress lines."""
IN_FLIGHT_PER_WORKER = 8
"""Files submitted ahead per worker (bounds the parsed recordings waiting for the caller)."""


@dataclass(frozen=True)
class ReadJob(Generic[T_co]):
    """One file to read: ``func(*args, **kwargs)``."""

    func: Callable[..., T_co]
    args: tuple[Any, ...]
    kwargs: Mapping[str, Any]


def _run(job: ReadJob[Any]) -> Any:
    try:
        return job.func(*job.args, **dict(job.kwargs))
    except ReaderError as exc:
        return exc
    except MemoryError:
        # a recording too large to parse is a bad recording, not a failed job
        return ReaderError(job.args[0], "out of memory while reading the recording")
    except Exception as exc:  # noqa: BLE001 - any reader failure is re-raised, naming the file
        # re-raised in the parent: make sure it pickles (an exception that does not unpickle
        # would stop the pool's result thread) and that it names the file
        raise RuntimeError(
            f"{job.args[0] if job.args else job.func.__name__}: {type(exc).__name__}: {exc}"
        ) from None


def _context() -> Any:
    return multiprocessing.get_context("fork" if sys.platform.startswith("linux") else "spawn")


def read_many(jobs: Sequence[ReadJob[T]], workers: int = 1, what: str = "files") -> Iterator[T | ReaderError]:
    """Run the reader jobs, ``workers`` at a time, yielding results in input order.

    Parameters
    ----------
    jobs
        The files to read.
    workers
        Worker processes; 1 (or a single job) reads in this process.
    what
        Noun of the progress lines (``read 500/4800 files``).

    Yields
    ------
    object or ReaderError
        Each job's result, or the :class:`ReaderError` it raised. Other exceptions propagate.
    """
    total = len(jobs)
    started = time.perf_counter()

    def progress(done: int) -> None:
        if done % PROGRESS_EVERY == 0 or done == total:
            rate = done / max(time.perf_counter() - started, 1e-9)
            log.info(
                "read %d/%d %s (%.0f per second, %d worker%s)",
                done,
                total,
                what,
                rate,
                workers,
                "s"[: workers > 1],
            )

    if workers <= 1 or total <= 1:
        for i, job in enumerate(jobs):
            yield _run(job)
            progress(i + 1)
        return
    # at most IN_FLIGHT_PER_WORKER files per worker are read ahead of the caller, so parsed
    # recordings never pile up in memory when the caller (writing them) is the slower side
    in_flight: deque[Any] = deque()
    queue = iter(jobs)
    with _context().Pool(processes=min(workers, total)) as pool:
        for job in islice(queue, IN_FLIGHT_PER_WORKER * workers):
            in_flight.append(pool.apply_async(_run, (job,)))
        done = 0
        while in_flight:
            result = in_flight.popleft().get()
            nxt = next(queue, None)
            if nxt is not None:
                in_flight.append(pool.apply_async(_run, (nxt,)))
            done += 1
            yield result
            progress(done)


__all__ = ["PROGRESS_EVERY", "ReadJob", "read_many"]
