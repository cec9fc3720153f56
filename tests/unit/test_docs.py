"""The documentation: generated parts up to date, links that resolve, and the generator itself."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest
import yaml

from harxai import docs

REPO = Path(__file__).resolve().parents[2]

# Docs pages that other branches add; the coordinator empties this set once they are merged.
PENDING_PAGES: set[str] = set()

_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
_FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)


def markdown_files() -> list[Path]:
    """Every Markdown file of the repository (outside results and hidden folders)."""
    return sorted(
        p
        for p in REPO.rglob("*.md")
        if not any(part.startswith(".") or part == "results" for part in p.relative_to(REPO).parts)
    )


def anchors(path: Path) -> set[str]:
    """GitHub anchors of the headings of a Markdown file (duplicates numbered as GitHub does)."""
    seen: dict[str, int] = {}
    out = set()
    for line in _FENCE.sub("", path.read_text(encoding="utf-8")).split("\n"):
        heading = re.match(r"#{1,6}\s+(.*)", line)
        if heading:
            slug = docs.github_anchor(heading.group(1).strip())
            n = seen.get(slug, 0)
            seen[slug] = n + 1
            out.add(slug if n == 0 else f"{slug}-{n}")
    return out


def links(path: Path) -> list[str]:
    return _LINK.findall(_FENCE.sub("", path.read_text(encoding="utf-8")))


# ---------------------------------------------------------------------- the repository's docs


def test_readme_starts_with_the_two_commands() -> None:
    """.ci/run runs the README's second command as written; both open the first code block."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    block = re.search(r"^```bash\n(.*?)^```", text, re.MULTILINE | re.DOTALL)
    assert block is not None
    assert block.group(1).split("\n")[:2] == [
        "pip install -e . && snakemake --cores all",
        'pip install -e ".[test]" && pytest',
    ]
    assert 'pip install -e ".[test]" && pytest' in (REPO / ".ci" / "run").read_text(encoding="utf-8")


def test_readme_is_short() -> None:
    assert len((REPO / "README.md").read_bytes()) <= 10_500


def test_configuration_doc_is_generated_from_the_schema() -> None:
    committed = (REPO / docs.CONFIGURATION_DOC).read_text(encoding="utf-8")
    assert committed == docs.render_configuration(REPO), "run: python -m harxai.docs"


def test_configuration_doc_names_every_schema_key() -> None:
    schema = yaml.safe_load((REPO / docs.SCHEMA_PATH).read_text(encoding="utf-8"))
    text = (REPO / docs.CONFIGURATION_DOC).read_text(encoding="utf-8")
    for block, spec in schema["properties"].items():
        assert f"| `{block}` |" in text
        if spec.get("properties"):
            assert f"## `{block}`" in text
        for key in spec.get("properties", {}):
            assert f"| `{key}` |" in text, f"{block}.{key}"


def test_readme_code_map_is_generated_from_rules_and_scripts() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert readme == docs.update_code_map(readme, REPO), "run: python -m harxai.docs"


def test_code_map_covers_every_rule_with_a_description() -> None:
    entries = docs.code_map(REPO)
    declared = set()
    for path in docs.rule_files(REPO):
        declared |= set(re.findall(r"^rule (\w+):", path.read_text(encoding="utf-8"), re.MULTILINE))
    assert {e.name for e in entries} == declared - {"all"}
    contents = docs.code_map_contents((REPO / "README.md").read_text(encoding="utf-8"))
    assert set(contents) == {e.name for e in entries}
    assert all(c and c != "TODO" for c in contents.values()), contents


def test_every_link_in_the_docs_resolves() -> None:
    missing = []
    for page in markdown_files():
        for target in links(page):
            if re.match(r"[a-z]+:", target):
                continue  # http(s), mailto
            file_part, _, anchor = target.partition("#")
            dest = (page.parent / file_part).resolve() if file_part else page
            rel = dest.relative_to(REPO).as_posix() if dest.is_relative_to(REPO) else str(dest)
            if rel in PENDING_PAGES:
                continue
            if not dest.exists():
                missing.append(f"{page.relative_to(REPO)}: {target} (no such file)")
            elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
                missing.append(f"{page.relative_to(REPO)}: {target} (no such heading)")
    assert not missing, "\n".join(missing)


