"""The ``ingest_dataset`` stage: raw skeleton files of one dataset -> ``sequences.h5``.

The reader follows the dataset kind: ``ntu`` and ``synthetic_ntu`` read NTU ``.skeleton``
files (suffix matched case-insensitively), ``kinetics_json`` Kinetics-skeleton JSON files,
``keypoints_csv`` and ``synthetic_infant`` key-point CSV tables, ``openpose_json`` one folder
of OpenPose ``*_keypoints.json`` files per recording (formats in :mod:`harxai.io.readers`
and ``docs/input-formats.md``). This
module then assigns labels and the train/validation split and writes the ragged sequences
through :data:`harxai.io.contracts.SEQUENCES` (atomic: a failed ingest leaves no output behind).

Labels
    Every recording gets an integer *label value*: the NTU action number (file name
    ``A<aaa>``), the Kinetics ``label_index``, or the manifest ``label`` (which overrides
    the file for NTU and Kinetics). Key-point CSV labels are 0-based class indices, or
    class names mapped through ``class_names`` (when given) or their sorted order.
    ``classes`` keeps a subset of label values; the stored ``label`` is the index of the
    value in the sorted kept list (for CSV class names, ``classes`` holds indices into
    the name list). Without ``classes`` the kept list is every value found
    (NTU, Kinetics) or ``0 .. max`` (CSV class indices; ``0 .. len(class_names) - 1`` when
    names are given). Default class names: ``A001``... (NTU), the Kinetics ``label``
    strings (else ``label_<k>``), the CSV class names or ``label_<k>``. Two classes make
    the task ``binary``, more ``multiclass``.

Splits
    NTU: ``xview`` (cameras 2, 3 train; camera 1 validation) or ``xsub`` (the NTU RGB+D
    training performers), overridden per recording by a manifest ``split`` cell. Other
    kinds: ``manifest`` (the manifest's ``split`` column) or ``random`` (see
    :func:`random_group_split`); the default is ``manifest`` when the manifest has a
    ``split`` column, else ``random``.

Side files
    Manifest: required for key-point CSV datasets (``<path>/manifest.csv`` by default;
    format in :mod:`harxai.io.readers.keypoints_csv`); optional for NTU and Kinetics
    (``synthetic_ntu`` looks for ``<path>/manifest.csv``), where a row's non-empty ``fps``,
    ``label`` (integer), ``split`` and ``group`` cells override the defaults of that file.
    Ignore list: the recording ids in ``ignore_list`` are skipped; NTU kinds default to
    ``<path>/samples_with_missing_skeletons.txt`` when present and accept only lines that
    match the NTU sample-name pattern (the official lists have a prose header).

Persons
    NTU, Kinetics and OpenPose samples keep ``max_persons`` persons; key-point CSV
    recordings hold one person (``max_persons`` does not apply).

Bad recordings
    A recording whose file fails to parse (any :class:`ReaderError`: malformed, too long for
    ``preprocess.max_seconds``, a value beyond float32, an NTU name with a field ``000``) is
    set aside under ``on_bad_recording: skip`` (the default): a warning names the file and
    the reason, and the recording is listed in the ``rejected`` attribute of
    ``sequences.h5`` (JSON list of ``{recording_id, file, stage, reason}``), which the
    preprocess stage writes to ``results/<dataset>/rejected.csv``. With
    ``on_bad_recording: error`` the first one stops the job with the file named. Errors of
    the dataset as a whole (folder, manifest, labels) always stop the job. A dataset that
    lost recordings this way and is left with no training recording, or with fewer than two
    classes among them, fails with a clear message.

Memory and speed
    The files are parsed by ``threads`` reader processes (:func:`harxai.io.pool.read_batches`,
    the rule's ``compute.threads``), :data:`BATCH_FILES` files per task, results taken in file
    order, so the output does not depend on the number of processes; a reader error comes back
    to this process, which applies ``on_bad_recording``. The reader process concatenates the
    frames of its batch (:func:`pack_frames`), and this process appends them to the output as
    soon as they arrive (:class:`FrameStore`, :class:`harxai.io.blocks.BlockWriter` through the
    ``SEQUENCES`` contract), so only per-recording metadata is held (``docs/scale.md``).
"""

from __future__ import annotations

import itertools
import logging
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from ..config import ConfigError
from ..skeletons import SkeletonLayout, get_layout
from .blocks import BlockWriter
from .contracts import SEQUENCES
from .pool import ReadJob, read_batches
from .readers import (
    NTU_NAME,
    Manifest,
    ManifestRow,
    ReaderError,
    Recording,
    parse_ntu_name,
    read_ignore_list,
    read_keypoints_csv,
    read_kinetics_json,
    read_manifest,
    read_ntu_skeleton,
    read_openpose_folder,
)
from .readers.ntu import NTUDenoise, skeleton_stem

log = logging.getLogger(__name__)

