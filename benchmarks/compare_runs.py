"""Compare the results of two workflow runs array by array and table by table; print JSON.

Every dataset of every ``.h5`` file and every ``.csv`` table under ``BEFORE`` is compared with
the same file under ``AFTER`` (logs and Snakemake benchmarks skipped): numbers exactly, with the
largest absolute and relative difference where they differ; text columns and string datasets
exactly. ``--rename OLD=NEW`` maps a renamed spelling (in file names, text columns and string
datasets) before comparing, e.g. the GradCAM method names of before session 3:

    python benchmarks/compare_runs.py /tmp/before/results /tmp/after/results \\
        --rename gradcam-=gradcam:

Prints ``{"identical": n, "differ": [...], "missing": [...], "new": [...]}``: what to quote when a
change must leave the default run's arrays and tables unchanged (issue 11).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import h5py
import numpy as np
import pandas as pd

SKIPPED = {"logs", "benchmarks"}


def _text(values: np.ndarray, renames: list[tuple[str, str]]) -> np.ndarray:
    out = np.array([v.decode() if isinstance(v, bytes) else str(v) for v in values.ravel()], dtype=object)
    for old, new in renames:
        out = np.array([v.replace(old, new) for v in out], dtype=object)
    return out.reshape(values.shape)


def _numbers(a: np.ndarray, b: np.ndarray) -> str | None:
    """None when equal (NaN equal to NaN), else a description of the largest difference."""
    if a.shape != b.shape:
        return f"shape {a.shape} vs {b.shape}"
    if np.array_equal(a, b, equal_nan=True):
        return None
    x, y = a.astype(np.float64), b.astype(np.float64)
    if not np.array_equal(np.isnan(x), np.isnan(y)):
        return "NaN at different places"
    d = float(np.nanmax(np.abs(x - y)))
    scale = float(np.nanmax(np.abs(x))) or 1.0
    return f"max |diff| {d:.3g} (relative {d / scale:.3g})"


def compare_h5(a_path: Path, b_path: Path, renames: list[tuple[str, str]]) -> tuple[int, list[str]]:
    """Identical datasets and the differences of two HDF5 files."""
    same, diffs = 0, []
    with h5py.File(a_path, "r") as a, h5py.File(b_path, "r") as b:
        names: list[str] = []
        a.visit(lambda n: names.append(n) if isinstance(a[n], h5py.Dataset) else None)
        for name in names:
            if name not in b:
                diffs.append(f"{name}: dataset missing")
                continue
            x, y = a[name][()], b[name][()]
            x, y = np.asarray(x), np.asarray(y)
            if x.dtype.kind in "SUO" or y.dtype.kind in "SUO":
                equal = x.shape == y.shape and bool((_text(x, renames) == _text(y, [])).all())
                problem = None if equal else "text differs"
            else:
                problem = _numbers(x, y)
            if problem is None:
                same += 1
            else:
                diffs.append(f"{name}: {problem}")
    return same, diffs


def compare_csv(a_path: Path, b_path: Path, renames: list[tuple[str, str]]) -> str | None:
    """None when two tables are equal, else what differs."""
    a, b = pd.read_csv(a_path), pd.read_csv(b_path)
    if list(a.columns) != list(b.columns) or a.shape != b.shape:
        return f"columns or shape differ: {list(a.columns)} {a.shape} vs {list(b.columns)} {b.shape}"
    numeric = [c for c in a.columns if c in a.select_dtypes("number") and c in b.select_dtypes("number")]
    text = [c for c in a.columns if c not in numeric]
    for col in text:
        if not (_text(a[col].to_numpy(), renames) == _text(b[col].to_numpy(), [])).all():
            return f"text column {col!r} differs"
    return _numbers(a[numeric].to_numpy(np.float64), b[numeric].to_numpy(np.float64)) if numeric else None


def compare(before: Path, after: Path, renames: list[tuple[str, str]]) -> dict[str, object]:
    """The JSON report of two result folders."""
    identical, differ, missing = 0, [], []
    seen = set()
    for a_path in sorted(before.rglob("*")):
        rel = a_path.relative_to(before)
        if not a_path.is_file() or SKIPPED & set(rel.parts) or a_path.suffix not in (".h5", ".csv"):
            continue
        name = str(rel)
        for old, new in renames:
            name = name.replace(old, new)
        seen.add(name)
        b_path = after / name
        if not b_path.exists():
            missing.append(str(rel))
        elif a_path.suffix == ".h5":
            same, diffs = compare_h5(a_path, b_path, renames)
            identical += same
            differ += [f"{rel}:{d}" for d in diffs]
        elif (problem := compare_csv(a_path, b_path, renames)) is None:
            identical += 1
        else:
            differ.append(f"{rel}: {problem}")
    new = [
        str(p.relative_to(after))
        for p in sorted(after.rglob("*"))
        if p.is_file()
        and p.suffix in (".h5", ".csv")
        and not SKIPPED & set(p.relative_to(after).parts)
        and str(p.relative_to(after)) not in seen
    ]
    return {
        "before": str(before),
        "after": str(after),
        "identical": identical,
        "differ": differ,
        "missing": missing,
        "new": new,
    }


def main() -> None:
    """Command line."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("before", type=Path)
    ap.add_argument("after", type=Path)
    ap.add_argument("--rename", action="append", default=[], metavar="OLD=NEW")
    args = ap.parse_args()
    renames = [tuple(r.split("=", 1)) for r in args.rename]
    print(json.dumps(compare(args.before, args.after, renames), indent=1))  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
