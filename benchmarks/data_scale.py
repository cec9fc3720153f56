"""Time and peak memory of the data jobs against the dataset's size (synthetic NTU, many classes).

For each size N (samples = ``.skeleton`` files), a synthetic NTU-style folder with
``--classes`` classes is generated once with enough files per class for the largest size;
each size is then folders of symbolic links to the first files of each class, in the
generator's order, so that both xview splits stay populated; every size is such a folder). Then each stage runs in a
fresh Python process, one after the other, on the previous stage's output:

- ``ingest``: raw files -> ``sequences.h5`` (``--threads`` reader processes);
- ``preprocess``: ``sequences.h5`` -> ``windows.h5`` (NTU path: segment ``fixed``);
- ``features``: ``windows.h5`` -> ``features.h5``;
- ``train_read``: what training does with ``features.h5`` besides the model: open it with
  :func:`harxai.models.training.read_features` and read every training row once, in shuffled
  batches of the default batch size (one epoch of data loading);
- ``background``: the explanation's read of ``features.h5``
  (:func:`harxai.explain.jobs.select_background`, 100 rows).

Each stage reports its wall seconds, seconds per sample and the peak resident set size of its
process (``ru_maxrss``, which includes the interpreter and imported libraries). The output is
one JSON document on stdout: per size, per stage ``seconds``, ``seconds_per_sample``,
``peak_rss_mb``; plus the per-stage ratio of peak RSS between the largest and the smallest
size. The machine may be shared: the seconds are wall time, the memory is not affected.

    python benchmarks/data_scale.py --sizes 1200 4800 --classes 60 --work /tmp/data_scale
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

STAGES = ("ingest", "preprocess", "features", "train_read", "background")
PREPROCESS = {
    "target_fps": 30.0,
    "median_window": 5,
    "window_seconds": 5.0,
    "window_overlap_seconds": 2.5,
    "fixed_frames": 150,
}


def generate(folder: Path, classes: int, per_class: int, seed: int) -> float:
    """Generate the synthetic NTU folder; returns wall seconds."""
    from harxai.synthetic.generate import generate_synthetic

    start = time.perf_counter()
    params = {"kind": "synthetic_ntu", "num_classes": classes, "samples_per_class": per_class}
    generate_synthetic(folder, params, seed)
    return time.perf_counter() - start


def subset(source: Path, folder: Path, classes: int, per_class: int) -> None:
    """A folder of links to the first ``per_class`` files of each class, with a matching manifest."""
    from harxai.synthetic.ntu import ntu_stem

    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    stems = {ntu_stem(label, i) for label in range(classes) for i in range(per_class)}
    for stem in sorted(stems):
        (folder / f"{stem}.skeleton").symlink_to(source / f"{stem}.skeleton")
    lines = (source / "manifest.csv").read_text(encoding="utf-8").splitlines()
    kept = [lines[0]] + [line for line in lines[1:] if line.split(",", 1)[0] in stems]
    (folder / "manifest.csv").write_text("\n".join(kept) + "\n", encoding="utf-8")


def run_stage(stage: str, raw: Path, work: Path, threads: int) -> dict[str, Any]:
    """Run one stage in this process (called in a child) and return its figures."""
    import numpy as np

    sequences, windows, features = work / "sequences.h5", work / "windows.h5", work / "features.h5"
    start = time.perf_counter()
    extra: dict[str, Any] = {}
    if stage == "ingest":
        from harxai.config import resolve_dataset
        from harxai.io.ingest import ingest_dataset

        spec = resolve_dataset("bench", {"kind": "synthetic_ntu", "path": str(raw)})
        kwargs = {"threads": threads} if threads > 1 else {}
        ingest_dataset(spec, {"name": "ntu25", "user": None}, str(sequences), **kwargs)
    elif stage == "preprocess":
        from harxai.preprocess import preprocess_file

        preprocess_file(sequences, windows, PREPROCESS, "fixed")
    elif stage == "features":
        from harxai.features import compute_feature_file

        compute_feature_file(windows, features, {})
    elif stage == "train_read":
        from harxai.models.training import TrainSettings, read_features

        fs = read_features(features)
        extra["features_in_memory"] = fs._array is not None
        index = np.random.default_rng(0).permutation(fs.indices("train"))
        size = TrainSettings().batch_size
        for s in range(0, index.size, size):
            fs.rows(index[s : s + size])
        fs.close()
    elif stage == "background":
        from harxai.explain.jobs import select_background

        select_background(features, work / "background.h5", 100, 20, 1234)
    else:
        raise ValueError(f"unknown stage {stage!r}")
    seconds = time.perf_counter() - start
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "seconds": seconds,
        "peak_rss_mb": me.ru_maxrss / 1024,
        "children_peak_rss_mb": kids.ru_maxrss / 1024,
        "cpu_seconds": me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime,
        **extra,
    }


def child(stage: str, raw: Path, work: Path, threads: int) -> dict[str, Any]:
    """Run a stage in a fresh interpreter (its largest child process, e.g. a reader: ``children_peak_rss_mb``)."""
    cmd = [sys.executable, __file__, "--stage", stage, "--raw", str(raw), "--work", str(work)]
    cmd += ["--threads", str(threads)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True)
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def ingest_speedup(full: Path, work: Path, classes: int, n: int, repeats: int) -> dict[str, Any]:
    """Ingest the same folder with 1 and 2 reader processes, alternating; minimum wall seconds of each."""
    raw = work / f"raw_{n}"
    subset(full, raw, classes, n // classes)
    out = work / "speedup"
    out.mkdir(exist_ok=True)
    runs: dict[int, list[dict[str, Any]]] = {1: [], 2: []}
    for _ in range(repeats):
        for threads in (1, 2):
            r = child("ingest", raw, out, threads)
            runs[threads].append(r)
            print(f"ingest {n} files, {threads} processes: {r}", file=sys.stderr, flush=True)
    best = {t: min(r["seconds"] for r in rs) for t, rs in runs.items()}
    return {
        "files": n,
        "repeats": repeats,
        "seconds_1": [r["seconds"] for r in runs[1]],
        "seconds_2": [r["seconds"] for r in runs[2]],
        "cpu_seconds_1": [r["cpu_seconds"] for r in runs[1]],
        "cpu_seconds_2": [r["cpu_seconds"] for r in runs[2]],
        "speedup_min_wall": best[1] / best[2],
        "speedup_median_wall": float(
            sorted(r["seconds"] for r in runs[1])[repeats // 2]
            / sorted(r["seconds"] for r in runs[2])[repeats // 2]
        ),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[1200, 4800])
    ap.add_argument("--classes", type=int, default=60)
    ap.add_argument("--stages", nargs="+", default=list(STAGES), choices=STAGES)
    ap.add_argument("--threads", type=int, default=1, help="ingest reader processes")
    ap.add_argument("--work", type=Path, default=Path("/tmp/harxai_data_scale"))
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--keep", action="store_true", help="keep the generated folders and HDF5 files")
    ap.add_argument(
        "--speedup",
        type=int,
        default=0,
        metavar="REPEATS",
        help="instead: time ingest of the largest size with 1 and 2 reader processes, alternating REPEATS times",
    )
    ap.add_argument("--stage", help=argparse.SUPPRESS)
    ap.add_argument("--raw", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.stage:
        import logging

        logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
        print(json.dumps(run_stage(args.stage, args.raw, args.work, args.threads)))
        return
    sizes = sorted(args.sizes)
    bad = [n for n in sizes if n % args.classes]
    if bad:
        ap.error(f"sizes {bad} must be multiples of the number of classes ({args.classes})")
    args.work.mkdir(parents=True, exist_ok=True)
    per_class = -(-sizes[-1] // args.classes // 3) * 3  # the generator writes whole 3-camera performances
    full = args.work / f"generated_{args.classes}x{per_class}"
    gen_seconds = None
    if not (full / "manifest.csv").exists():
        gen_seconds = generate(full, args.classes, per_class, args.seed)
    report: dict[str, Any] = {
        "benchmark": "data_scale",
        "classes": args.classes,
        "threads": args.threads,
        "cpu_count": os.cpu_count(),
        "load_average": os.getloadavg(),
        "cpu": platform.processor() or platform.machine(),
        "generate_seconds": gen_seconds,
        "sizes": {},
    }
    if args.speedup:
        report["speedup"] = ingest_speedup(full, args.work, args.classes, sizes[-1], args.speedup)
        print(json.dumps(report, indent=1))
        return
    for n in sizes:
        raw = args.work / f"raw_{n}"
        subset(full, raw, args.classes, n // args.classes)
        work = args.work / f"run_{n}"
        work.mkdir(exist_ok=True)
        figures: dict[str, Any] = {}
        for stage in args.stages:
            r = child(stage, raw, work, args.threads)
            r["seconds_per_sample"] = r["seconds"] / n
            r["cpu_seconds_per_sample"] = r["cpu_seconds"] / n
            r["load_average_1min"] = os.getloadavg()[0]
            figures[stage] = r
            print(f"{n} {stage}: {r}", file=sys.stderr, flush=True)
        for name in ("sequences.h5", "windows.h5", "features.h5"):
            if (work / name).exists():
                figures.setdefault("file_mb", {})[name] = (work / name).stat().st_size / 2**20
        report["sizes"][str(n)] = figures
        if not args.keep:
            shutil.rmtree(work)
    lo, hi = str(sizes[0]), str(sizes[-1])
    report["rss_ratio"] = {
        s: report["sizes"][hi][s]["peak_rss_mb"] / report["sizes"][lo][s]["peak_rss_mb"] for s in args.stages
    }
    report["load_average_end"] = os.getloadavg()
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