READER_OF_KIND = {
    "ntu": "ntu",
    "synthetic_ntu": "ntu",
    "kinetics_json": "kinetics_json",
    "keypoints_csv": "keypoints_csv",
    "synthetic_infant": "keypoints_csv",
    "openpose_json": "openpose_json",
}
ON_BAD_RECORDING = ("skip", "error")
REJECTED_FIELDS = ("recording_id", "file", "stage", "reason")
SPLIT_SEED = 20240531
"""Seed of :func:`random_group_split` (fixed, so the split does not depend on the run)."""
DEFAULT_IGNORE_LIST = "samples_with_missing_skeletons.txt"


@dataclass(frozen=True)
class IngestParams:
    """Parameters of one ingest, from a resolved dataset spec (:func:`harxai.config.resolve_dataset`).

    Attributes
    ----------
    name, kind, path
        Dataset name, kind and raw folder.
    split
        ``xview``/``xsub`` (NTU kinds), ``manifest``/``random``, or None (kind default).
    val_fraction
        Fraction of groups put in validation by ``split: random``.
    classes
        Label values to keep (None keeps all).
    class_names
        Names of the kept classes in label order (for CSV class-name labels: all names,
        defining the mapping), or None.
    fps
        Default source frame rate (None: unknown).
    manifest, ignore_list
        Side files, or None.
    max_persons
        Persons kept per sample (NTU, Kinetics, OpenPose).
    on_bad_recording
        ``skip`` (set a bad recording aside, with a warning) or ``error``.
    max_seconds
        Longest recording accepted (``preprocess.max_seconds``; None: no limit).
    ntu_denoise
        Thresholds of the NTU body selection.
    """

    name: str
    kind: str
    path: Path
    split: str | None = None
    val_fraction: float = 0.3
    classes: tuple[int, ...] | None = None
    class_names: tuple[str, ...] | None = None
    fps: float | None = None
    manifest: Path | None = None
    ignore_list: Path | None = None
    max_persons: int = 2
    on_bad_recording: str = "skip"
    max_seconds: float | None = None
    ntu_denoise: NTUDenoise = field(default_factory=NTUDenoise)

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> IngestParams:
        """Build from a resolved dataset spec dict (unknown keys are ignored)."""
        kind = str(spec["kind"])
        if kind not in READER_OF_KIND:
            raise ConfigError(f"datasets.{spec.get('name')}.kind: unknown kind {kind!r}")

        def opt_path(key: str) -> Path | None:
            return Path(spec[key]) if spec.get(key) else None

        classes = spec.get("classes")
        names = spec.get("class_names")
        return cls(
            name=str(spec.get("name", "")),
            kind=kind,
            path=Path(spec["path"]),
            split=spec.get("split"),
            val_fraction=float(spec.get("val_fraction", 0.3)),
            classes=tuple(int(c) for c in classes) if classes else None,
            class_names=tuple(str(n) for n in names) if names else None,
            fps=float(spec["fps"]) if spec.get("fps") else None,
            manifest=opt_path("manifest"),
            ignore_list=opt_path("ignore_list"),
            max_persons=int(spec.get("max_persons", 2)),
            on_bad_recording=_on_bad(spec),
            max_seconds=float(spec["max_seconds"]) if spec.get("max_seconds") else None,
            ntu_denoise=NTUDenoise.from_dict(spec.get("ntu_denoise")),
        )

    @property
    def reader(self) -> str:
        """``ntu``, ``kinetics_json``, ``keypoints_csv`` or ``openpose_json``."""
        return READER_OF_KIND[self.kind]


def _on_bad(spec: Mapping[str, Any]) -> str:
    value = str(spec.get("on_bad_recording") or "skip")
    if value not in ON_BAD_RECORDING:
        raise ConfigError(f"datasets.{spec.get('name')}.on_bad_recording: {value!r} is not skip or error")
    return value


@dataclass(frozen=True, eq=False)
class Sample:
    """A recording with the metadata gathered from its file name and the manifest.

    Attributes
    ----------
    recording
        What the reader returned.
    label
        Raw label (NTU action number, Kinetics label index, or manifest label text).
    split
        ``train``/``val`` when known before the split policy is applied, else None.
    group
        Subject/performer id (``""`` if unknown).
    origin
        Where the label came from (file, line) for error messages.
    """

    recording: Recording
    label: int | str
    split: str | None
    group: str
    origin: tuple[Path, int | None]


@dataclass(frozen=True)
class Collected:
    """What a kind-specific collector returns (``rejected``: recordings set aside)."""

    samples: list[Sample]
    inputs: list[Path]
    manifest: Manifest | None
    rejected: list[dict[str, str]] = field(default_factory=list)


def rejection(recording_id: str, path: Path | str, stage: str, reason: str) -> dict[str, str]:
    """One row of ``rejected.csv``."""
    return {"recording_id": recording_id, "file": str(path), "stage": stage, "reason": reason}


FRAME_DATASETS = ("coords", "confidence", "timestamps")
"""Per-frame datasets of ``sequences.h5``, appended block by block."""
BATCH_FILES = 16
"""Files one reader task parses and packs into one :class:`FrameBlock`."""


