"""Perturbation of the edge-importance matrices: arithmetic, restoration, hand-made models, jobs."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score
from test_evaluate_fixtures import OneJointModel, V, make_inputs, one_joint_data, tiny_checkpoint

from harxai.evaluate import jobs as evaluate_jobs
from harxai.evaluate.curves import read_curves
from harxai.evaluate.perturbation import (
    ZERO_OUT_VALUE,
    EdgePerturbation,
    EvaluationSet,
    PerturbationSpec,
    perturb_edge_importance,
    perturbed_probabilities,
    random_curves,
    random_keypoints,
    selection_curve,
    top_keypoints,
)
from harxai.evaluate.scoring import Panel, recording_auc, score_panels, scoring_panels
from harxai.io import read_hdf5

CPU = torch.device("cpu")


def _edge(seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    e = torch.rand(3, 5, 5, generator=g) + 0.2
    e[0, 1, 1] = -0.4  # a negative self-loop moves further below zero
    return e


def test_self_loop_moves_diagonal_away_from_zero_by_range_fraction() -> None:
    e = _edge()
    out = perturb_edge_importance(e, [1, 3], PerturbationSpec("self_loop", thresh=0.35))
    delta = 0.35 * (float(e[0].max()) - float(e[0].min()))
    expected = e.clone()
    expected[0, 1, 1] = e[0, 1, 1] - delta
    expected[0, 3, 3] = e[0, 3, 3] + delta
    torch.testing.assert_close(out, expected)
    assert torch.equal(e, _edge()), "the input matrix must not change"


def test_zero_out_sets_self_loops_only() -> None:
    e = _edge()
    out = perturb_edge_importance(e, [2], PerturbationSpec("self_loop", zero_out=True))
    assert out[0, 2, 2] == pytest.approx(ZERO_OUT_VALUE)
    changed = (out != e).nonzero().tolist()
    assert changed == [[0, 2, 2]]


def test_isolate_zeroes_rows_and_columns_of_every_partition() -> None:
    e = _edge()
    out = perturb_edge_importance(e, [0, 4], PerturbationSpec("isolate"))
    for v in (0, 4):
        assert torch.all(out[:, v, :] == 0)
        assert torch.all(out[:, :, v] == 0)
    keep = [1, 2, 3]
    torch.testing.assert_close(out[:, keep][:, :, keep], e[:, keep][:, :, keep])


def test_empty_set_and_bad_mode() -> None:
    e = _edge()
    assert torch.equal(perturb_edge_importance(e, [], PerturbationSpec("isolate")), e)
    with pytest.raises(ValueError, match="mode"):
        PerturbationSpec("remove")


def test_edge_perturbation_restores_parameters_and_removes_hooks() -> None:
    model = OneJointModel(key=2)
    params = {"graph.edge_importance": model.graph.edge_importance}
    before = model.graph.edge_importance.detach().clone()
    inputs, _ = one_joint_data(2, n=4)
    seen = []
    probe = model.graph.register_forward_hook(lambda m, a, o: seen.append(m.edge_importance.detach().clone()))

    def fail_inside() -> None:
        with EdgePerturbation(model, params, PerturbationSpec("isolate")) as p:
            perturbed_probabilities(model, p, inputs, [(2,), (), (1,), (2,)], CPU)
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        fail_inside()
    probe.remove()
    assert torch.equal(seen[0], before)  # E is only swapped inside the recomputation
    assert torch.equal(model.graph.edge_importance, before)
    assert not model.graph._forward_hooks


def _evaluation(key: int) -> EvaluationSet:
    inputs, labels = one_joint_data(key)
    return EvaluationSet(
        inputs,
        labels,
        np.array([f"r{i}" for i in range(len(labels))]),
        scoring_panels("multiclass", ["a", "b"], labels),
        V,
    )


@pytest.mark.parametrize("other", [0, 1, 3, 4, 5])
def test_isolating_the_key_point_drops_to_chance_others_change_nothing(other: int) -> None:
    key = 2
    model = OneJointModel(key)
    params = {"graph.edge_importance": model.graph.edge_importance}
    data = _evaluation(key)
    spec = PerturbationSpec("isolate")
    with EdgePerturbation(model, params, spec) as p:
        base, _ = perturbed_probabilities(model, p, data.inputs, [()] * len(data.label), CPU)
        cut_key, _ = perturbed_probabilities(model, p, data.inputs, [(key,)] * len(data.label), CPU)
        cut_other, _ = perturbed_probabilities(model, p, data.inputs, [(other,)] * len(data.label), CPU)
    accuracy = lambda probs: float(np.mean(probs.argmax(1) == data.label))
    assert accuracy(base) == 1.0
    assert accuracy(cut_key) == 0.5  # chance for two balanced classes
    assert accuracy(cut_other) == 1.0


def test_selection_curve_uses_each_samples_ranking() -> None:
    key = 2
    model = OneJointModel(key)
    params = {"graph.edge_importance": model.graph.edge_importance}
    data = _evaluation(key)
    rng = np.random.default_rng(1)
    first = rng.random((len(data.label), V))
    first[:, key] = 2.0  # every sample ranks the key point first
    last = rng.random((len(data.label), V))
    last[:, key] = -2.0  # ... or last
    spec = PerturbationSpec("isolate")
    most = selection_curve(model, params, data, first, 3, spec, CPU)
    least = selection_curve(model, params, data, last, V, spec, CPU)
    assert most.metric[:, 0].tolist() == [1.0, 0.5, 0.5, 0.5]
    assert least.metric[:-1, 0].tolist() == [1.0] * V
    assert least.metric[-1, 0] == 0.5
    assert most.perturbed.shape == (4, len(data.label), V)
    assert most.perturbed[1, :, key].all()
    assert most.perturbed[1].sum() == len(data.label)


def _reference(
    model: torch.nn.Module, params: dict, inputs: np.ndarray, sets: list, spec: PerturbationSpec
) -> np.ndarray:
    """Each sample alone, with every E overwritten by its perturbed value (independent of the hooks)."""
    originals = {n: p.detach().clone() for n, p in params.items()}
    out = []
    with torch.no_grad():
        for x, joints in zip(inputs, sets, strict=True):
            for n, p in params.items():
                p.copy_(perturb_edge_importance(originals[n], joints, spec))
            logits = model(*torch.from_numpy(x[None]).unbind(1))
            out.append(torch.softmax(logits.double(), dim=1)[0].numpy())
        for n, p in params.items():
            p.copy_(originals[n])
    return np.stack(out)


@pytest.mark.parametrize("spec", [PerturbationSpec("isolate"), PerturbationSpec("self_loop", thresh=2.0)])
def test_per_sample_sets_in_one_batch_match_one_sample_at_a_time(
    tmp_path: Path, spec: PerturbationSpec
) -> None:
    from harxai.models import edge_importance_parameters, load_model

    model = load_model(tiny_checkpoint(tmp_path / "model.pt"))
    params = edge_importance_parameters(model)
    rng = np.random.default_rng(0)
    inputs = rng.normal(size=(7, 4, 2, 12, V, 2)).astype(np.float32)  # two persons per sample
    sets = [(0, 3), (), (5,), (0, 3), (1, 2, 4), (5,), ()]
    with EdgePerturbation(model, params, spec) as p:
        probs, groups = perturbed_probabilities(model, p, inputs, sets, CPU, batch_size=4)
    assert groups == 4
    np.testing.assert_allclose(probs, _reference(model, params, inputs, sets, spec), rtol=1e-5, atol=1e-6)
    assert not np.allclose(probs[0], probs[1])  # the perturbation changes the output


def test_top_keypoints_breaks_ties_by_joint_index() -> None:
    scores = np.array([[0.1, 0.5, 0.5, -1.0], [3.0, 2.0, 1.0, 0.0]])
    assert top_keypoints(scores, 2).tolist() == [[1, 2], [0, 1]]


def test_random_draws_reproduce_by_seed() -> None:
    a = random_keypoints(30, V, 3, seed=7, draw=2)
    b = random_keypoints(30, V, 3, seed=7, draw=2)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, random_keypoints(30, V, 3, seed=8, draw=2))
    assert not np.array_equal(a, random_keypoints(30, V, 3, seed=7, draw=3))
    assert all(len(set(row)) == 3 for row in a.tolist())
    counts = np.bincount(random_keypoints(3000, V, 1, seed=1, draw=0).ravel(), minlength=V)
    assert counts.min() > 400  # roughly uniform over key points (500 expected each)


def test_random_curves_reproduce_and_have_a_draw_axis() -> None:
    model = OneJointModel(2)
    params = {"graph.edge_importance": model.graph.edge_importance}
    data = _evaluation(2)
    spec = PerturbationSpec("isolate")
    a = random_curves(model, params, data, 3, draws=3, seed=5, spec=spec, device=CPU)
    b = random_curves(model, params, data, 3, draws=3, seed=5, spec=spec, device=CPU)
    assert a.metric.shape == (3, 4, len(data.panels))
    np.testing.assert_array_equal(a.metric, b.metric)
    np.testing.assert_array_equal(a.perturbed, b.perturbed)
    # an isolated key point ties the logits (class 0 wins): wrong exactly for class-1 samples hit
    wrong = a.perturbed[:, :, :, 2].astype(bool) & (data.label == 1)[None, None, :]
    np.testing.assert_allclose(a.metric[:, :, 0], 1 - wrong.mean(axis=2))


def test_scoring_panels_and_recording_auc() -> None:
    labels = np.array([0, 0, 1, 1, 1, 0])
    recs = np.array(["a", "a", "b", "b", "c", "d"])
    positive = np.array([0.1, 0.9, 0.6, 0.8, 0.2, 0.3])
    probs = np.stack([1 - positive, positive], axis=1)
    panels = scoring_panels("binary", ["neg", "pos"], labels)
    assert [p.name for p in panels] == ["recordings", "windows", "confidence"]
    medians = {"a": 0.5, "b": 0.7, "c": 0.2, "d": 0.3}
    expected = roc_auc_score([0, 1, 1, 0], [medians[r] for r in "abcd"])
    assert recording_auc(positive, labels, recs) == pytest.approx(expected)
    scores = score_panels(probs, labels, recs, panels)
    assert scores[0] == pytest.approx(expected)
    assert scores[1] == pytest.approx(roc_auc_score(labels, positive))
    true_class = np.where(labels == 1, positive, 1 - positive)
    assert scores[2] == pytest.approx(true_class.mean())
    one_class = score_panels(probs[:2], labels[:2], recs[:2], panels)
    assert np.isnan(one_class[:2]).all()
    assert one_class[2] == pytest.approx(0.5)
    multi = scoring_panels("multiclass", ["x", "y", "z"], np.array([0, 2, 2]))
    assert multi == (
        Panel("all", "accuracy"),
        Panel("x", "accuracy", 0),
        Panel("z", "accuracy", 2),
        Panel("confidence", "true_class_probability"),
    )
    three = np.array([[0.7, 0.2, 0.1], [0.1, 0.5, 0.4], [0.3, 0.3, 0.4]])
    got = score_panels(three, np.array([0, 2, 2]), np.array(["r1", "r2", "r3"]), multi)
    np.testing.assert_allclose(got, [2 / 3, 1.0, 0.5, (0.7 + 0.4 + 0.4) / 3])


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_jobs_leave_the_checkpoint_byte_identical(tmp_path: Path) -> None:
    inputs = make_inputs(tmp_path, per_class=2)
    ckpt = tiny_checkpoint(tmp_path / "model" / "model.pt")
    digest, mtime = _sha(ckpt), ckpt.stat().st_mtime_ns
    out = tmp_path / "model" / "evaluate" / "perturbation"
    common = {"model_path": ckpt, "explain_set_path": inputs.explain_set}
    evaluate_jobs.perturb_edges(
        **common,
        scores_path=inputs.scores,
        output_h5=out / "gradcam:main.1.att_least.h5",
        output_csv=out / "gradcam:main.1.att_least.csv",
        method="gradcam:main.1.att",
        selection="least",
        spec={"mode": "self_loop", "thresh": 0.35, "zero_out": False},
        max_keypoints=2,
        shap_absolute=False,
        device=CPU,
    )
    evaluate_jobs.perturb_random(
        **common,
        features_path=inputs.features,
        output_h5=out / "random.h5",
        output_csv=out / "random.csv",
        spec={"mode": "isolate"},
        max_keypoints=2,
        draws=2,
        seed=3,
        device=CPU,
    )
    assert _sha(ckpt) == digest
    assert ckpt.stat().st_mtime_ns == mtime
    curves = read_curves(out / "gradcam:main.1.att_least.h5")
    assert (curves.method, curves.selection, curves.k.tolist()) == ("gradcam:main.1.att", "least", [0, 1, 2])
    content = read_hdf5(out / "gradcam:main.1.att_least.h5")
    # least for GradCAM = the negated map's ranking, per sample
    negated = read_hdf5(inputs.gradcam["main.1.att"])["cam_negated"].mean(axis=1)
    first = np.argsort(-negated, axis=1, kind="stable")[:, 0]
    assert (content["perturbed"][1].argmax(axis=1) == first).all()
    assert content.json_attr("config")["mode"] == "self_loop"
    random = read_hdf5(out / "random.h5")
    assert random.dims["metric"] == ("draw", "step", "item")
    assert random.attrs["seed"] == 3
    assert (out / "random.csv").read_text().startswith("method,selection,k,panel,metric,value")
