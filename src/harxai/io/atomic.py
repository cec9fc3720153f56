"""Atomic output: write to a temporary file (or folder) beside the target, then rename it onto the target.

Temporaries are hidden siblings named ``.<target name>.<8 random characters>.tmp`` (and
``.old`` for the previous content of a replaced folder). A process killed while writing
cannot remove its own; the next write of the same target removes them first (a target has
one writer at a time: Snakemake locks the outputs of a run), so no debris accumulates.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

log = logging.getLogger(__name__)


def stale_temporaries(target: str | os.PathLike[str]) -> list[Path]:
    """The temporaries of ``target`` left beside it (by a killed or crashed write)."""
    target = Path(target)
    pattern = re.compile(rf"\.{re.escape(target.name)}\.[a-z0-9_]{{8}}\.(?:tmp|old)")
    try:
        entries = list(target.parent.iterdir())
    except (FileNotFoundError, NotADirectoryError):
        return []
    return sorted(p for p in entries if pattern.fullmatch(p.name))


def remove_stale_temporaries(target: str | os.PathLike[str]) -> list[Path]:
    """Remove the temporaries of ``target`` a killed write left behind; return them."""
    stale = stale_temporaries(target)
    for p in stale:
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p, ignore_errors=True)
        else:
            with contextlib.suppress(FileNotFoundError):
                p.unlink()
        log.info("%s: removed stale temporary %s", target, p.name)
    return stale


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path in the target's folder; move it onto ``target`` on success.

    On any exception the temporary file is removed and ``target`` is left untouched, so a
    failed job never leaves a half-written output behind; temporaries of ``target`` left by a
    killed earlier write are removed first.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(target)
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        tmp.chmod(0o666 & ~_current_umask())  # mkstemp creates 0600; give outputs the usual mode
        tmp.replace(target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


@contextlib.contextmanager
def atomic_directory(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary sibling folder; rename it onto ``target`` on success.

    An existing ``target`` is replaced. On any exception the temporary folder is removed
    and ``target`` is left as it was.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(target)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp"))
    try:
        yield tmp
        tmp.chmod(0o777 & ~_current_umask())
        if target.exists():
            old = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.", suffix=".old"))
            target.replace(old / "content")
            tmp.replace(target)
            shutil.rmtree(old)
        else:
            tmp.replace(target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def write_text_atomic(target: str | os.PathLike[str], text: str) -> None:
    """Write a text file atomically."""
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")