@dataclass(frozen=True)
class FrameBlock:
    """What one reader task returns (:func:`pack_frames`, run in the reader process).

    Attributes
    ----------
    results
        Per file, in input order: the :class:`ReaderError` it raised, or its recording
        without frames (zero-length arrays) and its frame count.
    frames
        ``coords``, ``confidence``, ``timestamps`` of the recordings read, concatenated in
        input order and cast to the dtypes of :data:`~harxai.io.contracts.SEQUENCES`
        (empty when no file of the batch could be read).
    """

    results: list[ReaderError | tuple[Recording, int]]
    frames: dict[str, np.ndarray]


def pack_frames(results: list[Recording | ReaderError]) -> FrameBlock:
    """Concatenate the frames of a batch's recordings and strip them from the recordings."""
    read = [r for r in results if not isinstance(r, ReaderError)]
    frames: dict[str, np.ndarray] = {}
    if read:
        with np.errstate(over="ignore", invalid="ignore"):  # the writer's check names an overflow
            for name in FRAME_DATASETS:
                dtype = np.dtype(SEQUENCES.spec(name).dtype)
                frames[name] = np.concatenate([np.asarray(getattr(r, name), dtype=dtype) for r in read])
    stripped: list[ReaderError | tuple[Recording, int]] = [
        r if isinstance(r, ReaderError) else (_without_frames(r), r.num_frames) for r in results
    ]
    return FrameBlock(stripped, frames)


def _without_frames(rec: Recording) -> Recording:
    confidence = np.asarray(rec.confidence, dtype=np.float32)
    return replace(rec, coords=rec.coords[:0], timestamps=rec.timestamps[:0], confidence=confidence[:0])


class FrameStore:
    """Appends the recordings' frames to the open output and keeps only their metadata.

    :meth:`put_block` appends a :class:`FrameBlock`'s ``coords``, ``confidence`` and
    ``timestamps`` (checked by the :data:`~harxai.io.contracts.SEQUENCES` contract) and returns
    its recordings with the three as read-only zero-size views of their full shape
    (``num_frames`` still holds), so the list of samples stays small whatever the dataset's size.
    """

    def __init__(self, writer: BlockWriter) -> None:
        self.writer = writer
        self.spans: list[tuple[int, int]] = []
        self._index: dict[int, int] = {}

    def put(self, rec: Recording) -> Recording:
        """Append one recording (:meth:`put_block` of a block of one)."""
        light = self.put_block(pack_frames([rec]))[0]
        assert isinstance(light, Recording)
        return light

    def put_block(self, block: FrameBlock) -> list[Recording | ReaderError]:
        """Append the block's frames; returns its results with light recordings."""
        start = self.writer.length("coords")
        for name, values in block.frames.items():
            self.writer.append(name, values)
        out: list[Recording | ReaderError] = []
        for result in block.results:
            if isinstance(result, ReaderError):
                out.append(result)
                continue
            rec, frames = result
            light = replace(
                rec,
                coords=_empty_view(rec.coords, frames),
                timestamps=_empty_view(rec.timestamps, frames),
                confidence=_empty_view(np.asarray(rec.confidence, dtype=np.float32), frames),
            )
            self.spans.append((start, start + frames))
            self._index[id(light)] = len(self.spans) - 1
            start += frames
            out.append(light)
        return out

    def keep(self, recordings: Sequence[Recording]) -> np.ndarray:
        """Keep the frames of ``recordings`` (in put order) only; returns their offsets in the output."""
        rows = [self._index[id(r)] for r in recordings]
        if any(b <= a for a, b in itertools.pairwise(rows)):
            raise ValueError("FrameStore.keep: recordings must be a subsequence of those put")
        spans = [self.spans[k] for k in rows]
        if rows != list(range(len(self.spans))):
            self.writer.keep_rows(FRAME_DATASETS, spans)
        lengths = np.array([b - a for a, b in spans], dtype=np.int64)
        return np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)


def _empty_view(values: np.ndarray, frames: int) -> np.ndarray:
    """A read-only view of ``values``' dtype and trailing shape, ``frames`` long, that holds no memory."""
    return np.broadcast_to(np.zeros((), values.dtype), (frames, *values.shape[1:]))


class _Rejects:
    """Reads the files (``threads`` reader processes, :data:`BATCH_FILES` per task), applies
    ``on_bad_recording`` to reader errors and gathers what is set aside; the frames of the
    recordings read go to the :class:`FrameStore`."""

    def __init__(self, params: IngestParams, store: FrameStore, threads: int) -> None:
        self.params = params
        self.store = store
        self.threads = threads
        self.rows: list[dict[str, str]] = []

    def read_all(
        self, jobs: Sequence[ReadJob[Recording]], ids: Sequence[str]
    ) -> Iterator[tuple[int, Recording]]:
        """Yield ``(position, light recording)`` in input order for the jobs that read."""
        i = 0
        for block in read_batches(jobs, self.threads, batch=BATCH_FILES, pack=pack_frames):
            for result in self.store.put_block(block):
                if isinstance(result, ReaderError):
                    if self.params.on_bad_recording == "error":
                        raise result
                    log.warning("set aside %s (on_bad_recording: skip): %s", result.path, result.problem)
                    self.rows.append(rejection(ids[i], result.path, "ingest", str(result)))
                else:
                    yield i, result
                i += 1


