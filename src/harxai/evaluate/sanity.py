"""Model-parameter randomisation test (Adebayo et al. 2018, "Sanity Checks for Saliency Maps", NeurIPS).

Cascading randomisation: the model's parameters are randomised in stages from the output
(classifier) down to the input, cumulatively; after each stage every method's map is
recomputed on the partly random model and compared with its map on the trained model by
Spearman's rho per sample (over the map's cells: (frame, joint) or joint). A method whose
maps still correlate with rho > 0.5 (mean over samples) once every stage is randomised does
not depend on what the model learned: it *fails* (:data:`FAIL_RHO`).

Stages (:func:`cascading_stages`)
    Each parameter's depth is its longest path, in autograd nodes, from the logits in the
    backward graph of one forward pass (so parallel input branches get the same depth and
    residual shortcuts do not make early layers look late). The distinct depths are split
    into ``num_stages`` contiguous groups, the shallowest (classifier) first. A stage is
    named by its first and last parameter. Explicit stages can be given as name prefixes.
Randomisation (:func:`randomize_parameters`)
    Each parameter is replaced by seeded Gaussian noise with the trained parameter's own mean
    and standard deviation (a constant parameter, such as a fresh E or batch-norm weight,
    gets standard deviation ``max(|mean|, 1)``), which keeps the scale of activations while
    destroying what was learned. Deviation from Adebayo et al.: they re-draw from each
    layer's initialiser; buffers (batch-norm running statistics) are left as trained.
Spearman's rho
    Pearson correlation of the per-sample ranks (average ranks for ties). Where either map
    of a sample is constant (no ranking; e.g. a GradCAM that is zero everywhere), rho is
    taken as 0. With ``absolute=True`` the ranks of ``|map|`` are compared, as Adebayo et al.
    report both.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch
from scipy import stats
from torch import nn

from ..explain.baselines import MapMethod

log = logging.getLogger(__name__)

FAIL_RHO = 0.5
TRAINED = "trained"
SANITY_COLUMNS = ("method", "stage_index", "stage", "rho", "ci_low", "ci_high", "n")


@dataclass(frozen=True)
class Stage:
    """Parameters randomised together (their ``named_parameters()`` names)."""

    name: str
    parameters: tuple[str, ...]


def _model_device(model: nn.Module) -> torch.device:
    first = next(model.parameters(), None)
    return first.device if first is not None else torch.device("cpu")


def parameter_depths(model: nn.Module, inputs: np.ndarray) -> dict[str, int]:
    """Longest backward-graph distance from the logits to each parameter (see the module docstring).

    Parameters
    ----------
    model
        ``model(*groups) -> logits``.
    inputs
        A few samples (sample, group, channel, frame, joint, person) to trace one forward pass.
    """
    x = torch.as_tensor(np.ascontiguousarray(inputs, dtype=np.float32), device=_model_device(model))
    names = {id(p): n for n, p in model.named_parameters() if p.requires_grad}
    with torch.enable_grad():
        logits = model(*x.unbind(1))
    root = logits.grad_fn
    if root is None:
        raise ValueError("the model's output does not depend on any parameter")
    order: list[Any] = []
    seen: set[int] = set()
    stack: list[tuple[Any, bool]] = [(root, False)]
    while stack:  # iterative post-order DFS -> reverse topological order
        node, done = stack.pop()
        if done:
            order.append(node)
            continue
        if id(node) in seen:
            continue
        seen.add(id(node))
        stack.append((node, True))
        stack.extend((child, False) for child, _ in node.next_functions if child is not None)
    depth: dict[int, int] = {id(root): 0}
    out: dict[str, int] = {}
    for node in reversed(order):  # topological: parents before children
        d = depth.get(id(node), 0)
        for child, _ in node.next_functions:
            if child is not None:
                depth[id(child)] = max(depth.get(id(child), 0), d + 1)
        var = getattr(node, "variable", None)
        if var is not None and id(var) in names:
            out[names[id(var)]] = d
    return out


def cascading_stages(
    model: nn.Module,
    inputs: np.ndarray,
    num_stages: int = 4,
    prefixes: Sequence[Sequence[str]] | None = None,
) -> list[Stage]:
    """Stages of the cascading randomisation, the classifier first.

    Parameters
    ----------
    model, inputs
        As :func:`parameter_depths`.
    num_stages
        Number of stages when ``prefixes`` is not given (fewer if the model has fewer depths).
    prefixes
        Explicit stages: each a list of parameter-name prefixes (e.g. ``["classifier"]``).
    """
    if prefixes is not None:
        names = [n for n, p in model.named_parameters() if p.requires_grad]
        stages = []
        for group in prefixes:
            members = tuple(n for n in names if any(n == p or n.startswith(p + ".") for p in group))
            if not members:
                raise ValueError(f"sanity stage {list(group)} matches no parameter of the model")
            stages.append(Stage(",".join(group), members))
        return stages
    if num_stages < 1:
        raise ValueError(f"num_stages must be >= 1, got {num_stages}")
    depths = parameter_depths(model, inputs)
    levels = sorted(set(depths.values()))
    stages = []
    for chunk in np.array_split(np.array(levels), min(num_stages, len(levels))):
        members = tuple(
            n for n, d in sorted(depths.items(), key=lambda kv: (kv[1], kv[0])) if d in set(chunk.tolist())
        )
        stages.append(Stage(f"{members[0]} .. {members[-1]}" if len(members) > 1 else members[0], members))
    return stages


def randomize_parameters(model: nn.Module, names: Sequence[str], seed: int) -> None:
    """Replace the named parameters in place by Gaussian noise with their own mean and std (see the module docstring)."""
    params = dict(model.named_parameters())
    with torch.no_grad():
        for i, name in enumerate(sorted(names)):
            p = params[name]
            g = torch.Generator(device="cpu").manual_seed(
                int(np.random.SeedSequence([seed, i]).generate_state(1)[0])
            )
            mean = float(p.double().mean())
            std = float(p.double().std()) if p.numel() > 1 else 0.0
            if not np.isfinite(std) or std < 1e-12:
                std = max(abs(mean), 1.0)
            noise = torch.randn(p.shape, generator=g, dtype=torch.float64) * std + mean
            p.copy_(noise.to(device=p.device, dtype=p.dtype))


def spearman_rows(a: np.ndarray, b: np.ndarray, absolute: bool = False) -> np.ndarray:
    """Spearman's rho between matching rows of two maps (sample, ...); 0 where a row is constant."""
    x = np.asarray(a, dtype=np.float64).reshape(len(a), -1)
    y = np.asarray(b, dtype=np.float64).reshape(len(b), -1)
    if x.shape != y.shape:
        raise ValueError(f"maps of different shapes: {np.shape(a)} and {np.shape(b)}")
    if absolute:
        x, y = np.abs(x), np.abs(y)
    rx = stats.rankdata(x, axis=1)
    ry = stats.rankdata(y, axis=1)
    rx -= rx.mean(axis=1, keepdims=True)
    ry -= ry.mean(axis=1, keepdims=True)
    den = np.sqrt((rx**2).sum(axis=1) * (ry**2).sum(axis=1))
    num = (rx * ry).sum(axis=1)
    out = np.zeros(len(x))
    ok = den > 0
    out[ok] = num[ok] / den[ok]
    return out