def test_pending_pages_are_still_pending() -> None:
    """A page in PENDING_PAGES that exists now must leave the set, so its links are checked."""
    arrived = sorted(p for p in PENDING_PAGES if (REPO / p).exists())
    assert not arrived, f"remove from PENDING_PAGES: {arrived}"


def test_readme_links_every_docs_page() -> None:
    linked = {(REPO / t.partition("#")[0]).resolve() for t in links(REPO / "README.md")}
    pages = {p.resolve() for p in (REPO / "docs").glob("*.md")}
    assert pages <= linked, sorted(str(p.relative_to(REPO)) for p in pages - linked)


# ---------------------------------------------------------------------- the generator


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            (
                "from harxai.logs import run_job\nfrom harxai.report import build_report\n"
                "run_job(snakemake.log[0], build_report, output=1)\n"
            ),
            "harxai.report.build_report",
        ),
        (
            (
                "from harxai.devices import select_device\nfrom harxai.explain import jobs\n"
                "from harxai.logs import run_job\n"
                "run_job(snakemake.log[0], jobs.shap_chunk, device=select_device('auto', 0))\n"
            ),
            "harxai.explain.jobs.shap_chunk",
        ),
        (
            "import harxai.features as feats\nfeats.compute_feature_file('a', 'b')\n",
            "harxai.features.compute_feature_file",
        ),
    ],
)
def test_script_function_finds_the_one_package_function(tmp_path: Path, body: str, expected: str) -> None:
    assert docs.script_function(write(tmp_path / "x.py", body)) == expected


@pytest.mark.parametrize(
    "body",
    [
        "from harxai.logs import run_job\nrun_job('log', print)\n",  # not a package function
        "from harxai.report import a, b\na()\nb()\n",  # two hops
        "from harxai.logs import configure_job_logging\nconfigure_job_logging('x')\n",  # none
    ],
)
def test_script_function_rejects_anything_but_one_hop(tmp_path: Path, body: str) -> None:
    with pytest.raises(docs.DocsError, match=r"x\.py"):
        docs.script_function(write(tmp_path / "x.py", body))


def test_defining_name_follows_re_exports() -> None:
    assert docs.defining_name("harxai.synthetic.generate_synthetic") == (
        "harxai.synthetic.generate.generate_synthetic"
    )
    with pytest.raises(docs.DocsError, match="no_such_function"):
        docs.defining_name("harxai.report.no_such_function")


def test_compact_outputs_merges_suffixes_of_one_stem() -> None:
    assert (
        docs.compact_outputs(
            ["results/a/p.csv", "results/a/s.csv", "results/a/s.md", "results/a/p.png", "results/d/"]
        )
        == "`a/p.{csv,png}`, `a/s.{csv,md}`, `d/`"
    )


def test_code_map_reads_includes_wrappers_and_scripts(tmp_path: Path) -> None:
    write(
        tmp_path / "Snakefile",
        'include: "rules/b.smk"\ninclude: "rules/a.smk"\n\nrule all:\n    input:\n        "x",\n',
    )
    write(
        tmp_path / "rules" / "a.smk",
        """
        rule first_a:
            input:
                get_input,
            output:
                csv=report(
                    "results/{d}/t.csv",
                    caption="report/t.rst",
                ),
                md="results/{d}/t.md",
            params:
                value=config["x"],
            script:
                "../workflow_scripts/first_a.py"
        """,
    )
    write(
        tmp_path / "rules" / "b.smk",
        """
        include: "c.smk"


        rule in_b:
            output:
                temp("results/{d}/chunk_{c}.h5"),
                directory("{synth}"),
            script:
                "../workflow_scripts/in_b.py"
        """,
    )
    write(tmp_path / "rules" / "c.smk", "def helper():\n    return 1\n")
    write(
        tmp_path / "workflow_scripts" / "first_a.py",
        "from harxai.report import build_report\nbuild_report()\n",
    )
    write(
        tmp_path / "workflow_scripts" / "in_b.py",
        "from harxai.logs import run_job\nfrom harxai.synthetic import generate_synthetic\n"
        "run_job(None, generate_synthetic)\n",
    )
    entries = docs.code_map(tmp_path)
    assert [e.name for e in entries] == ["in_b", "first_a"]
    assert entries[0].outputs == ("results/{d}/chunk_{c}.h5", "{synth}/")
    assert entries[0].function == "harxai.synthetic.generate.generate_synthetic"
    assert entries[1].outputs == ("results/{d}/t.csv", "results/{d}/t.md")
    assert entries[1].script == Path("workflow_scripts/first_a.py")
    assert entries[1].rule_file == Path("rules/a.smk")

    readme = f"intro\n{docs.CODE_MAP_START}\n{docs.CODE_MAP_HEADER[0]}\n{docs.CODE_MAP_HEADER[1]}\n"
    readme += f"| `first_a` | stale | stale | a table \\| kept |\n{docs.CODE_MAP_END}\nend\n"
    updated = docs.update_code_map(readme, tmp_path)
    assert (
        "| [`first_a`](workflow_scripts/first_a.py) | `harxai.report.build_report` | `{d}/t.{csv,md}` |"
        in updated
    )
    assert "a table \\| kept |" in updated
    assert "| [`in_b`](workflow_scripts/in_b.py) |" in updated
    assert "| TODO |" in updated
    assert updated.startswith("intro\n")
    assert updated.endswith(f"{docs.CODE_MAP_END}\nend\n")
    assert docs.update_code_map(updated, tmp_path) == updated