def ingest_dataset(spec: Mapping[str, Any], layout: Mapping[str, Any], output: str, threads: int = 1) -> None:
    """Read every raw file of a dataset and write ``sequences.h5``.

    Memory stays bounded: each recording's frames are appended to the output (a temporary
    file until the end) as soon as it is read, and only per-recording metadata is kept.

    Parameters
    ----------
    spec
        Resolved dataset entry (:func:`harxai.config.resolve_dataset`).
    layout
        ``{"name": str, "user": dict | None}``: the layout, rebuilt with
        :func:`harxai.skeletons.get_layout`.
    output
        Path of ``sequences.h5`` (contract: ``notes/contracts.md``, datasets ``coords``
        (frame, channel, joint, person), ``timestamps``, ``offsets``, ``lengths``, ``label``,
        ``recording_id``, ``group``, ``split``, ``fps``, ``interpolated``).
    threads
        Reader processes (:func:`harxai.io.pool.read_batches`); the output does not depend on it.

    Raises
    ------
    ReaderError
        Malformed raw file, manifest or folder (nothing is written).
    """
    params = IngestParams.from_spec(spec)
    skeleton = get_layout(layout["name"], {layout["name"]: layout["user"]} if layout.get("user") else None)
    log.info(
        "ingesting dataset %r (kind %s, layout %s) from %s",
        params.name,
        params.kind,
        skeleton.name,
        params.path,
    )
    with BlockWriter(output, SEQUENCES) as writer:
        store = FrameStore(writer)
        collected = collect_samples(params, skeleton, store, threads)
        _finish_ingest(collected, params, skeleton, store, {"dataset": dict(spec), "layout": dict(layout)})


def _finish_ingest(
    collected: Collected,
    params: IngestParams,
    skeleton: SkeletonLayout,
    store: FrameStore,
    config: Mapping[str, Any],
) -> None:
    if collected.rejected:
        log.warning(
            "dataset %r: %d recordings set aside (listed in results/%s/rejected.csv)",
            params.name,
            len(collected.rejected),
            params.name,
        )
    if not collected.samples:
        raise ReaderError(
            params.path,
            "no recordings left to ingest (all skipped by the ignore list or classes, "
            f"{len(collected.rejected)} set aside as bad recordings)",
        )
    samples, labels, class_names = assign_labels(collected.samples, params)
    splits = assign_splits(samples, labels, params, collected.manifest)
    check_trainable(params.name, params.path, labels, splits, len(collected.rejected))
    counts = Counter(splits)
    log.info(
        "%d recordings (%d train, %d val), %d classes, %d values interpolated",
        len(samples),
        counts["train"],
        counts["val"],
        len(class_names),
        sum(s.recording.interpolated for s in samples),
    )
    for side in ("train", "val"):
        if counts[side] == 0:
            log.warning("dataset %r has no %s recordings", params.name, side)
    write_sequences(
        store,
        samples,
        labels,
        splits,
        class_names=class_names,
        params=params,
        layout=skeleton,
        config=config,
        inputs=collected.inputs,
        rejected=collected.rejected,
    )


def check_trainable(
    name: str, where: Path | str, labels: np.ndarray, splits: np.ndarray, num_rejected: int
) -> None:
    """Fail when recordings were set aside and those left cannot train a model.

    Left means: no training recording, or fewer than two classes among them. (A dataset
    without rejections keeps the warnings of an empty split as before.)
    """
    train = np.asarray(labels)[np.asarray(splits) == "train"]
    classes = np.unique(train).size
    if num_rejected and (train.size == 0 or classes < 2):
        aside = f"; {num_rejected} recordings were set aside (see rejected.csv)" if num_rejected else ""
        raise ReaderError(
            where,
            f"dataset {name!r}: too few recordings to train: {train.size} training recordings "
            f"of {classes} classes (need at least 2 classes){aside}",
        )


def collect_samples(
    params: IngestParams, layout: SkeletonLayout, store: FrameStore, threads: int = 1
) -> Collected:
    """Read every raw file of the dataset with the reader of its kind (frames go to ``store``)."""
    rejects = _Rejects(params, store, threads)
    if params.reader == "ntu":
        return _collect_ntu(params, layout, rejects)
    if params.reader == "kinetics_json":
        return _collect_kinetics(params, layout, rejects)
    if params.reader == "openpose_json":
        return _collect_openpose(params, layout, rejects)
    return _collect_csv(params, layout, rejects)


