"""The fast SHAP engine against hand computations, its errors, batching and API contract."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from harxai.explain import ShapResult, UnsupportedOperationError, shap_values
from harxai.explain.deeplift import auto_batch_size, classify, deeplift_shap, engine
from harxai.explain.deeplift.dedup import _pointwise_conv_vjp, dedup_plan
from harxai.explain.deeplift.engine import MAX_AUTO_BATCH, PASS_BYTES
from harxai.explain.deeplift.functions import TINY_DELTA, rescale_multiplier
from harxai.explain.deeplift.names import op_name


class _Lambda(nn.Module):
    def __init__(self, fn, width: int = 4) -> None:  # type: ignore[no-untyped-def]
        super().__init__()
        self.fn = fn
        self.lin = nn.Linear(width, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fn(self.lin(x))


def test_one_hidden_relu_unit_matches_the_hand_computed_rescale_rule() -> None:
    w1, b1, w2, b2 = np.array([0.7, -1.2, 0.4]), 0.1, 1.5, -0.3
    model = nn.Sequential(nn.Linear(3, 1), nn.ReLU(), nn.Linear(1, 1))
    with torch.no_grad():
        model[0].weight.copy_(torch.tensor(w1[None], dtype=torch.float32))
        model[0].bias.fill_(b1)
        model[2].weight.fill_(w2)
        model[2].bias.fill_(b2)
    x = np.array([[1.0, -0.5, 2.0], [-1.0, 0.3, 0.2]])
    bg = np.array([[0.2, 0.1, -0.4], [-2.0, 1.0, 0.0], [0.5, 0.5, 0.5]])
    expected = np.zeros_like(x)
    for i in range(len(x)):
        for b in bg:
            h, hr = w1 @ x[i] + b1, w1 @ b + b1
            m = (max(h, 0) - max(hr, 0)) / (h - hr)
            expected[i] += w2 * m * w1 * (x[i] - b)
    expected /= len(bg)
    result = shap_values(
        model, torch.tensor(x, dtype=torch.float32), torch.tensor(bg, dtype=torch.float32), 0
    )
    np.testing.assert_allclose(result.values[0], expected, rtol=1e-5, atol=1e-6)
    out = np.maximum(x @ w1 + b1, 0) * w2 + b2
    np.testing.assert_allclose(result.output, out, rtol=1e-5)
    np.testing.assert_allclose(
        result.expected_value, np.mean(np.maximum(bg @ w1 + b1, 0) * w2 + b2), rtol=1e-5
    )


class _Product(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x[:, 0] * x[:, 1]).unsqueeze(1)


def test_product_of_two_inputs_gets_the_exact_shapley_values() -> None:
    x = torch.tensor([[2.0, 3.0], [-1.0, 0.5]])
    b = torch.tensor([[0.5, -1.0], [1.0, 1.0]])
    result = shap_values(_Product(), x, b, np.zeros(2, dtype=np.int64))
    xn, bn = x.numpy()[:, None, :], b.numpy()[None, :, :]
    phi0 = ((xn[..., 0] - bn[..., 0]) * (xn[..., 1] + bn[..., 1]) / 2).mean(1)
    phi1 = ((xn[..., 1] - bn[..., 1]) * (xn[..., 0] + bn[..., 0]) / 2).mean(1)
    np.testing.assert_allclose(result.values[0], np.stack([phi0, phi1], 1), rtol=1e-6)


def test_result_contract_and_expected_value() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv1d(2, 3, 3), nn.ReLU(), nn.Flatten(), nn.Linear(12, 5))
    x, b = torch.randn(4, 2, 6), torch.randn(9, 2, 6)
    target = torch.tensor([4, 0, 2, 2])
    result = shap_values(model, [x], [b], target)
    assert isinstance(result, ShapResult)
    assert result.backend == "fast"
    assert result.elapsed_s >= 0
    assert result.values[0].dtype == np.float32
    assert result.values[0].shape == (4, 2, 6)
    with torch.no_grad():
        logits_b, logits_x = model(b), model(x)
    np.testing.assert_allclose(
        result.expected_value, logits_b[:, target].mean(0).numpy(), rtol=1e-5, atol=1e-6
    )
    np.testing.assert_allclose(result.output, logits_x[torch.arange(4), target].numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(result.target, target.numpy())
    assert result.completeness_error <= 1e-4


class _RowCounter(nn.Module):
    """Records the number of rows of every forward call."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner
        self.rows: list[int] = []

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        self.rows.append(a.shape[0])
        return self.inner(torch.cat([a, b], dim=1))


