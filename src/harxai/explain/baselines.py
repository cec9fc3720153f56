"""Trivial baseline explanations every real method must beat: motion energy, random, input x gradient.

Each baseline returns a map over (sample, frame, joint) at the input's frame resolution, the
same view as SHAP's ``keypoint_frame`` and (after resampling) GradCAM's ``cam``; the key-point
view (sample, joint) is the mean over frames (:func:`keypoint_view`), as for SHAP.

The functions share the signature of a *map method* (:data:`MapMethod`),
``method(model, inputs, target) -> map``, so the evaluation (deletion and insertion,
the sanity check, the robustness metrics) can recompute any of them on perturbed inputs or
on a randomised model. ``inputs`` are the model's feature groups stacked as
(sample, group, channel, frame, joint, person); the model is called as
``model(*groups)`` with one (sample, channel, frame, joint, person) tensor per group, as
:func:`harxai.explain.jobs.group_tensors` feeds it.

``motion_energy``
    Each joint's speed in the input: the Euclidean norm over ``channels`` of the frame
    difference of one feature group (by default all channels of group 0, ``joint``: the
    coordinates and the coordinates relative to the centre joint), summed over persons.
    Frame ``t`` holds ``||x(t+1) - x(t)||``; the last frame repeats the one before. It never
    looks at the model: it is what a "what moves" detector would say.
``random_map``
    Uniform noise from a seeded generator, independent of model and input.
``input_x_gradient``
    ``captum.attr.InputXGradient`` of the target logit for every feature group, summed over
    group, channel and person (signed, as SHAP's ``keypoint_frame``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from captum.attr import InputXGradient
from torch import nn

from ..io.contracts import FEATURES, WINDOW
from ..methods import METHOD_INPUT_X_GRADIENT, METHOD_MOTION_ENERGY, METHOD_RANDOM, method_layer
from .cam import gradcam
from .reduce import keypoint_frame
from .shap_api import shap_values

MapMethod = Callable[[nn.Module, np.ndarray, np.ndarray], np.ndarray]
"""``method(model, inputs (sample, group, channel, frame, joint, person), target (sample,))``
returning a map (sample, frame, joint) or (sample, joint)."""

DEFAULT_BATCH = 64


def _check_inputs(inputs: np.ndarray) -> np.ndarray:
    x = np.asarray(inputs)
    if x.ndim != len(FEATURES):
        raise ValueError(f"inputs must be ({', '.join(FEATURES)}), got shape {x.shape}")
    return x


def keypoint_view(maps: np.ndarray) -> np.ndarray:
    """Mean over frames of a (sample, frame, joint) map -> (sample, joint); a 2-D map is returned as is."""
    m = np.asarray(maps)
    if m.ndim == 2:
        return m
    if m.ndim != 3:
        raise ValueError(f"a map must be (sample, joint) or (sample, frame, joint), got shape {m.shape}")
    return np.asarray(m.mean(axis=1), dtype=m.dtype)


def joint_speed(coords: np.ndarray) -> np.ndarray:
    """Each key point's input speed per frame: a model-free "what moves" map.

    Parameters
    ----------
    coords
        Coordinates, shape (sample, channel, frame, joint, person), as in ``windows.h5``
        (or the channels of one feature group of ``features.h5``). A person whose values are
        all zero in a frame is absent there (the padding convention of ``windows.h5``).

    Returns
    -------
    numpy.ndarray
        float32 (sample, frame, joint): ``||x(t+1) - x(t)||`` over channels, summed over the
        persons present in both frames ``t`` and ``t + 1``; the last frame repeats the one
        before it (a speed has one value fewer than positions), so the map has the input's
        frame count. Nonnegative and finite for finite input.
    """
    x = np.asarray(coords, dtype=np.float64)
    if x.ndim != len(WINDOW):
        raise ValueError(f"joint_speed: coordinates must be ({', '.join(WINDOW)}), got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError("joint_speed: coordinates contain NaN or inf")
    samples, _, frames, joints, _ = x.shape
    if frames < 2:
        return np.zeros((samples, frames, joints), dtype=np.float32)
    present = np.any(x != 0.0, axis=1)  # (sample, frame, joint, person)
    step = np.linalg.norm(np.diff(x, axis=2), axis=1)  # (sample, frame - 1, joint, person)
    step = np.where(present[:, 1:] & present[:, :-1], step, 0.0).sum(axis=-1)
    out = np.concatenate([step, step[:, -1:]], axis=1)
    return np.asarray(out, dtype=np.float32)


def motion_energy(
    inputs: np.ndarray, group: int = 0, channels: Sequence[int] | slice | None = None
) -> np.ndarray:
    """Per-joint input speed of one feature group (:func:`joint_speed`; see the module docstring).

    Parameters
    ----------
    inputs
        (sample, group, channel, frame, joint, person).
    group
        Feature group whose frame differences are taken (0: ``joint`` in harxai's order).
    channels
        Channels of that group (default all).

    Returns
    -------
    numpy.ndarray
        float32 (sample, frame, joint), non-negative.
    """
    x = _check_inputs(inputs)
    if not 0 <= group < x.shape[1]:
        raise ValueError(f"motion_energy: group {group} outside 0..{x.shape[1] - 1}")
    g = np.asarray(x[:, group])
    return joint_speed(g if channels is None else g[:, channels])


def motion_energy_method(group: int = 0, channels: Sequence[int] | slice | None = None) -> MapMethod:
    """:func:`motion_energy` as a :data:`MapMethod` (model and target are ignored)."""

    def method(model: nn.Module, inputs: np.ndarray, target: np.ndarray) -> np.ndarray:
        return motion_energy(inputs, group, channels)

    return method


def random_map(inputs: np.ndarray, seed: int) -> np.ndarray:
    """Seeded uniform noise in [0, 1), float32 (sample, frame, joint) shaped like ``inputs``."""
    x = _check_inputs(inputs)
    rng = np.random.default_rng(seed)
    return rng.random((x.shape[0], x.shape[3], x.shape[4]), dtype=np.float32)


def random_method(seed: int) -> MapMethod:
    """:func:`random_map` as a :data:`MapMethod`: the same noise for the same input shape."""

    def method(model: nn.Module, inputs: np.ndarray, target: np.ndarray) -> np.ndarray:
        return random_map(inputs, seed)

    return method


def _device(model: nn.Module) -> torch.device:
    first = next(model.parameters(), None)
    return first.device if first is not None else torch.device("cpu")


def input_x_gradient(
    model: nn.Module, inputs: np.ndarray, target: np.ndarray, batch_size: int = DEFAULT_BATCH
) -> np.ndarray:
    """``captum.attr.InputXGradient`` of the target logit, summed over group, channel and person.

    Parameters
    ----------
    model
        ``model(*groups) -> logits (sample, class)``; used as it is (put it in eval mode).
    inputs
        (sample, group, channel, frame, joint, person).
    target
        Class explained per sample, (sample,).
    batch_size
        Samples per backward pass.

    Returns
    -------
    numpy.ndarray
        float32 (sample, frame, joint), signed.
    """
    x = _check_inputs(inputs)
    t = np.asarray(target, dtype=np.int64).reshape(-1)
    if len(t) != len(x):
        raise ValueError(f"input_x_gradient: {len(t)} targets for {len(x)} samples")
    device = _device(model)

    def forward(*groups: torch.Tensor) -> torch.Tensor:
        # 0 * sum keeps every group in the graph: a model that ignores a feature group (an
        # external model fed only some groups) gets a zero gradient there, not autograd's error
        return model(*groups) + 0.0 * sum(g.sum() for g in groups)

    explainer = InputXGradient(forward)
    out = []
    for start in range(0, len(x), batch_size):
        xb = torch.as_tensor(
            np.ascontiguousarray(x[start : start + batch_size], dtype=np.float32), device=device
        )
        groups = tuple(xb[:, g].contiguous().requires_grad_(True) for g in range(xb.shape[1]))
        tb = torch.as_tensor(t[start : start + batch_size], device=device)
        attr = explainer.attribute(groups, target=tb)
        total = sum(a.detach().double().sum(dim=(1, 4)) for a in attr)  # (sample, frame, joint)
        out.append(torch.as_tensor(total).cpu().numpy())
    return np.asarray(np.concatenate(out), dtype=np.float32)


def input_x_gradient_method(batch_size: int = DEFAULT_BATCH) -> MapMethod:
    """:func:`input_x_gradient` as a :data:`MapMethod`."""

    def method(model: nn.Module, inputs: np.ndarray, target: np.ndarray) -> np.ndarray:
        return input_x_gradient(model, inputs, target, batch_size)

    return method


# ----------------------------------------------------------------------------- the real explainers as map methods


def _group_tensors(model: nn.Module, inputs: np.ndarray) -> list[torch.Tensor]:
    x = torch.as_tensor(np.ascontiguousarray(_check_inputs(inputs), dtype=np.float32), device=_device(model))
    return [x[:, g].contiguous() for g in range(x.shape[1])]


def gradcam_method(layer: str, variant: str = "standard", batch_size: int = DEFAULT_BATCH) -> MapMethod:
    """GradCAM of ``layer`` (:func:`harxai.explain.cam.gradcam`) as a :data:`MapMethod`.

    The map is (sample, frame', joint) at the layer's frame resolution, averaged over persons.
    """

    def method(model: nn.Module, inputs: np.ndarray, target: np.ndarray) -> np.ndarray:
        t = np.asarray(target, dtype=np.int64)
        out = [
            gradcam(
                model,
                _group_tensors(model, inputs[s : s + batch_size]),
                layer,
                t[s : s + batch_size],
                variant=variant,
            )
            for s in range(0, len(inputs), batch_size)
        ]
        return np.concatenate(out)

    return method


def shap_method(
    background: np.ndarray,
    backend: str = "fast",
    absolute: bool = False,
    completeness_tolerance: float | None = 1e-4,
) -> MapMethod:
    """SHAP (:func:`harxai.explain.shap_values`) against ``background`` as a :data:`MapMethod`.

    ``background`` is (background, group, channel, frame, joint, person); the map is SHAP's
    ``keypoint_frame`` view (sum over group, channel and person; of ``|phi|`` with
    ``absolute``), float32 (sample, frame, joint).
    """

    def method(model: nn.Module, inputs: np.ndarray, target: np.ndarray) -> np.ndarray:
        result = shap_values(
            model,
            _group_tensors(model, inputs),
            _group_tensors(model, background),
            np.asarray(target),
            backend,
            completeness_tolerance=completeness_tolerance,
        )
        values = np.stack(result.values, axis=1)  # (sample, group, channel, frame, joint, person)
        return keypoint_frame(values, absolute=absolute)

    return method


def baseline_methods(seed: int, batch_size: int = DEFAULT_BATCH) -> dict[str, MapMethod]:
    """The trivial baselines by method name (:data:`harxai.methods.BASELINE_METHODS` order)."""
    return {
        METHOD_MOTION_ENERGY: motion_energy_method(),
        METHOD_RANDOM: random_method(seed),
        METHOD_INPUT_X_GRADIENT: input_x_gradient_method(batch_size),
    }


def map_methods(
    names: Sequence[str],
    *,
    background: np.ndarray,
    shap_absolute: bool = False,
    variant: str = "standard",
    seed: int = 0,
    batch_size: int = DEFAULT_BATCH,
) -> dict[str, MapMethod]:
    """Map methods by verdict name: ``shap``, ``gradcam:<layer>`` and the baselines.

    SHAP runs the fast engine against ``background`` without its completeness check (the
    sanity check and the robustness metrics call it on randomised models and perturbed inputs,
    where only the maps are compared); GradCAM uses ``variant``.
    """
    baselines = baseline_methods(seed, batch_size)
    out: dict[str, MapMethod] = {}
    for name in names:
        if name == "shap":
            out[name] = shap_method(background, "fast", shap_absolute, completeness_tolerance=None)
        elif (layer := method_layer(name)) is not None:
            out[name] = gradcam_method(layer, variant, batch_size)
        elif name in baselines:
            out[name] = baselines[name]
        else:
            raise ValueError(f"no map method named {name!r}")
    return out