def _list_files(params: IngestParams, suffix: str, exclude: Path | None = None) -> list[Path]:
    """Files of the dataset folder whose name ends in ``suffix`` (case-insensitive)."""
    if not params.path.is_dir():
        raise ReaderError(params.path, "dataset folder not found")
    skip = exclude.resolve() if exclude else None
    files = sorted(
        p
        for p in params.path.iterdir()
        if p.name.lower().endswith(suffix) and p.is_file() and p.resolve() != skip
    )
    if not files:
        raise ReaderError(params.path, f"empty dataset folder: no {suffix} files")
    log.info("%s: %d %s files", params.path, len(files), suffix)
    return files


def _apply_ignore_list(params: IngestParams, files: list[Path], inputs: list[Path]) -> list[Path]:
    """Drop the files listed in the ignore list (NTU kinds default to the missing-skeleton list)."""
    path = params.ignore_list
    is_ntu = params.reader == "ntu"
    if path is None and is_ntu and (params.path / DEFAULT_IGNORE_LIST).is_file():
        path = params.path / DEFAULT_IGNORE_LIST
    if path is None:
        return files
    ignored = read_ignore_list(path, NTU_NAME if is_ntu else None)
    inputs.append(path)
    kept = [f for f in files if _stem(f) not in ignored]
    log.info("skipped %d of %d files listed in the ignore list %s", len(files) - len(kept), len(files), path)
    return kept


def _stem(path: Path) -> str:
    """Recording id: a folder's name (OpenPose), else the file name without ``.skeleton`` (any case) or its last suffix."""
    return path.name if path.is_dir() else skeleton_stem(path)


def _optional_manifest(params: IngestParams, inputs: list[Path]) -> Manifest | None:
    """The manifest of an NTU or Kinetics dataset, if any (a missing default is fine)."""
    if params.manifest is None:
        return None
    if params.kind == "synthetic_ntu" and not params.manifest.exists():
        log.info("no manifest at %s; using file names and fps %s", params.manifest, params.fps)
        return None
    manifest = read_manifest(params.manifest)
    inputs.append(params.manifest)
    return manifest


def _warn_unmatched(manifest: Manifest | None, files: list[Path]) -> None:
    if manifest is None:
        return
    stems = {_stem(f) for f in files}
    unmatched = [r for r in manifest.rows if r not in stems]
    if unmatched:
        log.warning("%s: %d rows match no file read (e.g. %s)", manifest.path, len(unmatched), unmatched[0])


def _int_label(row: ManifestRow, path: Path) -> int:
    assert row.label is not None
    try:
        return int(row.label)
    except ValueError:
        raise ReaderError(
            path, f"non-numeric label {row.label!r} (expected an integer)", line=row.line
        ) from None


def _progress(rec: Recording) -> None:
    """Per-recording log line (the reader pool logs the progress lines)."""
    if rec.interpolated:
        log.info("%s: interpolated %d values", rec.path.name, rec.interpolated)
    else:
        log.debug("%s: %d frames", rec.path.name, rec.num_frames)


def _collect_ntu(params: IngestParams, layout: SkeletonLayout, rejects: _Rejects) -> Collected:
    inputs: list[Path] = []
    files = _apply_ignore_list(params, _list_files(params, ".skeleton"), inputs)
    manifest = _optional_manifest(params, inputs)
    _warn_unmatched(manifest, files)
    protocol = params.split if params.split in ("xview", "xsub") else "xview"
    samples = []
    dropped = 0
    jobs: list[ReadJob[Recording]] = []
    ids: list[str] = []
    meta: list[tuple[Path, int, str, str, tuple[Path, int | None]]] = []
    for path in files:
        stem = _stem(path)
        name = parse_ntu_name(path.name)
        if name is None:  # set aside in file order, like a file that fails to parse
            jobs.append(ReadJob(_bad_ntu_name, (path,), {}))
            ids.append(stem)
            meta.append((path, 0, "", "", (path, None)))
            continue
        row = manifest.rows.get(stem) if manifest else None
        label = name.action
        origin: tuple[Path, int | None] = (path, None)
        if row is not None and row.label is not None and manifest is not None:
            label, origin = _int_label(row, manifest.path), (manifest.path, row.line)
        if params.classes and label not in params.classes:
            dropped += 1
            continue
        fps = row.fps if row is not None and row.fps else params.fps or 30.0
        kwargs = {
            "max_persons": params.max_persons,
            "fps": fps,
            "num_joints": layout.num_joints,
            "max_seconds": params.max_seconds,
            "denoise": params.ntu_denoise,
        }
        jobs.append(ReadJob(read_ntu_skeleton, (path,), kwargs))
        ids.append(stem)
        split = row.split if row is not None and row.split else name.split(protocol)
        group = row.group if row is not None and row.group else name.group
        meta.append((path, label, split, group, origin))
    for i, rec in rejects.read_all(jobs, ids):
        path, label, split, group, origin = meta[i]
        samples.append(Sample(rec, label, split, group, origin))
        inputs.append(path)
        _progress(rec)
    if dropped:
        log.info("dropped %d files whose action is not in classes %s", dropped, list(params.classes or ()))
    return Collected(samples, inputs, manifest, rejects.rows)