def test_batch_size_bounds_rows_and_changes_nothing() -> None:
    torch.manual_seed(1)
    inner = nn.Sequential(nn.Linear(5, 6), nn.Tanh(), nn.Linear(6, 6), nn.ReLU(), nn.Linear(6, 3))
    model = _RowCounter(inner)
    xs = [torch.randn(7, 2), torch.randn(7, 3)]
    bs = [torch.randn(11, 2), torch.randn(11, 3)]
    target = np.array([0, 1, 2, 0, 1, 2, 0])
    results = {}
    for batch in (1, 5, 23, 1000):
        model.rows.clear()
        results[batch] = shap_values(model, xs, bs, target, batch_size=batch)
        assert max(model.rows) <= batch
        assert results[batch].completeness_error <= 1e-4
    big = results[1000]
    assert max(model.rows) == 7 * 11  # one pass holds every pair when allowed
    for batch in (1, 5, 23):
        for v, w in zip(results[batch].values, big.values, strict=True):
            np.testing.assert_allclose(v, w, rtol=0, atol=1e-6)


class _ConvGraph(nn.Module):
    """Convolution, einsum with a Parameter and batch norm: the engine's distinct-row paths."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, (3, 1), padding=(1, 0))
        self.edge = nn.Parameter(torch.rand(5, 5))
        self.bn = nn.BatchNorm2d(4)
        self.fc = nn.Linear(4, 3)
        with torch.no_grad():
            self.bn.running_mean.uniform_(-0.5, 0.5)
            self.bn.running_var.uniform_(0.5, 2.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.einsum("nctv,vw->nctw", self.conv(x), self.edge)
        return self.fc(torch.relu(self.bn(h)).mean((2, 3)))


def test_distinct_row_forward_equals_the_full_paired_forward() -> None:
    torch.manual_seed(2)
    model = _ConvGraph()
    x, b = torch.randn(5, 3, 6, 5), torch.randn(4, 3, 6, 5)
    target = np.array([0, 1, 2, 1, 0])
    full = shap_values(model, x, b, target, batch_size=1)  # one pair per pass: every row computed
    dedup = shap_values(model, x, b, target, batch_size=20)  # five samples per pass: distinct rows
    np.testing.assert_allclose(dedup.values[0], full.values[0], rtol=0, atol=1e-6)
    assert dedup.completeness_error <= 1e-4


def _sort_values(h: torch.Tensor) -> torch.Tensor:
    return torch.sort(h, dim=1).values


def _cumprod(h: torch.Tensor) -> torch.Tensor:
    return torch.cumprod(h, dim=1)


def _fft(h: torch.Tensor) -> torch.Tensor:
    return torch.fft.fft(h).real


def _inplace_relu(h: torch.Tensor) -> torch.Tensor:
    return h.relu_()


def _comparison(h: torch.Tensor) -> torch.Tensor:
    return torch.where(h > 0, h, torch.zeros_like(h))


def _detach(h: torch.Tensor) -> torch.Tensor:
    return h * h.detach()


def _no_grad(h: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        g = torch.sigmoid(h)
    return h * g


@pytest.mark.parametrize(
    ("fn", "name"),
    [
        (_sort_values, "sort"),
        (_cumprod, "cumprod"),
        (_fft, "fft_fft"),
        (_inplace_relu, "relu_"),
        (_comparison, "gt"),
        (_detach, "detach"),
        (_no_grad, "sigmoid"),
    ],
)
def test_operation_without_rule_raises_naming_it(fn, name: str) -> None:  # type: ignore[no-untyped-def]
    model = nn.Sequential(nn.Linear(4, 4), _Lambda(fn), nn.Linear(4, 2))
    with pytest.raises(UnsupportedOperationError, match=rf"operation '{name}'.*module '1'"):
        shap_values(model, torch.randn(2, 4), torch.randn(3, 4), [0, 1])


def test_training_mode_batch_statistics_and_dropout_are_refused() -> None:
    class Functional(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return F.dropout(x, 0.5)  # training=True by default

    with pytest.raises(UnsupportedOperationError, match="dropout"):
        shap_values(Functional(), torch.randn(2, 3), torch.randn(2, 3), [0, 1])


def test_model_state_is_restored() -> None:
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 2))
    model.train()
    model[3].weight.requires_grad_(False)
    shap_values(model, torch.randn(2, 3), torch.randn(4, 3), [0, 1])
    assert all(m.training for m in model.modules())
    assert [p.requires_grad for p in model.parameters()] == [True, True, True, True, False, True]


def test_bad_arguments_are_reported() -> None:
    model = nn.Linear(3, 2)
    x, b = torch.randn(2, 3), torch.randn(4, 3)
    with pytest.raises(ValueError, match="target out of range"):
        shap_values(model, x, b, [0, 2])
    with pytest.raises(ValueError, match=r"shaped \(2,\)"):
        shap_values(model, x, b, [0, 1, 1])
    with pytest.raises(ValueError, match="backend"):
        shap_values(model, x, b, [0, 1], backend="gradient")
    with pytest.raises(ValueError, match="background 0"):
        shap_values(model, x, torch.randn(4, 5), [0, 1])


def test_operation_names_and_families() -> None:
    assert op_name(torch.Tensor.__rmul__) == "mul"
    assert classify("mul") == "multilinear"
    assert op_name(torch.Tensor.shape.__get__) == "shape"
    assert classify("shape") == "passive"
    assert classify(op_name(F.silu)) == "rescale"
    assert classify("add_") == "linear"
    assert classify("sigmoid_") == "inplace"
    assert classify("cumprod") == "unsupported"


class _Tf32Probe(nn.Module):
    """Linear model that records the TF32 flags seen during its forward passes."""

    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(3, 2)
        self.seen: set[tuple[bool, bool]] = set()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.seen.add((torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32))
        return self.lin(x)


@pytest.mark.parametrize("backend", ["fast", "deepexplainer"])
def test_attribution_runs_without_tf32_and_restores_the_flags(backend: str) -> None:
    saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = True
    try:
        model = _Tf32Probe()
        shap_values(model, torch.randn(2, 3), torch.randn(4, 3), [0, 1], backend=backend)
        assert model.seen == {(False, False)}
        assert (torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32) == (True, True)
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved


class _MinOf(nn.Module):
    """Linear map followed by a min over features, written with min (``negated``: as -max(-x))."""

    def __init__(self, negated: bool) -> None:
        super().__init__()
        torch.manual_seed(3)
        self.lin, self.negated = nn.Linear(4, 6), negated

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.lin(x).view(-1, 2, 3)
        return -(-h).amax(dim=2) if self.negated else torch.min(h, dim=2).values


def test_min_reduction_equals_negated_max_and_is_complete() -> None:
    x, b = torch.randn(5, 4), torch.randn(7, 4)
    direct = shap_values(_MinOf(False), x, b, [0, 1, 0, 1, 1])
    negated = shap_values(_MinOf(True), x, b, [0, 1, 0, 1, 1])
    np.testing.assert_allclose(direct.values[0], negated.values[0], rtol=1e-5, atol=1e-6)
    assert direct.completeness_error < 1e-5


@pytest.mark.parametrize(
    ("conv", "shape", "stride"),
    [
        (F.conv1d, (3, 4, 9), (1,)),
        (F.conv1d, (3, 4, 9), (2,)),
        (F.conv2d, (3, 4, 7, 5), (1, 1)),
        (F.conv2d, (3, 4, 7, 5), (2, 1)),
        (F.conv2d, (3, 4, 8, 6), (3, 2)),
        (F.conv3d, (2, 4, 5, 4, 3), (2, 1, 2)),
    ],
)
def test_pointwise_convolution_vjp_equals_convolution_backward(conv, shape, stride) -> None:  # type: ignore[no-untyped-def]
    torch.manual_seed(4)
    k = len(shape) - 2
    weight = torch.randn(6, shape[1], *([1] * k))
    x = torch.randn(shape, requires_grad=True)
    y = conv(x, weight, None, stride)
    g = torch.randn_like(y)
    (expected,) = torch.autograd.grad(y, x, g)
    got = _pointwise_conv_vjp(weight, list(stride))(g, torch.empty(shape))
    assert got.shape == x.shape
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-6)


class _StridedPointwise(nn.Module):
    """A strided 1x1 convolution (the residual shortcut of a temporal block) between ReLUs."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 5, (3, 1), padding=(1, 0))
        self.short = nn.Conv2d(5, 4, 1, stride=(2, 1))
        self.act1, self.act2 = nn.ReLU(), nn.ReLU()  # modules: shap's rules see them
        self.fc = nn.Linear(4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.act2(self.short(self.act1(self.conv(x)))).mean((2, 3)))


