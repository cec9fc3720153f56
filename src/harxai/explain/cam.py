"""GradCAM maps of skeleton GCN layers, per (sample, frame, joint).

Two variants are implemented on the same activations ``A`` and gradients ``G = dy_target/dA``
of one layer whose output is shaped (sample*person, channel, frame', joint):

``standard``
    Grad-CAM of Selvaraju et al., "Grad-CAM: Visual Explanations from Deep Networks via
    Gradient-based Localization", ICCV 2017 (arXiv:1610.02391). For every (sample, person)
    element, ``alpha_k = mean over (frame, joint) of G_k`` and ``map = ReLU(sum_k alpha_k A_k)``.
    Deviation: the paper's image has no persons; the maps of the ``person`` skeletons of a sample
    (rows ``sample*person + p``, the ST-GCN/EfficientGCN reshape order) are averaged. Equals
    captum's ``LayerGradCam(relu_attributions=True)`` followed by the same person mean.

``shapgcn``
    The variant of the seed code (DeepInMotion/ShapGCN ``src/xai/gradcamgcn.py``), kept so the
    paper's maps can be reproduced: ``g = G / (sqrt(mean(G**2)) + 1e-8)`` per element;
    ``alpha = mean of g over (channel, frame)`` (one value per joint); ``s = sum_v alpha_v``;
    ``map = ReLU(mean over channel of s * A)``; ``map = (map - min) / (max + 1e-8)``. Because the
    joint weights are summed into the single scalar ``s`` (the seed's broadcasting), the map is the
    channel-mean activation gated by the sign of the global mean gradient, nearly class-agnostic.
    Deviation: the seed used only the first skeleton of each sample; here every (sample, person)
    element is mapped and normalised, then the person maps are averaged like ``standard``.

``negate=True`` uses ``-G`` (counterfactual maps: what speaks against the target).

Layer outputs and the person axis (any model, harxai's or external; see :func:`layer_rows`):

* (sample*person, channel, frame, joint), rows sample-major (``n * person + p``, the reshape of
  ST-GCN, AAGCN, CTR-GCN, EfficientGCN): one map per skeleton, then the mean over persons;
* (sample, channel, frame, joint): persons already pooled or merged by the model; one map per
  sample, no mean;
* (sample*person or sample, channel, frame): a layer without joint axis (frame tokens, pooled
  temporal features); the (sample, frame) map is repeated over the joints, so it ranks frames,
  never key points;
* anything else (token sequences (sample, tokens, channel), (frame, sample, channel), a joint
  axis of another length...) is refused with the layer's name and output shape.

When a sample has a single person the first two cases coincide.

Activations are captured by a forward hook and gradients by ``Tensor.register_hook`` on the
captured output (never the deprecated module backward hook); the backward pass is
``torch.autograd.backward(score, inputs=[activation])``, so it stops at the layer and leaves the
parameters' ``.grad`` untouched. The hooks live in a context manager and are always removed.
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from ..models.external import find_module, module_paths

log = logging.getLogger(__name__)

Variant = Literal["standard", "shapgcn"]
VARIANTS: tuple[str, ...] = ("standard", "shapgcn")
_EPS = 1e-8


@dataclass(frozen=True)
class GradCamResult:
    """GradCAM maps of one layer for a batch of samples.

    Attributes
    ----------
    cam
        float32 (sample, frame, joint): map of the target output, at the layer's frame
        resolution, averaged over persons.
    cam_negated
        float32 (sample, frame, joint): the same with negated gradients (counterfactual).
    layer
        ``named_modules()`` path of the layer.
    variant
        ``standard`` or ``shapgcn``.
    """

    cam: np.ndarray
    cam_negated: np.ndarray
    layer: str
    variant: str


@dataclass
class _Capture:
    """What the hooks saw during one forward/backward pass."""

    samples: int
    persons: int
    joints: int
    layer: str
    activations: list[torch.Tensor] = field(default_factory=list)
    gradients: list[torch.Tensor] = field(default_factory=list)
    handles: list[Any] = field(default_factory=list)


def resolve_layer(model: nn.Module, layer: str) -> nn.Module:
    """Return the submodule at ``named_modules()`` path ``layer``.

    For an external model (:class:`harxai.models.external.ExternalModel`) the path is one of the
    user's network, as written in the config.

    Raises
    ------
    ValueError
        When no module has that path; the message lists the closest paths.
    """
    module = find_module(model, layer)
    if module is not None:
        return module
    names = module_paths(model)
    close = difflib.get_close_matches(layer, names, n=5, cutoff=0.5)
    hint = f"; closest: {', '.join(close)}" if close else ""
    raise ValueError(f"GradCAM layer {layer!r} is not a named_modules() path of the model{hint}")


@contextmanager
def capture_layer(
    module: nn.Module, layer: str, samples: int, persons: int, joints: int
) -> Iterator[_Capture]:
    """Capture the output of ``module`` and the gradient reaching it, for one pass.

    The forward hook checks the output's shape (see :func:`layer_rows`) and registers a tensor
    hook storing its gradient. Every hook is removed on exit, also after an exception.
    """
    capture = _Capture(samples=samples, persons=persons, joints=joints, layer=layer)

    def forward_hook(_module: nn.Module, _args: Any, output: Any) -> torch.Tensor | None:
        layer_rows(output, layer, samples, persons, joints)
        replaced: torch.Tensor | None = None
        if not output.requires_grad:  # frozen layers: make the output a leaf that gets a gradient
            output = output.detach().requires_grad_(True)
            replaced = output.clone()
        capture.activations.append(output)
        capture.handles.append(output.register_hook(capture.gradients.append))
        return replaced

    capture.handles.append(module.register_forward_hook(forward_hook))
    try:
        yield capture
    finally:
        for handle in capture.handles:
            handle.remove()
        capture.handles.clear()


def layer_rows(output: Any, layer: str, samples: int, persons: int, joints: int) -> int:
    """Persons per sample in a layer output's rows (``persons`` or 1); raise for other shapes.

    Accepted outputs: (sample*person, channel, frame, joint) as in ST-GCN-style models (rows
    sample-major), (sample, channel, frame, joint) where the persons were already pooled or
    merged, and (sample*person or sample, channel, frame) for layers without a joint axis
    (frame tokens of a transformer, pooled temporal features). Anything else is an error naming
    the layer and the shape.
    """
    if not isinstance(output, torch.Tensor):
        raise TypeError(f"GradCAM layer {layer!r} returns {type(output).__name__}, not a tensor")
    shape = tuple(output.shape)
    rows_ok = output.ndim in (3, 4) and shape[0] in (samples * persons, samples)
    joints_ok = output.ndim == 3 or (output.ndim == 4 and shape[3] == joints)
    if not (rows_ok and joints_ok):
        raise ValueError(
            f"GradCAM layer {layer!r} output has shape {shape}; expected (sample*person={samples * persons} "
            f"or sample={samples}, channel, frame, joint={joints}) or (sample*person or sample, channel, frame)"
        )
    return persons if shape[0] == samples * persons else 1


def _as_inputs(inputs: torch.Tensor | Sequence[torch.Tensor]) -> list[torch.Tensor]:
    items = [inputs] if isinstance(inputs, torch.Tensor) else list(inputs)
    if not items or any(t.ndim != 5 for t in items):
        shapes = [tuple(t.shape) for t in items]
        raise ValueError(
            f"GradCAM inputs must be (sample, channel, frame, joint, person) tensors, got {shapes}"
        )
    return items


def _as_target(target: int | Sequence[int] | np.ndarray | torch.Tensor, samples: int) -> torch.Tensor:
    if isinstance(target, torch.Tensor):
        t = target.detach().to(device="cpu", dtype=torch.long).reshape(-1)
    else:
        t = torch.as_tensor(np.asarray(target), dtype=torch.long).reshape(-1)
    if t.numel() == 1 and samples != 1:
        t = t.expand(samples)
    if t.shape != (samples,):
        raise ValueError(f"GradCAM target must be one class or one per sample ({samples}), got {t.shape[0]}")
    return t


def activations_and_gradients(
    model: nn.Module,
    inputs: torch.Tensor | Sequence[torch.Tensor],
    layer: str,
    target: int | Sequence[int] | np.ndarray | torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Activations of ``layer`` and the gradient of the target logits with respect to them.

    Parameters
    ----------
    model
        Module called as ``model(*inputs)`` -> logits (sample, class); usually in eval mode.
    inputs
        Tensors (sample, channel, frame, joint, person) on the model's device.
    layer
        ``named_modules()`` path of a layer whose output is (sample*person, channel, frame, joint).
    target
        Class explained, one for all samples or one per sample.

    Returns
    -------
    tuple of torch.Tensor
        Detached activations and gradients, each (rows, channel, frame, joint) with rows
        sample*person or sample (see :func:`layer_rows`); a 3-D layer output gets a joint axis
        of length 1.
    """
    items = _as_inputs(inputs)
    samples, persons, joints = items[0].shape[0], items[0].shape[-1], items[0].shape[-2]
    module = resolve_layer(model, layer)
    if model.training:
        log.warning("GradCAM on a model in training mode (dropout and batch statistics are active)")
    with capture_layer(module, layer, samples, persons, joints) as capture, torch.enable_grad():
        logits = model(*items)
        if len(capture.activations) != 1:
            raise ValueError(
                f"GradCAM layer {layer!r} ran {len(capture.activations)} times in one forward pass; "
                "it must run exactly once"
            )
        if logits.ndim != 2 or logits.shape[0] != samples:
            raise ValueError(
                f"model output has shape {tuple(logits.shape)}, expected (sample={samples}, class)"
            )
        tgt = _as_target(target, samples).to(logits.device)
        if tgt.numel() and (int(tgt.min()) < 0 or int(tgt.max()) >= logits.shape[1]):
            raise ValueError(f"GradCAM target outside 0..{logits.shape[1] - 1}: {tgt.tolist()}")
        score = logits.gather(1, tgt[:, None]).sum()
        activation = capture.activations[0]
        torch.autograd.backward(score, inputs=[activation])
        if len(capture.gradients) != 1:
            raise RuntimeError(f"GradCAM layer {layer!r}: no gradient reached the layer output")
        acts, grads = activation.detach(), capture.gradients[0].detach()
        if acts.ndim == 3:
            acts, grads = acts[..., None], grads[..., None]
        return acts, grads