def test_code_map_rejects_a_rule_without_script(tmp_path: Path) -> None:
    write(
        tmp_path / "Snakefile",
        'rule shell_rule:\n    output:\n        "results/x"\n    shell:\n        "touch {output}"\n',
    )
    with pytest.raises(docs.DocsError, match="shell_rule writes outputs but runs no workflow script"):
        docs.code_map(tmp_path)


def test_configuration_markdown_renders_types_defaults_refs_and_entries() -> None:
    schema = {
        "$defs": {"thing": {"type": "object", "properties": {"size": {"type": "integer", "minimum": 1}}}},
        "required": ["items"],
        "properties": {
            "seed": {"type": "integer", "default": 7, "description": "A | seed."},
            "items": {
                "type": "object",
                "description": "Items by name.",
                "additionalProperties": {
                    "type": "object",
                    "required": ["kind"],
                    "properties": {
                        "kind": {"type": "string", "enum": ["a", "b"], "description": "Kind <k>."},
                        "opt": {"type": ["number", "null"], "exclusiveMinimum": 0, "default": None},
                        "thing": {"$ref": "#/$defs/thing", "default": {}, "description": "A thing."},
                    },
                },
            },
        },
    }
    text = docs.configuration_markdown(schema, "seed: 7\n")
    assert "| `seed` | integer | `7` | A \\| seed. |" in text
    assert "| `items` | object | required | Items by name. See [`items`](#items). |" in text
    assert "### `items.<name>`" in text
    assert "| `kind` | one of `a`, `b` | required | Kind \\<k>. |" in text
    assert "| `opt` | number or null (> 0) | `null` |" in text
    assert "[`items.<name>.thing`](#itemsnamething)" in text
    assert "#### `items.<name>.thing`" in text
    assert "| `size` | integer (≥ 1) | inherits |" in text
    assert text.endswith("```yaml\nseed: 7\n```\n")


def test_github_anchor() -> None:
    assert docs.github_anchor("`datasets.<name>.synthetic`") == "datasetsnamesynthetic"
    assert docs.github_anchor("Training, bringing your own checkpoint, metrics") == (
        "training-bringing-your-own-checkpoint-metrics"
    )
    assert docs.github_anchor("NTU RGB+D `.skeleton` (`kind: ntu`)") == "ntu-rgbd-skeleton-kind-ntu"


def test_main_check_reports_stale_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for rel in ("Snakefile", "config.yaml", str(docs.SCHEMA_PATH), "README.md"):
        write(tmp_path / rel, (REPO / rel).read_text(encoding="utf-8"))
    write(tmp_path / "Snakefile", "")  # no rules: an empty code map
    assert docs.main(["--root", str(tmp_path), "--check"]) == 1
    assert "docs/configuration.md: out of date" in capsys.readouterr().err
    assert not (tmp_path / docs.CONFIGURATION_DOC).exists()
    assert docs.main(["--root", str(tmp_path)]) == 0
    assert docs.main(["--root", str(tmp_path), "--check"]) == 0
