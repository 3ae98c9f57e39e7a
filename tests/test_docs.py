"""The documentation cannot fall behind the code.

- every reader, recipe (and `auto`), dialect and command has its page or section;
- docs/cli.md is exactly what `annoconvert.commands.docs_gen` generates from the click commands;
- the getting-started page's commands and programs run, and the JSON lines it shows are lines
  they wrote;
- the example plugin (examples/plugin) satisfies the registry protocols and converts a file
  through the pipeline, registered by patching the registry tables (nothing is installed);
- `mkdocs build --strict` passes (mkdocs is in the `test` extra).
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from annoconvert import registry
from annoconvert.cli import SUBCOMMANDS, main
from annoconvert.commands import docs_gen
from annoconvert.options import build_options
from annoconvert.pipeline import run

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PLUGIN = ROOT / "examples" / "plugin"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```\s*$", re.M | re.S)


def fenced(page: Path, language: str) -> list[str]:
    """The bodies of the page's fenced code blocks of one language, in order."""
    return [body for lang, body in FENCE.findall(page.read_text("utf-8")) if lang == language]


def command_lines(block: str) -> list[list[str]]:
    """The `annoconvert ...` commands of a bash block (line continuations joined), as args."""
    joined = block.replace("\\\n", " ")
    return [
        shlex.split(line)[1:]
        for line in joined.splitlines()
        if line.strip().startswith("annoconvert ")
    ]


# --- every name has a page -------------------------------------------------------------------


@pytest.mark.parametrize("name", registry.names("readers"))
def test_every_reader_has_a_page(name: str) -> None:
    page = DOCS / "readers" / f"{name}.md"
    assert page.is_file(), f"reader {name!r} has no page {page.relative_to(ROOT)}"


@pytest.mark.parametrize("name", ["auto", *registry.names("recipes")])
def test_every_recipe_has_a_page_with_an_input_and_its_line(name: str) -> None:
    page = DOCS / "recipes" / f"{name}.md"
    assert page.is_file(), f"recipe {name!r} has no page {page.relative_to(ROOT)}"
    assert fenced(page, "bash"), f"{page.name} shows no command"
    assert fenced(page, "json"), f"{page.name} shows no output line"


@pytest.mark.parametrize("name", registry.names("dialects"))
def test_every_dialect_has_a_section(name: str) -> None:
    text = (DOCS / "dialects.md").read_text("utf-8")
    assert re.search(rf"^## `?{re.escape(name)}`?\s*$", text, re.M), f"no '## {name}' section"


@pytest.mark.parametrize("name", [*registry.names("readers"), *SUBCOMMANDS])
def test_every_command_is_in_the_cli_reference(name: str) -> None:
    text = (DOCS / "cli.md").read_text("utf-8")
    assert f"## annoconvert {name}\n" in text


def test_cli_reference_is_generated_from_the_commands() -> None:
    committed = (DOCS / "cli.md").read_text("utf-8")
    assert committed == docs_gen.generate(), (
        "docs/cli.md is stale: run `python -m annoconvert.commands.docs_gen docs/cli.md`"
    )


