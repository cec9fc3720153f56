"""The one error type of the raw-format readers."""

from __future__ import annotations

import os
from pathlib import Path


class ReaderError(ValueError):
    """A raw skeleton file, manifest or dataset folder is malformed.

    The message is one line: ``<file>: line <n>: <problem>`` (or ``frame <n>``), naming the
    file, the line or frame when known, and the problem; a problem longer than
    :data:`MAX_PROBLEM_CHARS` characters is cut.

    Parameters
    ----------
    path
        The offending file or folder.
    problem
        What is wrong, e.g. ``"truncated file: ..."`` or ``"non-numeric value 'abc'"``.
    line
        1-based line number, when known.
    frame
        Frame, when known: 1-based position for NTU files, ``frame_index`` as stored for
        Kinetics JSON.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        problem: str,
        *,
        line: int | None = None,
        frame: int | None = None,
    ) -> None:
        self.path = Path(path)
        self.problem = _one_line(problem, MAX_PROBLEM_CHARS)
        self.line = line
        self.frame = frame
        where = [str(self.path)]
        if line is not None:
            where.append(f"line {line}")
        if frame is not None:
            where.append(f"frame {frame}")
        super().__init__(_one_line(f"{': '.join(where)}: {self.problem}"))

    def __reduce__(self) -> tuple[object, ...]:
        # picklable (reader processes return it): rebuild from the constructor's arguments
        return (_rebuild, (type(self), self.path, self.problem, self.line, self.frame))


def _rebuild(
    cls: type[ReaderError], path: Path, problem: str, line: int | None, frame: int | None
) -> ReaderError:
    return cls(path, problem, line=line, frame=frame)


MAX_PROBLEM_CHARS = 300
"""Problems longer than this are cut (with ``...``) so that a message stays readable."""


def _one_line(text: str, limit: int | None = None) -> str:
    flat = " ".join(text.splitlines())
    if limit is not None and len(flat) > limit:
        flat = flat[: limit - 3] + "..."
    return flat