def standard_cam(activations: torch.Tensor, gradients: torch.Tensor) -> torch.Tensor:
    """Selvaraju et al. Grad-CAM per (sample*person) element.

    Parameters
    ----------
    activations, gradients
        (sample*person, channel, frame, joint).

    Returns
    -------
    torch.Tensor
        (sample*person, frame, joint): ``ReLU(sum_k mean_{frame,joint}(G_k) * A_k)``.
    """
    alpha = gradients.mean(dim=(2, 3), keepdim=True)
    return torch.relu((alpha * activations).sum(dim=1))


def shapgcn_cam(activations: torch.Tensor, gradients: torch.Tensor) -> torch.Tensor:
    """The seed code's scalar-weight GradCAM per (sample*person) element (see module docstring).

    Parameters
    ----------
    activations, gradients
        (sample*person, channel, frame, joint).

    Returns
    -------
    torch.Tensor
        (sample*person, frame, joint), each element normalised as ``(x - min) / (max + 1e-8)``.
    """
    rms = gradients.pow(2).mean(dim=(1, 2, 3), keepdim=True).sqrt()
    g = gradients / (rms + _EPS)
    alpha = g.mean(dim=(1, 2))  # (N*M, V)
    s = alpha.sum(dim=1)[:, None, None, None]
    cam = torch.relu((s * activations).mean(dim=1))
    flat = cam.flatten(1)
    low = flat.min(dim=1).values[:, None, None]
    high = flat.max(dim=1).values[:, None, None]
    return (cam - low) / (high + _EPS)