def test_strided_pointwise_convolution_in_the_paired_pass_matches_deepexplainer() -> None:
    torch.manual_seed(5)
    model = _StridedPointwise().eval()
    x, b = torch.randn(4, 3, 7, 5), torch.randn(6, 3, 7, 5)
    target = np.array([0, 1, 2, 1])
    fast = shap_values(model, x, b, target, batch_size=12)  # two samples per pass: distinct rows
    ref = shap_values(model, x, b, target, backend="deepexplainer")
    scale = np.abs(ref.values[0]).max()
    assert np.abs(fast.values[0] - ref.values[0]).max() <= 1e-4 * scale
    assert fast.completeness_error <= 1e-5


def _derivative(f, r: torch.Tensor) -> torch.Tensor:  # type: ignore[no-untyped-def]
    rg = r.clone().requires_grad_(True)
    (dfr,) = torch.autograd.grad(f(rg).sum(), rg)
    return dfr


@pytest.mark.parametrize("finite", [True, False])
@pytest.mark.parametrize("f", [torch.relu, torch.sigmoid, torch.sqrt])
def test_rescale_multiplier_equals_the_explicit_selection(f, finite: bool) -> None:  # type: ignore[no-untyped-def]
    """(f(x) - f(r)) / (x - r), or f'(r) where |x - r| < TINY_DELTA or not finite, bit for bit.

    ``finite``: ties and tiny differences only (the float-mask selection); otherwise also
    infinite references and an infinite f'(r) (the torch.where fallback).
    """
    torch.manual_seed(6)
    samples, background = 3, 4
    x = torch.rand(samples, 1, 50) * 2 - 0.5
    r = torch.rand(1, background, 50) * 2 - 0.5
    if f is torch.sqrt:
        x, r = x.abs(), r.abs()
    r[0, 0, :10] = x[0, 0, :10]  # exact ties
    r[0, 1, 10:20] = x[1, 0, 10:20] + 3e-7  # differences below TINY_DELTA
    if not finite:
        r[0, 2, 20:25] = float("inf")  # f(inf) - f(inf) is NaN
        r[0, 3, 30] = x[2, 0, 30] = 0.0  # a tie at 0, where sqrt' is infinite
    xp = x.expand(samples, background, 50).reshape(samples * background, 50)
    yp, fr = f(xp), f(r[0])
    dfr = _derivative(f, r[0])
    assert bool(dfr.isfinite().all()) or not finite
    got = rescale_multiplier(xp, yp, r[0], fr, lambda: dfr, samples, "t")
    dx = xp.view(samples, background, 50) - r
    dy = yp.view(samples, background, 50) - fr
    expected = torch.where(dx.abs() >= TINY_DELTA, dy / dx, dfr).reshape(samples * background, 50)
    # relu and sqrt of inf give inf - inf = NaN differences; sigmoid saturates to 1
    assert bool(expected.isfinite().all()) == (finite or f is torch.sigmoid)
    torch.testing.assert_close(got, expected, rtol=0, atol=0, equal_nan=True)


