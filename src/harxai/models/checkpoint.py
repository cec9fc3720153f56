"""Checkpoints (``model.pt``): save, read, check against a declared architecture, load.

A checkpoint is a ``torch.save`` dict loadable with ``torch.load(..., weights_only=True)``:

* ``state_dict``: parameter and buffer tensors (CPU);
* ``architecture``: the JSON-able dict :func:`harxai.models.build_model` takes, or for an
  external model ``{"external": spec, "layout": ..., "num_classes": ..., "num_joints": ...}``
  where ``spec`` holds the factory, the kwargs it was called with (``built_kwargs``), the
  inputs, layout and output (see :mod:`harxai.models.external`);
* ``layout``: ``SkeletonLayout.to_dict()`` of the skeleton;
* ``class_names``: list of str, in output order; ``task``: ``multiclass`` or ``binary``;
* ``harxai_version``: str; ``format``: int.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .. import __version__
from ..io import atomic_path
from .external import ExternalModelError, build_external
from .network import build_model

CHECKPOINT_FORMAT = 1
CHECKPOINT_KEYS = ("state_dict", "architecture", "layout", "class_names", "task")
COMPARED_FIELDS = (
    "groups",
    "in_channels",
    "num_joints",
    "num_classes",
    "attention",
    "frame_attention_kernel",
    "branch_blocks",
    "main_blocks",
)


class CheckpointError(ValueError):
    """A checkpoint cannot be read or does not match the declared model."""


def save_checkpoint(
    path: str | os.PathLike[str],
    model: nn.Module,
    architecture: Mapping[str, Any],
    class_names: Sequence[str],
    task: str,
) -> Path:
    """Write ``model.pt`` atomically with weights-only content.

    Parameters
    ----------
    path
        Target file.
    model
        The model whose ``state_dict`` is saved (copied to CPU).
    architecture
        Its architecture dict.
    class_names
        Class names in output order.
    task
        ``multiclass`` or ``binary``.
    """
    content = {
        "format": CHECKPOINT_FORMAT,
        "state_dict": {k: v.detach().cpu().clone() for k, v in model.state_dict().items()},
        "architecture": dict(architecture),
        "layout": dict(architecture["layout"]),
        "class_names": [str(c) for c in class_names],
        "task": str(task),
        "harxai_version": __version__,
    }
    target = Path(path)
    with atomic_path(target) as tmp:
        torch.save(content, tmp)
    return target


def read_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a checkpoint with ``weights_only=True`` and check its keys.

    Raises
    ------
    CheckpointError
        Naming the file when it is missing, unreadable or lacks a key.
    """
    p = Path(path)
    if not p.is_file():
        raise CheckpointError(f"{p}: checkpoint file does not exist")
    try:
        content = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise CheckpointError(f"{p}: not a weights-only loadable torch checkpoint ({exc})") from exc
    if not isinstance(content, dict):
        raise CheckpointError(f"{p}: expected a dict, found {type(content).__name__}")
    missing = [k for k in CHECKPOINT_KEYS if k not in content]
    if missing:
        raise CheckpointError(f"{p}: not a harxai checkpoint, missing {', '.join(missing)}")
    return content


def state_dict_mismatches(
    model: nn.Module, state_dict: Mapping[str, torch.Tensor]
) -> tuple[list[str], list[str], list[str]]:
    """Compare a state dict with a model's.

    Returns
    -------
    missing, unexpected, shapes
        Keys the model has and the state dict lacks; keys the state dict has and the model
        lacks; ``key: checkpoint (...) vs declared (...)`` for shape mismatches.
    """
    declared = model.state_dict()
    missing = sorted(k for k in declared if k not in state_dict)
    unexpected = sorted(k for k in state_dict if k not in declared)
    shapes = [
        f"{k}: checkpoint {tuple(state_dict[k].shape)} vs declared {tuple(declared[k].shape)}"
        for k in sorted(set(declared) & set(state_dict))
        if tuple(state_dict[k].shape) != tuple(declared[k].shape)
    ]
    return missing, unexpected, shapes


def _listing(title: str, items: Sequence[str]) -> str:
    shown = "\n    ".join(items)
    return f"  {title} ({len(items)}):\n    {shown}"


