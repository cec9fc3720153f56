"""External models: a user's own PyTorch network, built from a factory, wrapped for harxai.

The config names a factory (``"pkg.module:build"`` or ``"path/to/file.py:build"``), its keyword
arguments, the feature groups the network takes and how it takes them; see
``docs/external-models.md``. :class:`ExternalModel` wraps the network (as its submodule ``net``)
so that every harxai job calls it like a harxai model, ``model(joint, velocity, bone,
acceleration)`` with each group (sample, channel, frame, joint, person): SHAP and GradCAM then
see the same tensors whatever the network's own input convention is.

Layer names in the config (GradCAM, perturbation and reference layers, edge-importance
parameters) are paths of the user's network (``net.named_modules()``), not of the wrapper;
:func:`find_module` and :func:`module_paths` translate.

Checkpoints as the field saves them are read by :func:`read_external_state_dict`: a raw state
dict or one nested under ``state_dict``/``model``/``net``/``model_state_dict`` (or a configured
key), with prefixes such as ``module.`` stripped; always ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..config import FEATURE_GROUPS

EXTERNAL_FORMAT = 1
LAYOUTS = ("NCTVM", "NMTVC")
AUTO_VALUES = ("in_channels", "num_classes", "num_joints", "num_persons", "num_frames")
NESTED_KEYS = ("state_dict", "model", "net", "model_state_dict")
DEFAULT_STRIP_PREFIXES = ("module.",)
EDGE_IMPORTANCE_NAME = re.compile(r"(^|\.)edge_importance(\.\d+)?$")
# Keys of the ``model:`` config section that describe an external model (stored in model.pt).
SPEC_KEYS = ("factory", "kwargs", "auto_kwargs", "inputs", "layout", "output", "edge_importance")
_FACTORY = re.compile(r"^(?P<target>[^:]+):(?P<attr>[A-Za-z_][A-Za-z0-9_.]*)$")


class ExternalModelError(ValueError):
    """An external model cannot be built, called or loaded as configured."""


def is_external(params: Mapping[str, Any] | None) -> bool:
    """Whether resolved model settings (or an architecture dict) describe an external model."""
    return bool(params) and bool(params.get("factory"))  # type: ignore[union-attr]


def external_spec(params: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON-able description of an external model kept in ``model.pt`` (defaults filled)."""
    spec = {
        "format": EXTERNAL_FORMAT,
        "factory": str(params["factory"]),
        "kwargs": dict(params.get("kwargs") or {}),
        "auto_kwargs": dict(params.get("auto_kwargs") or {}),
        "inputs": list(params.get("inputs") or ["joint"]),
        "layout": str(params.get("layout") or "NCTVM"),
        "output": params.get("output"),
        "edge_importance": list(params["edge_importance"]) if params.get("edge_importance") else None,
    }
    check_spec(spec)
    return spec


def check_spec(spec: Mapping[str, Any]) -> None:
    """Raise :class:`ExternalModelError` listing every invalid field of an external spec."""
    problems = []
    if not isinstance(spec.get("factory"), str) or not _FACTORY.match(spec["factory"]):
        problems.append(
            f"factory {spec.get('factory')!r}: expected 'package.module:callable' or 'path/to/file.py:callable'"
        )
    inputs = list(spec.get("inputs") or [])
    unknown = [g for g in inputs if g not in FEATURE_GROUPS]
    if not inputs or unknown or len(set(inputs)) != len(inputs):
        problems.append(f"inputs {inputs}: expected distinct feature groups of {list(FEATURE_GROUPS)}")
    if spec.get("layout") not in LAYOUTS:
        problems.append(f"layout {spec.get('layout')!r}: expected one of {', '.join(LAYOUTS)}")
    output = spec.get("output")
    if output is not None and (isinstance(output, bool) or not isinstance(output, int) or output < 0):
        problems.append(f"output {output!r}: expected a tuple index >= 0 or null")
    bad_auto = {k: v for k, v in dict(spec.get("auto_kwargs") or {}).items() if v not in AUTO_VALUES}
    if bad_auto:
        problems.append(f"auto_kwargs {bad_auto}: values must be one of {', '.join(AUTO_VALUES)}")
    clash = sorted(set(spec.get("auto_kwargs") or {}) & set(spec.get("kwargs") or {}))
    if clash:
        problems.append(f"kwargs and auto_kwargs both set {clash}")
    if problems:
        raise ExternalModelError("model: " + "; ".join(problems))