class _BatchDependent(nn.Module):
    """Control flow on the batch size: the reference and paired passes differ."""

    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(3, 3)
        self.out = nn.Linear(3, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.lin(x)
        return self.out(torch.relu(h) if x.shape[0] < 5 else torch.sigmoid(h))


def test_control_flow_on_the_batch_is_reported_with_the_module_of_the_record() -> None:
    with pytest.raises(
        RuntimeError, match=r"paired pass called 'sigmoid' after .*where the reference pass called relu"
    ):
        shap_values(_BatchDependent(), torch.randn(3, 3), torch.randn(4, 3), [0, 1, 0])


class _Stats(nn.Module):
    """std and a 2-norm over features, either as torch calls or written out in elementary steps."""

    def __init__(self, written_out: bool) -> None:
        super().__init__()
        torch.manual_seed(7)
        self.lin, self.head, self.written_out = nn.Linear(4, 6), nn.Linear(2, 2), written_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.lin(x)
        if self.written_out:
            std = ((h - h.mean(1, keepdim=True)).square().sum(1) / 5.0).sqrt()
            norm = h.square().sum(1).sqrt()
        else:
            std, norm = h.std(1), torch.linalg.vector_norm(h, dim=1)
        return self.head(torch.stack([std, norm], 1))


def test_std_and_norm_equal_their_decomposition_into_elementary_rules() -> None:
    x, b = torch.randn(5, 4), torch.randn(6, 4)
    target = np.array([0, 1, 1, 0, 1])
    direct = shap_values(_Stats(False), x, b, target)
    written = shap_values(_Stats(True), x, b, target)
    np.testing.assert_allclose(direct.values[0], written.values[0], rtol=1e-5, atol=1e-6)
    assert direct.completeness_error <= 1e-5


def _var_all(h: torch.Tensor) -> torch.Tensor:
    return h * h.var()


def _var_over_samples(h: torch.Tensor) -> torch.Tensor:
    return h * h.var(0, keepdim=True)


def _nuclear_norm(h: torch.Tensor) -> torch.Tensor:
    return h * torch.norm(h.view(-1, 2, 2), p="nuc", dim=(1, 2)).unsqueeze(1)


def _no_freedom(h: torch.Tensor) -> torch.Tensor:
    return h * h.var(1, keepdim=True, correction=4)


def _negative_order(h: torch.Tensor) -> torch.Tensor:
    return h * torch.linalg.vector_norm(h, -1.0, dim=1, keepdim=True)


@pytest.mark.parametrize(
    ("fn", "name", "why"),
    [
        (_var_all, "var", "every dimension"),
        (_var_over_samples, "var", "the sample dimension"),
        pytest.param(  # torch itself only warns (and returns inf) in the plain forward pass
            _no_freedom,
            "var",
            "no degrees of freedom",
            marks=pytest.mark.filterwarnings("ignore:var\\(\\). degrees of freedom:UserWarning"),
        ),
        (_nuclear_norm, "norm", "order 'nuc'"),
        (_negative_order, "linalg_vector_norm", "order -1.0"),
    ],
)
def test_unsupported_moments_are_refused_naming_the_reason(fn, name: str, why: str) -> None:  # type: ignore[no-untyped-def]
    model = nn.Sequential(nn.Linear(4, 4), _Lambda(fn), nn.Linear(4, 2))
    with pytest.raises(UnsupportedOperationError, match=rf"operation '{name}'.*module '1'.*{why}"):
        shap_values(model, torch.randn(3, 4), torch.randn(4, 4), [0, 1, 0])


@pytest.mark.parametrize(
    ("eq", "x_shape", "w_shape"),
    [
        ("nkctv,kvw->nctw", (4, 3, 2, 5, 6), (3, 6, 6)),  # the graph convolution's partitions
        ("nctv,vw->nctw", (4, 2, 5, 6), (6, 6)),
        ("nkc,kcd->nd", (4, 3, 2), (3, 2, 5)),  # two letters summed with the weight
    ],
)
def test_einsum_vjp_equals_autograd(eq: str, x_shape: tuple[int, ...], w_shape: tuple[int, ...]) -> None:
    torch.manual_seed(8)
    x, w = torch.randn(x_shape, requires_grad=True), torch.randn(w_shape)
    y = torch.einsum(eq, x, w)
    g = torch.randn_like(y)
    (expected,) = torch.autograd.grad(y, x, g)
    plan = dedup_plan("einsum", torch.einsum, (eq, x, w), {}, x)
    assert plan is not None
    got = plan.vjp(g, torch.empty(x_shape))
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-6)