def state_dict_problems(model: nn.Module, state_dict: Mapping[str, torch.Tensor]) -> list[str]:
    """Listings of missing/unexpected keys, shape mismatches and differing adjacency buffers.

    Equal adjacency shapes with different values mean another skeleton layout with the
    same number of joints. An empty list means the state dict loads into ``model``.
    """
    missing, unexpected, shapes = state_dict_mismatches(model, state_dict)
    declared = model.state_dict()
    adjacency = [
        f"{k}: values differ (another skeleton layout?)"
        for k in sorted(set(declared) & set(state_dict))
        if k.endswith(".adjacency")
        and tuple(state_dict[k].shape) == tuple(declared[k].shape)
        and not torch.allclose(state_dict[k].float(), declared[k].float())
    ]
    return [
        _listing(title, items)
        for title, items in (
            ("missing keys", missing),
            ("unexpected keys", unexpected),
            ("shape mismatches", shapes),
            ("adjacency mismatches", adjacency),
        )
        if items
    ]


def check_state_dict(
    model: nn.Module, state_dict: Mapping[str, torch.Tensor], source: str | os.PathLike[str]
) -> None:
    """Raise one :class:`CheckpointError` listing every missing/unexpected key and shape mismatch."""
    parts = state_dict_problems(model, state_dict)
    if parts:
        raise CheckpointError(
            f"{source}: checkpoint does not match the declared architecture\n" + "\n".join(parts)
        )


def _as_lists(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return [_as_lists(v) for v in value]
    return value


def architecture_differences(checkpoint: Mapping[str, Any], declared: Mapping[str, Any]) -> list[str]:
    """Fields of two architecture dicts that change the model (all but ``preset`` and ``dropout``)."""
    out = []
    for key in COMPARED_FIELDS:
        a, b = checkpoint.get(key), declared.get(key)
        if a != b:
            out.append(f"{key}: checkpoint {a!r} vs declared {b!r}")
    lay_a, lay_b = checkpoint.get("layout", {}), declared.get("layout", {})
    for key in ("joints", "edges"):
        if _as_lists(lay_a.get(key, [])) != _as_lists(lay_b.get(key, [])):
            out.append(
                f"layout {key}: checkpoint layout {lay_a.get('name')!r} vs declared {lay_b.get('name')!r}"
            )
    return out


def check_against_declared(
    content: Mapping[str, Any],
    model: nn.Module,
    declared: Mapping[str, Any],
    class_names: Sequence[str],
    task: str,
    source: str | os.PathLike[str],
) -> None:
    """Check a read checkpoint against the declared model; one error lists every problem.

    Parameters
    ----------
    content
        The dict of :func:`read_checkpoint`.
    model
        A model built from ``declared``.
    declared
        The declared architecture dict.
    class_names, task
        Those of the dataset the checkpoint is used on.
    source
        Checkpoint path (for the message).
    """
    parts = []
    arch = architecture_differences(content["architecture"], declared)
    if arch:
        parts.append(_listing("architecture differences", arch))
    if list(content["class_names"]) != list(class_names):
        parts.append(
            f"  class names: checkpoint {list(content['class_names'])} vs dataset {list(class_names)}"
        )
    if content["task"] != task:
        parts.append(f"  task: checkpoint {content['task']!r} vs dataset {task!r}")
    parts += state_dict_problems(model, content["state_dict"])
    if parts:
        raise CheckpointError(
            f"{source}: checkpoint does not match the declared architecture\n" + "\n".join(parts)
        )


def rebuild_model(architecture: Mapping[str, Any]) -> nn.Module:
    """A freshly initialised model of an architecture dict (harxai preset or external)."""
    if isinstance(architecture, Mapping) and "external" in architecture:
        try:
            return build_external(architecture["external"], {})
        except (KeyError, TypeError) as exc:
            raise ExternalModelError(f"invalid external model description ({exc!r})") from exc
    return build_model(architecture)


def load_model(path: str | os.PathLike[str], device: torch.device | str | None = None) -> nn.Module:
    """Rebuild a model from a checkpoint; returned in eval mode on ``device`` (default CPU).

    Parameters
    ----------
    path
        A ``model.pt`` written by :func:`save_checkpoint`.
    device
        Target device.

    Returns
    -------
    torch.nn.Module
        Called as ``model(joint, velocity, bone, acceleration)``, each input (sample,
        channel, frame, joint, person), returning logits (sample, class). An external model
        comes back as :class:`harxai.models.external.ExternalModel` (its factory is imported
        again, from the spec stored in the file).
    """
    content = read_checkpoint(path)
    try:
        model = rebuild_model(content["architecture"])
    except ValueError as exc:
        raise CheckpointError(f"{path}: {exc}") from exc
    check_state_dict(model, content["state_dict"], path)
    model.load_state_dict(content["state_dict"])
    model.eval()
    return model.to(device if device is not None else "cpu")