def _interval(rho: np.ndarray) -> tuple[float, float, float]:
    mean = float(np.mean(rho))
    if len(rho) < 2:
        return mean, np.nan, np.nan
    half = float(stats.t.ppf(0.975, len(rho) - 1) * np.std(rho, ddof=1) / np.sqrt(len(rho)))
    return mean, mean - half, mean + half


def cascading_randomization(
    model: nn.Module,
    inputs: np.ndarray,
    target: np.ndarray,
    methods: Mapping[str, MapMethod],
    stages: Sequence[Stage],
    seed: int = 0,
    absolute: bool = False,
) -> pd.DataFrame:
    """Spearman's rho of each method's map on the cumulatively randomised model vs the trained one.

    Parameters
    ----------
    model
        The trained model; not modified (a deep copy is randomised), put in eval mode.
    inputs
        (sample, group, channel, frame, joint, person).
    target
        Class explained per sample (sample,), kept fixed across stages.
    methods
        Name -> ``method(model, inputs, target) -> map``.
    stages
        From :func:`cascading_stages`, the classifier first.
    seed
        Randomisation seed (stage i uses ``[seed, i]``).
    absolute
        Compare ranks of ``|map|``.

    Returns
    -------
    pandas.DataFrame
        :data:`SANITY_COLUMNS`; ``stage_index`` 0 is the trained model (rho 1), stage i the
        model with stages 1..i randomised; rho is the mean over samples with a 95 % t-interval.
    """
    model.eval()
    trained = {name: np.asarray(m(model, inputs, target)) for name, m in methods.items()}
    rows = [
        {
            "method": name,
            "stage_index": 0,
            "stage": TRAINED,
            "rho": 1.0,
            "ci_low": 1.0,
            "ci_high": 1.0,
            "n": len(inputs),
        }
        for name in methods
    ]
    random_model = copy.deepcopy(model).eval()
    for i, stage in enumerate(stages, start=1):
        randomize_parameters(
            random_model, stage.parameters, int(np.random.SeedSequence([seed, i]).generate_state(1)[0])
        )
        for name, method in methods.items():
            rho = spearman_rows(trained[name], method(random_model, inputs, target), absolute)
            mean, lo, hi = _interval(rho)
            rows.append(
                {
                    "method": name,
                    "stage_index": i,
                    "stage": stage.name,
                    "rho": mean,
                    "ci_low": lo,
                    "ci_high": hi,
                    "n": len(rho),
                }
            )
        log.info("sanity stage %d/%d (%s) done", i, len(stages), stage.name)
    return pd.DataFrame(rows, columns=list(SANITY_COLUMNS))


def sanity_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Per method: rho at the last stage (whole network random) with its interval and ``fails`` (rho > 0.5)."""
    last = table[table["stage_index"] == table["stage_index"].max()]
    out = last[["method", "rho", "ci_low", "ci_high", "n"]].reset_index(drop=True)
    return out.assign(fails=out["rho"] > FAIL_RHO)
