"""What the fast SHAP engine's passes hand to a rule: one intercepted call, and one record."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from torch import Tensor, nn
from torch.utils._pytree import tree_flatten, tree_unflatten

from .functions import bind_arguments, signature_of


@dataclass
class Record:
    """Reference-side operands of one operation of the reference pass.

    ``refs`` are the reference values a rule needs (usually clones of the call's live
    operands), ``extra`` anything else it computed on the reference side, ``shape`` a shape
    it needs later, ``where`` the module the operation ran in (for error messages).
    """

    name: str
    refs: tuple[Tensor, ...]
    extra: dict[str, Tensor] = field(default_factory=dict)
    shape: tuple[int, ...] = ()
    where: str = ""


def is_live(v: Any) -> bool:
    """Whether ``v`` is an input-dependent tensor (parameters are frozen, inputs require grad)."""
    return isinstance(v, Tensor) and v.requires_grad


def any_live(args: Any, kwargs: dict[str, Any]) -> bool:
    """Whether any tensor in the (nested) arguments requires grad."""
    for v in (*args, *kwargs.values()):
        if isinstance(v, Tensor):
            if v.requires_grad:
                return True
        elif isinstance(v, (list, tuple, dict)) and v:
            items = v.values() if isinstance(v, dict) else v
            if any_live(tuple(items), {}):
                return True
    return False


class Call:
    """One intercepted call with its flattened arguments and the positions of live tensors."""

    def __init__(
        self, func: Callable[..., Any], name: str, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> None:
        self.func, self.name, self.args, self.kwargs = func, name, args, kwargs
        self.leaves, self.spec = tree_flatten((args, kwargs))
        self.live = [i for i, v in enumerate(self.leaves) if is_live(v)]

    def run(self) -> Any:
        """The plain operation."""
        return self.func(*self.args, **self.kwargs)

    def tensor(self, k: int) -> Tensor:
        """The k-th live tensor (in argument order)."""
        t = self.leaves[self.live[k]]
        assert isinstance(t, Tensor)
        return t

    def live_tensors(self) -> list[Tensor]:
        """Every live tensor, in argument order."""
        return [self.tensor(k) for k in range(len(self.live))]

    def params(self, names: Sequence[str]) -> dict[str, Any]:
        """Bound arguments (see :func:`~harxai.explain.deeplift.functions.bind_arguments`)."""
        return bind_arguments(self.func, self.args, self.kwargs, names)

    def substituted(self) -> Callable[..., Any]:
        """The call as a function of its live tensors (in order), never in place."""
        func = self.func
        leaves, spec, positions = list(self.leaves), self.spec, self.live
        sig = signature_of(func)
        if sig is not None and "inplace" in sig.parameters:
            bound = sig.bind(*self.args, **self.kwargs)
            bound.arguments["inplace"] = False
            leaves, spec = tree_flatten((bound.args, bound.kwargs))
            positions = [i for i, v in enumerate(leaves) if is_live(v)]
            if len(positions) != len(self.live):
                raise RuntimeError(f"fast SHAP engine: cannot re-bind the arguments of '{self.name}'")
        for p in positions:
            leaves[p] = None

        def call(*tensors: Tensor) -> Any:
            vals = list(leaves)
            for p, t in zip(positions, tensors, strict=True):
                vals[p] = t
            a, k = tree_unflatten(vals, spec)
            return func(*a, **k)

        return call


class ModuleTracker:
    """Qualified name of the module whose forward is running (for error messages)."""

    def __init__(self, model: nn.Module) -> None:
        self.names = {id(m): name or "<model>" for name, m in model.named_modules()}
        self.stack: list[str] = []

    @contextmanager
    def active(self) -> Iterator[None]:
        def pre(module: nn.Module, _args: Any) -> None:
            self.stack.append(self.names.get(id(module), type(module).__name__))

        def post(_module: nn.Module, _args: Any, _out: Any) -> None:
            if self.stack:
                self.stack.pop()

        h1 = nn.modules.module.register_module_forward_pre_hook(pre)
        h2 = nn.modules.module.register_module_forward_hook(post)
        try:
            yield
        finally:
            h1.remove()
            h2.remove()
            self.stack.clear()

    def where(self) -> str:
        return f"module '{self.stack[-1]}'" if self.stack else "the model's top level"
