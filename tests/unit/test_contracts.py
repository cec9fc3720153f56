"""Data contracts: checked writes and reads, finiteness, the generated document."""

from __future__ import annotations

import ast
from pathlib import Path

import h5py
import numpy as np
import pytest

from harxai.io import HDF5ContractError
from harxai.io.contracts import CONTRACTS, GRADCAM, METRICS, PERTURBATION, main, render_markdown

REPO = Path(__file__).resolve().parents[2]


def _gradcam_arrays(n: int = 3, frames: int = 4, joints: int = 5) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {
        "cam": rng.random((n, frames, joints)),
        "cam_negated": rng.random((n, frames, joints)),
        "target": np.zeros(n, np.int64),
        "label": np.zeros(n, np.int64),
        "sample_index": np.arange(n, dtype=np.int64),
        "recording_id": np.array([f"r{i}" for i in range(n)]),
    }


GRADCAM_ATTRS = {
    "layer": "a.b",
    "variant": "standard",
    "elapsed_s": 1.0,
    "forward_elapsed_s": 0.5,
    "frames": 4,
    "device": "cpu",
    "threads": 1,
    "batch_size": 8,
}


def test_write_sets_dims_and_dtypes_from_the_contract(tmp_path: Path) -> None:
    out = GRADCAM.write(tmp_path / "g.h5", _gradcam_arrays(), config={}, attrs=GRADCAM_ATTRS)
    with h5py.File(out) as fh:
        assert fh["cam"].attrs["dims"] == "sample,frame,joint"
        assert fh["cam"].dtype == np.float32
        assert fh["sample_index"].dtype == np.int64
    content = GRADCAM.read(out)
    assert set(content.arrays) == set(GRADCAM.names())


def test_float32_overflow_is_refused_and_nothing_is_left(tmp_path: Path) -> None:
    arrays = _gradcam_arrays()
    arrays["cam"][1, 2, 3] = 1e39  # finite in float64, inf in float32
    with pytest.raises(HDF5ContractError, match=r"g\.h5.*'cam'.*\(1, 2, 3\)"):
        GRADCAM.write(tmp_path / "g.h5", arrays, config={}, attrs=GRADCAM_ATTRS)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_values_are_refused_on_write(tmp_path: Path, bad: float) -> None:
    arrays = _gradcam_arrays()
    arrays["cam_negated"][0, 0, 0] = bad
    with pytest.raises(HDF5ContractError, match="'cam_negated'"):
        GRADCAM.write(tmp_path / "g.h5", arrays, config={}, attrs=GRADCAM_ATTRS)


def test_corrupted_file_stops_the_reader_naming_file_and_dataset(tmp_path: Path) -> None:
    out = GRADCAM.write(tmp_path / "g.h5", _gradcam_arrays(), config={}, attrs=GRADCAM_ATTRS)
    with h5py.File(out, "r+") as fh:
        fh["cam"][0, 1, 2] = np.nan
    with pytest.raises(HDF5ContractError, match=r"g\.h5: dataset 'cam' holds 1 NaN"):
        GRADCAM.read(out)
    # a reader that does not use the corrupted dataset still works
    assert GRADCAM.read(out, load=["cam_negated"])["cam_negated"].shape == (3, 4, 5)


def test_nan_passes_only_where_the_contract_allows_it(tmp_path: Path) -> None:
    spec = PERTURBATION.spec("metric")
    assert spec.nan_allowed
    assert not PERTURBATION.spec("probability").nan_allowed
    history = METRICS.spec("history/val_score")
    assert history.nan_allowed
    arrays = {
        "val_logits": np.zeros((2, 2)),
        "val_label": np.zeros(2, np.int64),
        "val_recording_id": np.array(["a", "b"]),
        "val_index": np.arange(2),
        "history/val_score": np.array([np.nan, 0.5]),
    }
    attrs = {"metrics": {}, "task": "binary", "class_names": ["a", "b"]}
    out = METRICS.write(tmp_path / "m.h5", arrays, config={}, attrs=attrs)
    assert np.isnan(METRICS.read(out)["history/val_score"][0])
    arrays["history/val_score"] = np.array([np.inf, 0.5])  # inf never passes
    with pytest.raises(HDF5ContractError, match="inf"):
        METRICS.write(tmp_path / "m2.h5", arrays, config={}, attrs=attrs)


def test_undeclared_or_missing_datasets_and_attributes_are_refused(tmp_path: Path) -> None:
    arrays = _gradcam_arrays()
    with pytest.raises(HDF5ContractError, match="not in the gradcam contract"):
        GRADCAM.write(tmp_path / "g.h5", {**arrays, "extra": np.zeros(3)}, config={}, attrs=GRADCAM_ATTRS)
    del arrays["cam_negated"]
    with pytest.raises(HDF5ContractError, match="cam_negated"):
        GRADCAM.write(tmp_path / "g.h5", arrays, config={}, attrs=GRADCAM_ATTRS)
    attrs = {k: v for k, v in GRADCAM_ATTRS.items() if k != "layer"}
    with pytest.raises(HDF5ContractError, match="layer"):
        GRADCAM.write(tmp_path / "g.h5", _gradcam_arrays(), config={}, attrs=attrs)
    assert list(tmp_path.iterdir()) == []


def test_wrong_dims_are_refused_on_read(tmp_path: Path) -> None:
    out = GRADCAM.write(tmp_path / "g.h5", _gradcam_arrays(), config={}, attrs=GRADCAM_ATTRS)
    with h5py.File(out, "r+") as fh:
        fh["cam"].attrs["dims"] = "sample,joint,frame"
    with pytest.raises(HDF5ContractError, match="'cam' has dims"):
        GRADCAM.read(out, load=["sample_index"])


def test_every_contract_uses_the_dimension_vocabulary() -> None:
    from harxai.io.hdf5 import DIM_NAMES

    for contract in CONTRACTS:
        for spec in contract.datasets:
            assert set(spec.dims) <= DIM_NAMES, (contract.name, spec.name)
            assert spec.dtype in {"float32", "float64", "int64", "int8", "str"}


def test_committed_document_equals_the_generated_one() -> None:
    committed = (REPO / "docs" / "data-contracts.md").read_text(encoding="utf-8")
    assert committed == render_markdown(), "run: python -m harxai.io.contracts docs/data-contracts.md"


def _dims_tuples(path: Path) -> list[int]:
    """Lines of tuples of string constants of two or more dimension names."""
    from harxai.io.hdf5 import DIM_NAMES

    lines = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Tuple) and len(node.elts) >= 2:
            names = [e.value for e in node.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)]
            if len(names) == len(node.elts) and set(names) <= DIM_NAMES and "sample" in names:
                lines.append(node.lineno)
    return lines


def test_no_dims_tuple_is_spelled_outside_the_contracts() -> None:
    found = {
        str(p.relative_to(REPO)): _dims_tuples(p)
        for p in sorted((REPO / "src" / "harxai").rglob("*.py"))
        if p.name != "contracts.py"
    }
    assert {k: v for k, v in found.items() if v} == {}


def test_contracts_doc_command_writes_the_named_file_and_takes_no_option_as_a_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["--help"]) == 0
    assert main(["-x"]) == 2
    assert "usage" in capsys.readouterr().out
    assert list(tmp_path.iterdir()) == []
    assert main(["out/contracts.md"]) == 0
    assert (tmp_path / "out" / "contracts.md").read_text(encoding="utf-8") == render_markdown()
