"""Parse raw files in parallel: a pool of reader processes, results in input order.

Parsing the text formats (NTU ``.skeleton``, Kinetics JSON, key-point CSV) is Python-bound,
so threads would share one interpreter lock; :func:`read_batches` uses ``workers`` processes
(the job's ``threads``) instead. Each task reads a batch of files and packs their results in
the worker (for ingest: frames concatenated and cast), so the calling process, which writes
the output, receives one object per batch and keeps up with the readers (measured in
``docs/scale.md``). Results come back in the order of the inputs, so the output does not
depend on the number of workers. A reader's :class:`~harxai.io.readers.ReaderError`
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
P = TypeVar("P")

PROGRESS_EVERY = 500
"""Files between two progress lines."""
IN_FLIGHT_FILES = 8
"""Files submitted ahead per worker, at least two batches (bounds the parsed recordings waiting for the caller)."""


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


def _run_batch(jobs: Sequence[ReadJob[Any]], pack: Callable[[list[Any]], Any] | None) -> Any:
    """Read a batch of files in one task; ``pack`` (run in the worker) turns the results into one object."""
    results = [_run(job) for job in jobs]
    return pack(results) if pack is not None else results


def read_batches(
    jobs: Sequence[ReadJob[T]],
    workers: int = 1,
    what: str = "files",
    batch: int = 1,
    pack: Callable[[list[T | ReaderError]], P] | None = None,
) -> Iterator[P]:
    """Run the reader jobs in batches of ``batch`` files, ``workers`` processes at a time.

    Each task reads ``batch`` consecutive files and, in the worker, hands the list of their
    results (a result or the :class:`ReaderError` it raised, in input order) to ``pack``;
    what ``pack`` returns comes back to the caller, in input order. Packing in the worker is
    what lets the calling process keep up with several readers: it receives one object per
    batch instead of one per file (for example frames already concatenated).

    Parameters
    ----------
    jobs
        The files to read.
    workers
        Worker processes; 1 (or a single batch) reads in this process.
    what
        Noun of the progress lines (``read 500/4800 files``), which count files.
    batch
        Files per task.
    pack
        Module-level function of the list of a batch's results (so that it pickles); None
        yields the list itself.

    Yields
    ------
    object
        ``pack(results)`` of each batch, in input order. Exceptions other than
        :class:`ReaderError` propagate (as a ``RuntimeError`` naming the file).
    """
    if batch < 1:
        raise ValueError(f"read_batches: batch must be >= 1, got {batch}")
    total = len(jobs)
    batches = [jobs[s : s + batch] for s in range(0, total, batch)]
    started = time.perf_counter()
    done = 0

    def progress(count: int) -> None:
        nonlocal done
        before, done = done, done + count
        if done // PROGRESS_EVERY > before // PROGRESS_EVERY or done == total:
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

    if workers <= 1 or len(batches) <= 1:
        for jobs_of_batch in batches:
            yield _run_batch(jobs_of_batch, pack)
            progress(len(jobs_of_batch))
        return
    # about IN_FLIGHT_FILES files (at least two batches) per worker are read ahead of the caller,
    # so parsed recordings never pile up in memory when the caller (writing them) is the slower side
    ahead = max(2, -(-IN_FLIGHT_FILES // batch)) * workers
    in_flight: deque[tuple[int, Any]] = deque()
    queue = iter(batches)
    with _context().Pool(processes=min(workers, len(batches))) as pool:
        for jobs_of_batch in islice(queue, ahead):
            in_flight.append((len(jobs_of_batch), pool.apply_async(_run_batch, (jobs_of_batch, pack))))
        while in_flight:
            count, pending = in_flight.popleft()
            result = pending.get()
            nxt = next(queue, None)
            if nxt is not None:
                in_flight.append((len(nxt), pool.apply_async(_run_batch, (nxt, pack))))
            yield result
            progress(count)


__all__ = ["PROGRESS_EVERY", "ReadJob", "read_batches"]