class _Wide(nn.Module):
    """(sample, 8) -> a (sample, width) hidden tensor (the input repeated) -> 3 logits."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.repeats = width // 8
        self.down = nn.Linear(8, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(x.repeat(1, self.repeats) - 0.1)
        return self.down(h.view(x.shape[0], self.repeats, 8).mean(1))


def test_auto_batch_size_follows_the_largest_tensor_per_row(monkeypatch: pytest.MonkeyPatch) -> None:
    background = torch.randn(5, 8)
    # largest tensor per row: width float32 values
    assert auto_batch_size(_Wide(16), background.split(5)) == MAX_AUTO_BATCH
    wide = _Wide(1 << 20)  # 4 MiB per row
    assert auto_batch_size(wide, [background]) == PASS_BYTES // (4 << 20)
    assert auto_batch_size(_Wide(1 << 24), [background]) == 2  # never fewer than 2 pairs
    assert auto_batch_size(wide, [background[:0]]) == engine.DEFAULT_BATCH_SIZE  # nothing to measure
    # the chosen size is the one the engine uses by default, and only the pass layout changes
    seen: list[int] = []
    original = engine.pass_layout
    monkeypatch.setattr(engine, "pass_layout", lambda n, nb, b: seen.append(b) or original(n, nb, b))
    x, target = torch.randn(4, 8), torch.tensor([0, 1, 2, 0])
    auto = deeplift_shap(wide, [x], [background], target)
    assert seen == [PASS_BYTES // (4 << 20)]
    fixed = deeplift_shap(wide, [x], [background], target, batch_size=64)
    torch.testing.assert_close(auto[0], fixed[0], rtol=1e-5, atol=1e-6)