def test_every_page_is_in_the_nav() -> None:
    nav = set(re.findall(r":\s*(\S+\.md)\s*$", (ROOT / "mkdocs.yml").read_text("utf-8"), re.M))
    pages = {p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md")}
    assert pages <= nav, f"pages missing from mkdocs.yml nav: {sorted(pages - nav)}"


# --- the getting-started page runs -----------------------------------------------------------


def test_getting_started_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    page = DOCS / "getting-started.md"
    shutil.copytree(ROOT / "fixtures" / "quickstart", tmp_path / "fixtures" / "quickstart")
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    ran = 0
    for lang, body in FENCE.findall(page.read_text("utf-8")):
        if lang == "bash":
            for args in command_lines(body):
                result = runner.invoke(main, args)
                assert result.exit_code == 0, f"annoconvert {shlex.join(args)}\n{result.output}"
                ran += 1
        elif lang == "python":
            exec(compile(body, str(page), "exec"), {"__name__": "__docs__"})
            ran += 1
    assert ran >= 5
    written = {line for f in tmp_path.glob("*.jsonl") for line in f.read_text("utf-8").splitlines()}
    for block in fenced(page, "json"):
        for line in block.splitlines():
            assert line in written, f"shown but not written by the page's commands: {line}"


# --- the example plugin ----------------------------------------------------------------------


def _entry_points() -> dict[str, dict[str, str]]:
    project = tomllib.loads((PLUGIN / "pyproject.toml").read_text("utf-8"))["project"]
    groups: dict[str, dict[str, str]] = project["entry-points"]
    return groups


@pytest.fixture
def plugin(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, dict[str, str]]]:
    """The example plugin importable from its folder and registered in the registry tables."""
    monkeypatch.syspath_prepend(str(PLUGIN))
    groups = _entry_points()
    tables = {
        "annoconvert.readers": registry.BUILTIN_READERS,
        "annoconvert.recipes": registry.BUILTIN_RECIPES,
        "annoconvert.dialects": registry.BUILTIN_DIALECTS,
    }
    assert set(groups) == set(tables), "the plugin declares the three entry-point groups"
    for group, entries in groups.items():
        for name, path in entries.items():
            monkeypatch.setitem(tables[group], name, path)
    yield groups
    for module in [m for m in sys.modules if m.startswith("annoconvert_csv")]:
        del sys.modules[module]


def _load(path: str) -> Any:
    module, _, attr = path.partition(":")
    return getattr(importlib.import_module(module), attr)


def test_example_plugin_objects_satisfy_the_protocols(plugin: dict[str, dict[str, str]]) -> None:
    protocols = {
        "annoconvert.readers": registry.Reader,
        "annoconvert.recipes": registry.Recipe,
        "annoconvert.dialects": registry.Dialect,
    }
    for group, entries in plugin.items():
        for name, path in entries.items():
            obj = _load(path)
            assert isinstance(obj, protocols[group]), f"{path} is not a {protocols[group]}"
            assert obj.name == name


def test_example_plugin_converts_through_the_pipeline(
    plugin: dict[str, dict[str, str]], tmp_path: Path
) -> None:
    out = tmp_path / "alpaca.jsonl"
    options = build_options(recipe="json-label", dialect="alpaca", validate_output=False)
    stats = run("csv", [str(PLUGIN / "sample.csv")], options, str(out))
    assert (stats.read, stats.written, stats.rejected) == (4, 3, 1)
    assert [(r.task, r.locator, r.code) for r in stats.rejects] == [(4, "rows[3]", "empty_cell")]
    records = [json.loads(line) for line in out.read_text("utf-8").splitlines()]
    assert [json.loads(r["output"]) for r in records] == [
        {"label": "SUPPORT_REQUEST"},
        {"label": "SALES_INQUIRY"},
        {"label": "GENERAL_FEEDBACK"},
    ]
    assert records[1]["input"] == "We would like a quote for 500 licenses."
    assert "'GENERAL_FEEDBACK', 'SALES_INQUIRY', or 'SUPPORT_REQUEST'" in records[0]["instruction"]


def test_example_plugin_gets_a_command_and_the_page_shows_its_output(
    plugin: dict[str, dict[str, str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(PLUGIN)
    page = DOCS / "plugins.md"
    commands = [a for block in fenced(page, "bash") for a in command_lines(block)]
    assert commands, "plugins.md shows the plugin's command"
    lines: set[str] = set()
    for args in commands:
        out = tmp_path / "out.jsonl"
        args = [*args[: args.index("-o")], "-o", str(out)] if "-o" in args else args
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 0, result.output
        lines |= set(out.read_text("utf-8").splitlines())
    for block in fenced(page, "json"):
        for line in block.splitlines():
            assert line in lines, f"plugins.md shows a line the plugin does not write: {line}"


# --- the site builds -------------------------------------------------------------------------


def test_mkdocs_build_strict(tmp_path: Path) -> None:
    if importlib.util.find_spec("mkdocs") is None:
        pytest.fail("mkdocs is not installed; it is in the test extra: pip install -e '.[test]'")
    shutil.copytree(DOCS, tmp_path / "docs")
    shutil.copy(ROOT / "mkdocs.yml", tmp_path / "mkdocs.yml")
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(tmp_path / "site")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