def _bad_ntu_name(path: Path) -> Recording:
    raise ReaderError(
        path, "file name does not follow the NTU pattern SsssCcccPpppRrrrAaaa (fields 001 and up)"
    )


def _collect_kinetics(params: IngestParams, layout: SkeletonLayout, rejects: _Rejects) -> Collected:
    inputs: list[Path] = []
    files = _apply_ignore_list(params, _list_files(params, ".json"), inputs)
    manifest = _optional_manifest(params, inputs)
    _warn_unmatched(manifest, files)
    samples = []
    jobs: list[ReadJob[Recording]] = []
    for path in files:
        row = manifest.rows.get(path.stem) if manifest else None
        fps = row.fps if row is not None and row.fps else params.fps or 30.0
        kwargs = {
            "max_persons": params.max_persons,
            "fps": fps,
            "num_joints": layout.num_joints,
            "max_seconds": params.max_seconds,
        }
        jobs.append(ReadJob(read_kinetics_json, (path,), kwargs))
    for i, rec in rejects.read_all(jobs, [f.stem for f in files]):
        path = files[i]
        row = manifest.rows.get(path.stem) if manifest else None
        label: int | None = rec.label
        origin: tuple[Path, int | None] = (path, None)
        if row is not None and row.label is not None and manifest is not None:
            label, origin = _int_label(row, manifest.path), (manifest.path, row.line)
        if label is None:
            raise ReaderError(path, "no integer 'label_index' in the file and no manifest label")
        split = row.split if row is not None else None
        group = row.group if row is not None and row.group else ""
        samples.append(Sample(rec, label, split, group, origin))
        inputs.append(path)
        _progress(rec)
    return Collected(samples, inputs, manifest, rejects.rows)


def _check_manifest_matches(manifest: Manifest, files: list[Path], folder: Path) -> None:
    """Every CSV is in the manifest, every manifest row has a CSV and a label."""
    stems = {f.stem for f in files}
    for row in manifest.rows.values():
        if row.recording_id not in stems:
            raise ReaderError(
                manifest.path,
                f"recording {row.recording_id!r} listed in the manifest has no CSV file "
                f"{row.recording_id}.csv in {folder}",
                line=row.line,
            )
        if row.label is None:
            raise ReaderError(
                manifest.path, f"label missing for recording {row.recording_id!r}", line=row.line
            )
    for f in files:
        if f.stem not in manifest.rows:
            raise ReaderError(f, f"recording {f.stem!r} is not listed in the manifest {manifest.path}")


def _collect_csv(params: IngestParams, layout: SkeletonLayout, rejects: _Rejects) -> Collected:
    manifest_path = params.manifest or params.path / "manifest.csv"
    inputs: list[Path] = []
    all_files = _list_files(params, ".csv", exclude=manifest_path)
    manifest = read_manifest(manifest_path, required=("recording_id", "label"))
    inputs.append(manifest_path)
    files = _apply_ignore_list(params, all_files, inputs)
    ignored = {f.stem for f in all_files} - {f.stem for f in files}
    rows = {k: v for k, v in manifest.rows.items() if k not in ignored}
    _check_manifest_matches(Manifest(manifest.path, manifest.columns, rows), files, params.path)
    samples = []
    jobs = [
        ReadJob(
            read_keypoints_csv,
            (path, layout.joints),
            {"fps": rows[path.stem].fps or params.fps, "max_seconds": params.max_seconds},
        )
        for path in files
    ]
    for i, rec in rejects.read_all(jobs, [f.stem for f in files]):
        path = files[i]
        row = rows[path.stem]
        assert row.label is not None
        samples.append(Sample(rec, row.label, row.split, row.group or "", (manifest.path, row.line)))
        inputs.append(path)
        _progress(rec)
    return Collected(samples, inputs, manifest, rejects.rows)


