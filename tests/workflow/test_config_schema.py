"""The config schema: every key documented, typos and bad values fail naming the key."""

from __future__ import annotations

import copy
from pathlib import Path

import jsonschema
import pytest
import yaml
from conftest import REPO, run_snakemake, write_config

SCHEMA = yaml.safe_load((REPO / "rules" / "schemas" / "config.schema.yaml").read_text())


def _walk(schema: dict, path: str = ""):
    """Yield (path, subschema) for every property of every object in the schema."""
    for key, sub in schema.get("properties", {}).items():
        yield f"{path}.{key}".lstrip("."), sub
        yield from _walk(sub, f"{path}.{key}")
    add = schema.get("additionalProperties")
    if isinstance(add, dict):
        yield from _walk(add, f"{path}.<name>")


def _resolve(sub: dict) -> dict:
    ref = sub.get("$ref")
    if ref:
        return SCHEMA["$defs"][ref.split("/")[-1]]
    return sub


def test_every_key_has_type_and_description() -> None:
    roots = [("", SCHEMA)] + [(f"$defs.{k}", v) for k, v in SCHEMA["$defs"].items()]
    seen = 0
    for root, schema in roots:
        for path, sub in _walk(schema, root):
            target = _resolve(sub)
            assert "description" in sub or "description" in target, f"{path}: no description"
            assert "type" in target, f"{path}: no type"
            if target.get("type") == "object" and "properties" in target:
                assert target.get("additionalProperties") is False, f"{path}: objects must be closed"
            seen += 1
    assert seen > 60


def test_top_level_sections_have_defaults() -> None:
    for key, sub in SCHEMA["properties"].items():
        if key == "datasets":
            continue
        assert "default" in sub, f"{key}: no default"
        for prop, psub in sub.get("properties", {}).items():
            assert "default" in psub, f"{key}.{prop}: no default"


@pytest.mark.parametrize(
    ("mutate", "needle"),
    [
        (lambda c: c["preprocess"].__setitem__("medain_window", 5), "medain_window"),
        (lambda c: c["shap"].__setitem__("background_size", "many"), "background_size"),
        (lambda c: c["datasets"]["synth_ntu"].__setitem__("kind", "mocap"), "mocap"),
        (lambda c: c.__setitem__("gradcm", {}), "gradcm"),
        (lambda c: c["datasets"]["synth_ntu"].__setitem__("split", "xview2"), "xview2"),
        (lambda c: c["model"].__setitem__("preset", "huge"), "huge"),
    ],
    ids=["typo-nested", "wrong-type", "bad-kind", "typo-top", "bad-split", "bad-preset"],
)
def test_bad_config_fails_naming_the_key(tmp_path: Path, default_config: dict, mutate, needle: str) -> None:
    config = copy.deepcopy(default_config)
    mutate(config)
    cfg = write_config(tmp_path / "bad.yaml", config)
    proc = run_snakemake(tmp_path, "-n", configfile=cfg, check=False)
    assert proc.returncode != 0
    assert needle in proc.stdout + proc.stderr


def test_kind_and_path_alone_are_enough_for_ntu(tmp_path: Path, real_data: Path) -> None:
    config = {"datasets": {"ntu": {"kind": "ntu", "path": str(real_data / "ntu-rgbd")}}}
    cfg = write_config(tmp_path / "ntu.yaml", config)
    proc = run_snakemake(tmp_path, "-n", "results/ntu/features.h5", configfile=cfg)
    assert "ingest_dataset" in proc.stdout


@pytest.mark.parametrize(
    ("value", "valid"), [("auto", True), (32, True), (1, True), (0, False), ("fast", False)]
)
def test_shap_batch_size_is_a_positive_count_or_auto(value: object, valid: bool) -> None:
    sub = SCHEMA["properties"]["shap"]["properties"]["batch_size"]
    errors = list(jsonschema.Draft202012Validator(sub).iter_errors(value))
    assert (not errors) == valid