def person_mean(maps: torch.Tensor, persons: int) -> torch.Tensor:
    """Average (sample*person, frame, joint) maps over persons -> (sample, frame, joint)."""
    rows, frames, joints = maps.shape
    return maps.reshape(rows // persons, persons, frames, joints).mean(dim=1)


def _cam(
    activations: torch.Tensor, gradients: torch.Tensor, variant: str, samples: int, joints: int
) -> np.ndarray:
    """(sample, frame, joint) maps: person mean when rows are sample*person; a joint-less map repeated."""
    maps = (
        standard_cam(activations, gradients) if variant == "standard" else shapgcn_cam(activations, gradients)
    )
    out = person_mean(maps, maps.shape[0] // samples)
    if out.shape[-1] == 1 and joints != 1:
        out = out.expand(-1, -1, joints)
    return out.float().cpu().numpy()


def check_variant(variant: str) -> None:
    """Raise ValueError unless ``variant`` is one of :data:`VARIANTS`."""
    if variant not in VARIANTS:
        raise ValueError(f"GradCAM variant must be one of {', '.join(VARIANTS)}, not {variant!r}")


class GradCam:
    """GradCAM explainer of one layer (see the module docstring for the variants).

    Parameters
    ----------
    model
        Module called as ``model(*inputs)`` -> logits (sample, class), in eval mode.
    layer
        ``named_modules()`` path of a layer with output (sample*person, channel, frame, joint).
    variant
        ``standard`` (Selvaraju et al.) or ``shapgcn`` (seed code).
    """

    def __init__(self, model: nn.Module, layer: str, variant: str = "standard") -> None:
        check_variant(variant)
        resolve_layer(model, layer)
        self.model = model
        self.layer = layer
        self.variant = variant

    def explain(
        self,
        inputs: torch.Tensor | Sequence[torch.Tensor],
        target: int | Sequence[int] | np.ndarray | torch.Tensor,
    ) -> GradCamResult:
        """Positive and negated maps from one forward and one backward pass.

        Parameters
        ----------
        inputs
            Tensors (sample, channel, frame, joint, person) on the model's device.
        target
            Class explained, one for all samples or one per sample.

        Returns
        -------
        GradCamResult
            ``cam`` and ``cam_negated``, float32 (sample, frame, joint).
        """
        items = _as_inputs(inputs)
        acts, grads = activations_and_gradients(self.model, items, self.layer, target)
        samples, joints = items[0].shape[0], items[0].shape[-2]
        return GradCamResult(
            cam=_cam(acts, grads, self.variant, samples, joints),
            cam_negated=_cam(acts, -grads, self.variant, samples, joints),
            layer=self.layer,
            variant=self.variant,
        )


def gradcam(
    model: nn.Module,
    inputs: torch.Tensor | Sequence[torch.Tensor],
    layer: str,
    target: int | Sequence[int] | np.ndarray | torch.Tensor,
    negate: bool = False,
    variant: str = "standard",
) -> np.ndarray:
    """GradCAM map of ``layer`` for the ``target`` output.

    Parameters
    ----------
    model
        Module called as ``model(*inputs)`` -> logits (sample, class), in eval mode.
    inputs
        Tensors (sample, channel, frame, joint, person) on the model's device (for harxai models
        the four feature groups joint, velocity, bone, acceleration).
    layer
        ``named_modules()`` path of a layer whose output is (sample*person, channel, frame, joint).
    target
        Class explained, one for all samples or one per sample.
    negate
        Use the negated gradient (counterfactual map).
    variant
        ``standard`` (Selvaraju et al.) or ``shapgcn`` (the seed code's variant).

    Returns
    -------
    numpy.ndarray
        float32 (sample, frame, joint) at the layer's frame resolution, averaged over persons.
    """
    check_variant(variant)
    items = _as_inputs(inputs)
    acts, grads = activations_and_gradients(model, items, layer, target)
    return _cam(acts, -grads if negate else grads, variant, items[0].shape[0], items[0].shape[-2])