def _recording_folders(params: IngestParams) -> list[Path]:
    if not params.path.is_dir():
        raise ReaderError(params.path, "dataset folder not found")
    folders = sorted(p for p in params.path.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not folders:
        raise ReaderError(params.path, "empty dataset folder: no recording folders of *_keypoints.json files")
    log.info("%s: %d recording folders", params.path, len(folders))
    return folders


def _collect_openpose(params: IngestParams, layout: SkeletonLayout, rejects: _Rejects) -> Collected:
    """One recording per sub-folder; labels (and optionally fps, split, group) from the manifest."""
    manifest_path = params.manifest or params.path / "manifest.csv"
    inputs: list[Path] = []
    all_folders = _recording_folders(params)
    manifest = read_manifest(manifest_path, required=("recording_id", "label"))
    inputs.append(manifest_path)
    folders = _apply_ignore_list(params, all_folders, inputs)
    ignored = {f.name for f in all_folders} - {f.name for f in folders}
    rows = {k: v for k, v in manifest.rows.items() if k not in ignored}
    stems = {f.name for f in folders}
    for row in rows.values():
        if row.recording_id not in stems:
            raise ReaderError(
                manifest.path,
                f"recording {row.recording_id!r} listed in the manifest has no folder in {params.path}",
                line=row.line,
            )
        if row.label is None:
            raise ReaderError(
                manifest.path, f"label missing for recording {row.recording_id!r}", line=row.line
            )
    samples = []
    jobs: list[ReadJob[Recording]] = []
    for folder in folders:
        found = rows.get(folder.name)
        if found is None:
            raise ReaderError(
                folder, f"recording folder {folder.name!r} is not listed in the manifest {manifest.path}"
            )
        row = found
        fps = row.fps or params.fps
        if fps is None:
            raise ReaderError(
                manifest.path,
                f"no fps for recording {folder.name!r}: give an fps column or datasets.{params.name}.fps",
                line=row.line,
            )
        kwargs = {
            "fps": fps,
            "max_persons": params.max_persons,
            "num_joints": layout.num_joints,
            "max_seconds": params.max_seconds,
        }
        jobs.append(ReadJob(read_openpose_folder, (folder,), kwargs))
    for i, rec in rejects.read_all(jobs, [f.name for f in folders]):
        folder = folders[i]
        row = rows[folder.name]
        assert row.label is not None
        samples.append(Sample(rec, row.label, row.split, row.group or "", (manifest.path, row.line)))
        inputs.append(folder)
        _progress(rec)
    return Collected(samples, inputs, manifest, rejects.rows)


def _label_values(
    samples: Sequence[Sample], params: IngestParams
) -> tuple[list[int], list[int], dict[int, str], bool]:
    """Integer label value per sample, the values kept without ``classes``, default names.

    The last item says whether the labels were class names mapped to indices.
    """
    if params.reader not in ("keypoints_csv", "openpose_json"):
        values = [int(s.label) for s in samples]
        every = set(values) | set(params.classes or ())
        if params.reader == "ntu":
            names = {v: f"A{v:03d}" for v in every}
        else:
            found = {
                int(s.label): s.recording.label_name
                for s in samples
                if s.recording.label_name and s.label == s.recording.label  # not a manifest override
            }
            names = {v: found.get(v) or f"label_{v}" for v in every}
        return values, sorted(set(values)), names, False
    texts = [str(s.label).strip() for s in samples]
    if all(t.lstrip("-").isdigit() for t in texts):
        values = [int(t) for t in texts]
        size = len(params.class_names) if params.class_names and not params.classes else max(values) + 1
        for s, v in zip(samples, values, strict=True):
            if not 0 <= v < size:
                raise ReaderError(
                    s.origin[0], f"label {v} is not a class index 0..{size - 1}", line=s.origin[1]
                )
        return values, list(range(size)), {v: f"label_{v}" for v in range(size)}, False
    mapping = list(params.class_names) if params.class_names else sorted(set(texts))
    for s, t in zip(samples, texts, strict=True):
        if t not in mapping:
            raise ReaderError(
                s.origin[0], f"label {t!r} is not one of class_names {mapping}", line=s.origin[1]
            )
    return [mapping.index(t) for t in texts], list(range(len(mapping))), dict(enumerate(mapping)), True


def assign_labels(samples: list[Sample], params: IngestParams) -> tuple[list[Sample], np.ndarray, list[str]]:
    """Keep the samples of the kept classes and give them 0-based labels (module docstring).

    Returns
    -------
    samples
        The kept samples.
    labels
        int64 (sample,) 0-based class indices.
    class_names
        Names of the kept classes in label order.
    """
    values, universe, default_names, mapped = _label_values(samples, params)
    kept = sorted(set(params.classes)) if params.classes else universe
    if params.class_names and not mapped:
        if len(params.class_names) != len(kept):
            raise ConfigError(
                f"datasets.{params.name}.class_names: {len(params.class_names)} names for "
                f"{len(kept)} kept classes {kept}"
            )
        names = list(params.class_names)
    else:
        names = [default_names.get(v, f"label_{v}") for v in kept]
    index = {v: i for i, v in enumerate(kept)}
    keep = [i for i, v in enumerate(values) if v in index]
    if len(keep) < len(samples):
        log.info("dropped %d recordings whose label is not in classes %s", len(samples) - len(keep), kept)
    if not keep:
        raise ReaderError(params.path, f"no recordings left: none has a label in classes {kept}")
    labels = np.array([index[values[i]] for i in keep], dtype=np.int64)
    return [samples[i] for i in keep], labels, names


def random_group_split(
    groups: Sequence[str], labels: Sequence[int] | np.ndarray, val_fraction: float, seed: int = SPLIT_SEED
) -> np.ndarray:
    """Draw whole groups into validation, per label stratum, with a fixed seed.

    Each group is assigned its most frequent label (ties: the smallest). Per label, in
    increasing order, ``round(val_fraction * n)`` of its ``n`` groups (sorted by name) are
    drawn with one ``numpy.random.default_rng(seed)``, at least one and at most ``n - 1``
    when ``n >= 2``; a label with a single group keeps it in training.

    Parameters
    ----------
    groups
        Group (subject) per sample.
    labels
        Label per sample.
    val_fraction
        Fraction of each stratum's groups put in validation.
    seed
        Random seed.

    Returns
    -------
    numpy.ndarray
        str (sample,) ``"train"`` or ``"val"``.
    """
    per_group: dict[str, Counter[int]] = {}
    for g, lab in zip(groups, labels, strict=True):
        per_group.setdefault(g, Counter())[int(lab)] += 1
    strata: dict[int, list[str]] = {}
    for g in sorted(per_group):
        top = min(per_group[g].items(), key=lambda kv: (-kv[1], kv[0]))[0]
        strata.setdefault(top, []).append(g)
    rng = np.random.default_rng(seed)
    val: set[str] = set()
    for lab in sorted(strata):
        members = strata[lab]
        n_val = 0
        if len(members) >= 2:
            n_val = min(max(round(val_fraction * len(members)), 1), len(members) - 1)
        val.update(members[i] for i in rng.permutation(len(members))[:n_val])
    return np.array(["val" if g in val else "train" for g in groups], dtype=str)


def assign_splits(
    samples: Sequence[Sample], labels: np.ndarray, params: IngestParams, manifest: Manifest | None
) -> np.ndarray:
    """str (sample,) ``train``/``val`` per sample (policy in the module docstring)."""
    if params.reader == "ntu":
        return np.array([s.split for s in samples], dtype=str)
    has_column = manifest is not None and manifest.has("split")
    policy = params.split or ("manifest" if has_column else "random")
    if policy == "manifest":
        for s in samples:
            if s.split is None:
                where = manifest.path if manifest is not None else params.path
                raise ReaderError(
                    where,
                    f"split 'manifest' needs a train/val split for recording {s.recording.recording_id!r}",
                    line=s.origin[1] if manifest is not None and s.origin[0] == manifest.path else None,
                )
        return np.array([s.split for s in samples], dtype=str)
    if policy != "random":
        raise ConfigError(
            f"datasets.{params.name}.split: {policy!r} is not manifest or random for {params.kind}"
        )
    groups = [s.group or s.recording.recording_id for s in samples]
    return random_group_split(groups, labels, params.val_fraction)


def write_sequences(
    store: FrameStore,
    samples: Sequence[Sample],
    labels: np.ndarray,
    splits: np.ndarray,
    *,
    class_names: Sequence[str],
    params: IngestParams,
    layout: SkeletonLayout,
    config: Mapping[str, Any],
    inputs: Sequence[Path],
    rejected: Sequence[Mapping[str, str]] = (),
) -> Path:
    """Complete ``sequences.h5``: ragged sequences concatenated along frame.

    The frames are already in the output (``store``); recordings left out after reading
    (classes) are removed from them here. Datasets: ``coords`` float32 (frame, channel,
    joint, person); ``confidence`` float32 (frame, joint, person) in [0, 1], 0 where a key
    point was not detected or its person is absent; ``source_file`` str (sample,) the raw file
    read; ``timestamps`` float64 (frame,) seconds from each sequence's start; ``offsets``,
    ``lengths`` int64 (sample,); ``label`` int64 (sample,); ``recording_id``, ``group``,
    ``split`` str (sample,); ``fps`` float32 (sample,); ``interpolated`` int64 (sample,). Root
    attributes: ``dataset``, ``kind``, ``layout`` (JSON of the layout), ``class_names`` (JSON
    list), ``task`` (``binary`` for two classes, else ``multiclass``), ``num_channels``,
    ``rejected`` (JSON list of the recordings set aside, see the module docstring).
    """
    recs = [s.recording for s in samples]
    lengths = np.array([r.num_frames for r in recs], dtype=np.int64)
    offsets = store.keep(recs)
    arrays = {
        "source_file": np.array([str(r.path) for r in recs], dtype=str),
        "offsets": offsets,
        "lengths": lengths,
        "label": np.asarray(labels, dtype=np.int64),
        "recording_id": np.array([r.recording_id for r in recs], dtype=str),
        "group": np.array([s.group for s in samples], dtype=str),
        "split": np.asarray(splits, dtype=str),
        "fps": np.array([r.fps for r in recs], dtype=np.float32),
        "interpolated": np.array([r.interpolated for r in recs], dtype=np.int64),
    }
    for name, values in arrays.items():
        store.writer.write(name, values)
    attrs = {
        "dataset": params.name,
        "kind": params.kind,
        "layout": layout.to_dict(),
        "class_names": list(class_names),
        "task": "binary" if len(class_names) == 2 else "multiclass",
        "num_channels": int(recs[0].coords.shape[1]),
        "rejected": [dict(r) for r in rejected],
    }
    return store.writer.finish(config=config, inputs=inputs, seed=None, attrs=attrs)