def _module_from_file(path: Path) -> Any:
    """Import a Python file once per process under a name derived from its resolved path."""
    resolved = path.resolve()
    name = "harxai_external_" + hashlib.sha1(str(resolved).encode()).hexdigest()[:16]
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, resolved)
    if spec is None or spec.loader is None:
        raise ExternalModelError(f"model.factory: cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[name]
        raise ExternalModelError(f"model.factory: importing {path} failed: {exc!r}") from exc
    return module


def load_factory(factory: str) -> Callable[..., nn.Module]:
    """The callable of a factory spec ``"pkg.module:name"`` or ``"path/to/file.py:name"``.

    A relative file path is taken relative to the working directory (the workflow's ``-d``).

    Raises
    ------
    ExternalModelError
        Naming the spec when the module or file cannot be imported or has no such callable.
    """
    m = _FACTORY.match(factory)
    if not m:
        raise ExternalModelError(
            f"model.factory {factory!r}: expected 'package.module:callable' or 'path/to/file.py:callable'"
        )
    target, attr = m["target"], m["attr"]
    if target.endswith(".py"):
        path = Path(target)
        if not path.is_file():
            raise ExternalModelError(
                f"model.factory {factory!r}: file {path} does not exist (cwd {Path.cwd()})"
            )
        module = _module_from_file(path)
    else:
        try:
            module = importlib.import_module(target)
        except Exception as exc:
            raise ExternalModelError(f"model.factory {factory!r}: cannot import {target}: {exc!r}") from exc
    obj: Any = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ExternalModelError(f"model.factory {factory!r}: {target} has no attribute {attr!r}")
        obj = getattr(obj, part)
    if not callable(obj):
        raise ExternalModelError(f"model.factory {factory!r}: {attr} is not callable")
    return obj  # type: ignore[no-any-return]


def factory_kwargs(spec: Mapping[str, Any], sizes: Mapping[str, int]) -> dict[str, Any]:
    """``kwargs`` plus each ``auto_kwargs`` entry filled from the data's sizes.

    Parameters
    ----------
    spec
        An external spec (:func:`external_spec`).
    sizes
        Values of :data:`AUTO_VALUES` (``in_channels`` is the channel count of one feature group).
    """
    out = dict(spec.get("kwargs") or {})
    for key, what in dict(spec.get("auto_kwargs") or {}).items():
        if what not in sizes:
            raise ExternalModelError(f"model.auto_kwargs.{key}: size {what!r} is not known here")
        out[key] = int(sizes[what])
    return out


class ExternalModel(nn.Module):
    """A user's network called like a harxai model.

    ``forward(joint, velocity, bone, acceleration)`` (each (N, C, T, V, M)) passes the groups
    listed in ``inputs`` positionally to ``net``, each in ``layout`` (``NCTVM`` as given,
    ``NMTVC`` permuted to (N, M, T, V, C), pyskl style), and returns element ``output`` of a
    tuple/list result (the result itself when ``output`` is None), which must be logits
    (N, class). The permutation is part of the graph, so SHAP and GradCAM attribute to the same
    (N, C, T, V, M) tensors as for harxai's own models.

    Attributes
    ----------
    net
        The user's module (its ``named_modules()`` paths are the config's layer names).
    spec
        The external spec it was built from (with ``built_kwargs``, the kwargs the factory got).
    """

    def __init__(self, net: nn.Module, spec: Mapping[str, Any]) -> None:
        super().__init__()
        if not isinstance(net, nn.Module):
            raise ExternalModelError(
                f"model.factory {spec.get('factory')!r} returned {type(net).__name__}, not a torch.nn.Module"
            )
        self.net = net
        self.spec = dict(spec)
        self._index = [FEATURE_GROUPS.index(g) for g in spec["inputs"]]
        self._permute = spec["layout"] == "NMTVC"
        self._output = spec.get("output")

    def forward(self, *groups: torch.Tensor) -> torch.Tensor:
        """Logits (sample, class) of the feature groups joint, velocity, bone, acceleration."""
        if len(groups) != len(FEATURE_GROUPS):
            raise ExternalModelError(
                f"ExternalModel takes the {len(FEATURE_GROUPS)} feature groups {list(FEATURE_GROUPS)}, "
                f"got {len(groups)} tensors"
            )
        args = [groups[i] for i in self._index]
        if self._permute:
            args = [x.permute(0, 4, 2, 3, 1) for x in args]
        out = self.net(*args)
        if isinstance(out, (tuple, list)):
            if self._output is None:
                raise ExternalModelError(
                    f"{self.spec['factory']}: forward returned a {type(out).__name__} of {len(out)}; "
                    "set model.output to the index of the logits"
                )
            if self._output >= len(out):
                raise ExternalModelError(
                    f"{self.spec['factory']}: model.output {self._output} but forward returned {len(out)} elements"
                )
            out = out[self._output]
        elif self._output is not None and self._output != 0:
            raise ExternalModelError(
                f"{self.spec['factory']}: model.output {self._output} but forward returned a single tensor"
            )
        if not isinstance(out, torch.Tensor) or out.ndim != 2 or out.shape[0] != groups[0].shape[0]:
            shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            raise ExternalModelError(
                f"{self.spec['factory']}: the logits have shape {shape}, expected (sample={groups[0].shape[0]}, class)"
            )
        return out


def build_external(spec: Mapping[str, Any], sizes: Mapping[str, int]) -> ExternalModel:
    """Build the user's network with its factory and wrap it (train mode, CPU).

    ``sizes`` fills ``auto_kwargs`` (see :func:`factory_kwargs`); the kwargs used are kept in
    ``model.spec["built_kwargs"]`` so ``model.pt`` can rebuild the same network.
    """
    check_spec(spec)
    factory = load_factory(spec["factory"])
    kwargs = dict(spec["built_kwargs"]) if "built_kwargs" in spec else factory_kwargs(spec, sizes)
    try:
        net = factory(**kwargs)
    except Exception as exc:
        raise ExternalModelError(
            f"model.factory {spec['factory']!r} failed with kwargs {kwargs}: {exc!r}"
        ) from exc
    return ExternalModel(net, {**spec, "built_kwargs": kwargs})


def unwrap(model: nn.Module) -> nn.Module:
    """The user's network of an :class:`ExternalModel`, else the model itself."""
    return model.net if isinstance(model, ExternalModel) else model


def module_paths(model: nn.Module) -> list[str]:
    """``named_modules()`` paths a config may name (of the user's network for external models)."""
    return [name for name, _ in unwrap(model).named_modules() if name]


def find_module(model: nn.Module, path: str) -> nn.Module | None:
    """The module at a config path (see :func:`module_paths`), None when there is none."""
    if not path:
        return None
    modules = dict(unwrap(model).named_modules())
    return modules.get(path)


def full_path(model: nn.Module, path: str) -> str:
    """The path of a config layer name within ``model`` itself (``net.`` prefixed for external models)."""
    return f"net.{path}" if isinstance(model, ExternalModel) else path


def external_edge_importance(model: ExternalModel) -> dict[str, nn.Parameter]:
    """Edge-importance parameters of an external model by ``model.named_parameters()`` name.

    Listed in the spec's ``edge_importance`` (parameter paths of the user's network), or found by
    name: parameters called ``edge_importance`` or ``edge_importance.<i>`` (ST-GCN's). Each must be
    (joint, joint) or (partition, joint, joint) and its owning module must be called during the
    forward pass (the perturbation recomputes that module), else an error names it.
    """
    params = dict(model.net.named_parameters())
    listed = model.spec.get("edge_importance")
    if listed:
        unknown = [n for n in listed if n not in params]
        if unknown:
            raise ExternalModelError(
                f"model.edge_importance: {unknown} are not parameters of the model; parameters: "
                + ", ".join(params)
            )
        names = list(listed)
    else:
        names = [n for n in params if EDGE_IMPORTANCE_NAME.search(n)]
    out: dict[str, nn.Parameter] = {}
    for name in names:
        p = params[name]
        if p.ndim not in (2, 3) or p.shape[-1] != p.shape[-2]:
            raise ExternalModelError(
                f"edge-importance parameter {name!r} has shape {tuple(p.shape)}; expected (joint, joint) "
                "or (partition, joint, joint)"
            )
        owner = name.rpartition(".")[0]
        if isinstance(
            model.net.get_submodule(owner) if owner else model.net, (nn.ParameterList, nn.ParameterDict)
        ):
            raise ExternalModelError(
                f"edge-importance parameter {name!r} is held in a ParameterList/ParameterDict that the forward "
                "pass never calls; E perturbation needs the module that uses E to own it"
            )
        out[f"net.{name}"] = p
    return out


def _nested(content: Any, key: str | None, source: str) -> Mapping[str, Any]:
    if not isinstance(content, Mapping):
        raise ExternalModelError(f"{source}: expected a dict of tensors, found {type(content).__name__}")
    if key:
        node: Any = content
        for part in key.split("/"):
            if not isinstance(node, Mapping) or part not in node:
                raise ExternalModelError(
                    f"{source}: no entry {key!r} (model.checkpoint_key); top-level keys: {sorted(map(str, content))[:20]}"
                )
            node = node[part]
        content = node
    elif not all(isinstance(v, torch.Tensor) for v in content.values()):
        for nested in NESTED_KEYS:
            if isinstance(content.get(nested), Mapping):
                content = content[nested]
                break
        else:
            raise ExternalModelError(
                f"{source}: neither a state dict nor one nested under {', '.join(NESTED_KEYS)}; "
                f"top-level keys: {sorted(map(str, content))[:20]} (set model.checkpoint_key)"
            )
    if not isinstance(content, Mapping):
        raise ExternalModelError(f"{source}: the state dict is a {type(content).__name__}, not a dict")
    bad = [str(k) for k, v in content.items() if not isinstance(v, torch.Tensor)]
    if bad:
        raise ExternalModelError(f"{source}: state dict entries that are not tensors: {bad[:10]}")
    return content


def read_external_state_dict(
    path: str | os.PathLike[str],
    key: str | None = None,
    strip_prefixes: Sequence[str] = DEFAULT_STRIP_PREFIXES,
) -> dict[str, torch.Tensor]:
    """Read a checkpoint in a field format with ``weights_only=True`` and return its state dict.

    Parameters
    ----------
    path
        The file (``torch.save`` of a state dict or of a dict holding one).
    key
        Entry holding the state dict (``a/b`` for deeper nesting); None: the file itself when
        every value is a tensor, else the first of :data:`NESTED_KEYS` present.
    strip_prefixes
        Removed, in order, from the start of every key that has them (``module.`` of
        DataParallel, ``backbone.`` of mmaction/pyskl recognisers...).
    """
    p = Path(path)
    if not p.is_file():
        raise ExternalModelError(f"{p}: checkpoint file does not exist")
    try:
        content = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ExternalModelError(f"{p}: not a weights-only loadable torch checkpoint ({exc})") from exc
    state = _nested(content, key, str(p))
    out: dict[str, torch.Tensor] = {}
    for name, value in state.items():
        new = str(name)
        for prefix in strip_prefixes:
            if prefix and new.startswith(prefix):
                new = new[len(prefix) :]
        if new in out:
            raise ExternalModelError(
                f"{p}: keys {name!r} and another both become {new!r} after stripping prefixes"
            )
        out[new] = value
    return out


def load_external_weights(
    model: ExternalModel,
    state: Mapping[str, torch.Tensor],
    source: str | os.PathLike[str],
    strip_prefixes: Sequence[str] = DEFAULT_STRIP_PREFIXES,
) -> None:
    """Load a state dict of the user's network; one error lists missing, unexpected and mis-shaped keys."""
    # late: harxai.models.checkpoint imports this module (cycle)
    from .checkpoint import CheckpointError, state_dict_mismatches

    missing, unexpected, shapes = state_dict_mismatches(model.net, state)
    parts = [
        f"  {title} ({len(items)}):\n    " + "\n    ".join(items)
        for title, items in (
            ("missing keys", missing),
            ("unexpected keys", unexpected),
            ("shape mismatches", shapes),
        )
        if items
    ]
    if parts:
        raise CheckpointError(
            f"{source}: checkpoint does not match the model of {model.spec['factory']} (model.strip_prefixes "
            f"{list(strip_prefixes)} applied)\n" + "\n".join(parts)
        )
    model.net.load_state_dict(dict(state))
