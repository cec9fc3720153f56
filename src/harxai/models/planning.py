"""Module paths of a dataset's model before any job runs (planning-time layer checks).

A preset is built for the dataset's layout; an external model by its factory with the sizes
known at planning time (:func:`harxai.config.planning_sizes`), on torch's meta device when the
factory allows it (no memory, no initialisation cost), else on the CPU. Module paths do not
depend on the sizes for the families harxai targets.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from ..config import FEATURE_GROUPS, planning_sizes
from ..skeletons import get_layout
from .external import build_external, external_spec, is_external, module_paths
from .network import build_model
from .presets import make_architecture


def planned_module_paths(
    config: Mapping[str, Any], dataset: Mapping[str, Any], model: Mapping[str, Any]
) -> list[str]:
    """``named_modules()`` paths (the config's layer names) of a resolved dataset's model.

    Raises
    ------
    ValueError
        When the model cannot be built (unknown layout, factory that fails...).
    """
    layout = get_layout(str(dataset["layout"]), config.get("layouts") or {})
    sizes = planning_sizes(config, dataset, layout.num_joints)
    if is_external(model):
        spec = external_spec(model)
        try:
            with torch.device("meta"):
                built = build_external(spec, sizes)
        except ValueError:
            built = build_external(spec, sizes)
        return module_paths(built)
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
        return module_paths(build_model(arch))
