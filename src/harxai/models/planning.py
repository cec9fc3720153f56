"""Module paths of a dataset's model before any job runs (planning-time layer checks).

A preset is built for the dataset's layout; an external model by its factory with the sizes
known at planning time (:func:`harxai.config.planning_sizes`), on torch's meta device when the
factory allows it (no memory, no initialisation cost), else on the CPU. Module paths do not
depend on the sizes for the families harxai targets.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from ..config import FEATURE_GROUPS, planning_sizes
from ..explain.cam import layer_rows
from ..skeletons import get_layout
from .external import build_external, external_spec, find_module, is_external, module_paths
from .network import build_model, edge_importance_parameters
from .presets import make_architecture

log = logging.getLogger(__name__)


def planned_module_paths(
    config: Mapping[str, Any], dataset: Mapping[str, Any], model: Mapping[str, Any]
) -> list[str]:
    """``named_modules()`` paths (the config's layer names) of a resolved dataset's model.

    Raises
    ------
    ValueError
        When the model cannot be built (unknown layout, factory that fails...).
    """
    return module_paths(planned_model(config, dataset, model)[0])


def planned_model(
    config: Mapping[str, Any], dataset: Mapping[str, Any], model: Mapping[str, Any]
) -> tuple[nn.Module, dict[str, int]]:
    """A dataset's model built with planning-time sizes (meta device when possible) and the sizes."""
    layout = get_layout(str(dataset["layout"]), config.get("layouts") or {})
    sizes = planning_sizes(config, dataset, layout.num_joints)
    if is_external(model):
        spec = external_spec(model)
        try:
            with torch.device("meta"):
                return build_external(spec, sizes), sizes
        except ValueError:
            return build_external(spec, sizes), sizes
    arch = make_architecture(
        str(model.get("preset", "tiny")),
        attention=str(model.get("attention", "joint")),
        dropout=float(model.get("dropout", 0.0)),
        in_channels=dict.fromkeys(FEATURE_GROUPS, sizes["in_channels"]),
        layout=layout.to_dict(),
        num_classes=sizes["num_classes"],
        graph_residual=bool(model.get("graph_residual", False)),
    )
    with torch.device("meta"):
        return build_model(arch), sizes


def planned_layer_shape_problems(
    built: nn.Module, sizes: Mapping[str, int], layers: Sequence[str]
) -> list[str]:
    """GradCAM layers whose output shape GradCAM cannot use, from one forward pass on meta tensors.

    Two samples of ``sizes`` go through the model built by :func:`planned_model`; each layer's
    output is checked with :func:`harxai.explain.cam.layer_rows`. A model that cannot run on the
    meta device (data-dependent operations) is not checked here (the GradCAM job checks it).
    """
    samples, persons, joints = 2, sizes["num_persons"], sizes["num_joints"]
    outputs: dict[str, Any] = {}
    handles = []
    for layer in layers:
        module = find_module(built, layer)
        if module is not None:
            handles.append(
                module.register_forward_hook(lambda _m, _a, out, layer=layer: outputs.setdefault(layer, out))
            )
    try:
        shape = (samples, sizes["in_channels"], sizes["num_frames"], joints, persons)
        inputs = [torch.zeros(shape, device="meta") for _ in FEATURE_GROUPS]
        built.to("meta").eval()  # buffers made from numpy arrays are on the CPU
        with torch.no_grad():
            built(*inputs)
    except Exception as exc:  # noqa: BLE001 - any failure means: not checkable before the job
        log.info("layer output shapes not checked at planning time (%s)", exc)
        return []
    finally:
        for handle in handles:
            handle.remove()
    problems = []
    for layer in layers:
        if layer in outputs:
            try:
                layer_rows(outputs[layer], layer, samples, persons, joints)
            except (TypeError, ValueError) as exc:
                problems.append(str(exc).replace("GradCAM layer", "layer", 1))
        elif find_module(built, layer) is not None:
            problems.append(f"layer {layer!r} does not run in the model's forward pass")
    return problems


def planned_edge_importance(
    config: Mapping[str, Any], dataset: Mapping[str, Any], model: Mapping[str, Any]
) -> list[str]:
    """Names of the edge-importance parameters E of a dataset's model, before any job runs.

    Empty for a model without E (rule perturb_edges has nothing to perturb there; the workflow
    can leave its targets out). Raises :class:`harxai.models.external.ExternalModelError` for
    listed parameters that do not exist or cannot be perturbed.
    """
    return list(edge_importance_parameters(planned_model(config, dataset, model)[0]))
