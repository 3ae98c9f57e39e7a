"""The command line contract: exit codes, one clear line, nothing at -o on failure, counts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from annoconvert.cli import main
from tests.conftest import corpus_path

SEED = Path(__file__).resolve().parent.parent / "fixtures" / "seed"


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def _task(tid: int, data: dict[str, object], results: list[dict[str, object]]) -> dict[str, object]:
    return {
        "id": tid,
        "data": data,
        "annotations": [
            {
                "id": tid,
                "completed_by": 1,
                "result": results,
                "was_cancelled": False,
                "ground_truth": False,
                "updated_at": "2026-01-01T00:00:00Z",
            }
        ],
    }


def _choice(label: str) -> dict[str, object]:
    return {
        "value": {"choices": [label]},
        "id": "c1",
        "from_name": "category",
        "to_name": "text",
        "type": "choices",
    }


def _write(path: Path, tasks: object) -> Path:
    path.write_text(json.dumps(tasks), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ("this is not json", "JSON"),
        ('[{"id": 1, "data": {"text": "a"}, "annotations": [', ""),
        ('{"hello": "world"}', "task"),
    ],
    ids=["not-json", "truncated", "object-not-a-task"],
)
def test_file_level_errors_exit_1_with_one_line_and_no_output(
    tmp_path: Path, content: str, needle: str
) -> None:
    src = tmp_path / "export.json"
    src.write_text(content)
    out = tmp_path / "train.jsonl"
    out.write_text("previous\n")
    code, _stdout, stderr = run("labelstudio", str(src), "-o", str(out))
    assert code == 1
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("annoconvert: error: ")
    assert str(src) in lines[0] and needle in lines[0]
    assert "Traceback" not in stderr
    assert out.read_text() == "previous\n"  # the previous file is untouched
    assert not list(tmp_path.glob(".train.jsonl.*"))  # no temporary file left behind


def test_label_config_that_does_not_parse(tmp_path: Path) -> None:
    src = _write(tmp_path / "e.json", [_task(1, {"text": "a"}, [_choice("A")])])
    config = tmp_path / "config.xml"
    config.write_text("<View><Choices name='x'")
    out = tmp_path / "o.jsonl"
    code, _, stderr = run("labelstudio", str(src), "--label-config", str(config), "-o", str(out))
    assert code == 1 and "config.xml" in stderr and "Traceback" not in stderr
    assert not out.exists()


def test_template_naming_a_missing_field_fails_before_writing(tmp_path: Path) -> None:
    src = _write(tmp_path / "e.json", [_task(1, {"text": "a"}, [_choice("A")])])
    out = tmp_path / "o.jsonl"
    code, _, stderr = run("labelstudio", str(src), "--prompt", "Subject: {subject}", "-o", str(out))
    assert code == 1
    assert "{subject}" in stderr and "available" in stderr
    assert not out.exists()


def test_an_unknown_template_conversion_fails_in_one_line_before_writing(tmp_path: Path) -> None:
    """`!x` is no conversion: said when the option is read (it used to stop the run with an
    internal error, and a child's traceback under it)."""
    src = _write(tmp_path / "e.json", [_task(1, {"text": "a"}, [_choice("A")])])
    out = tmp_path / "o.jsonl"
    args = ["labelstudio", str(src), "-o", str(out), "--answer-template", "{label!x}"]
    proc = subprocess.run(
        [sys.executable, "-m", "annoconvert", *args],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 1
    assert proc.stderr.splitlines() == [
        "annoconvert: error: template '{label!x}': unknown conversion '!x' (use !r, !s or !a)"
    ]
    assert not out.exists()


@pytest.mark.parametrize(
    ("prompt", "second", "written", "code", "reason"),
    [
        # a field empty for one task
        ("{subject}: {text}", {"id": 2, "subject": ""}, "Hi: a", "missing_field", "template"),
        # `{id:d}` shows a number: the task whose id is a string
        (
            "{id:d}: {text}",
            {"id": "t-2"},
            "1: a",
            "bad_template",
            "template field {id:d} cannot show 't-2'",
        ),
    ],
)
def test_a_template_that_fails_for_one_task_rejects_that_task(
    tmp_path: Path, prompt: str, second: dict[str, Any], written: str, code: str, reason: str
) -> None:
    """The other task is written; the failing one is rejected with its code and reason."""
    tasks = [
        _task(1, {"text": "a", "subject": "Hi"}, [_choice("A")]),
        _task(2, {"text": "b", "subject": second.get("subject", "Yo")}, [_choice("B")]),
    ]
    tasks[1]["id"] = second["id"]
    src = _write(tmp_path / "e.json", tasks)
    out, rejects = tmp_path / "o.jsonl", tmp_path / "r.jsonl"
    args = ["--prompt", prompt, "-o", str(out), "--rejects", str(rejects)]
    exit_code, _, stderr = run("labelstudio", str(src), *args)
    assert exit_code == 0 and "Traceback" not in stderr
    assert [json.loads(x)["messages"][1]["content"] for x in out.read_text().splitlines()] == [
        written
    ]
    reject = json.loads(rejects.read_text())
    assert reject["task"] == second["id"] and reject["code"] == code
    assert reject["reason"].startswith(reason)
    assert set(reject) == {"task", "file", "locator", "code", "reason"}


def test_task_level_errors_reject_and_the_run_goes_on(tmp_path: Path) -> None:
    tasks = [
        _task(1, {"text": "a"}, [_choice("A")]),
        {"id": 2, "annotations": []},  # no data
        _task(
            3,
            {"text": "c"},
            [{"id": "r", "from_name": "category", "to_name": "text", "type": "choices"}],
        ),
        _task(
            4,
            {"text": "d"},
            [{"value": {"x": 1}, "id": "q", "from_name": "w", "to_name": "text", "type": "wobble"}],
        ),
        _task(5, {"text": "e"}, [_choice("B")]),
    ]
    src = _write(tmp_path / "e.json", tasks)
    out, rejects = tmp_path / "o.jsonl", tmp_path / "r.jsonl"
    code, _, stderr = run("labelstudio", str(src), "-o", str(out), "--rejects", str(rejects))
    assert code == 0
    assert len(out.read_text().splitlines()) == 2
    got = [json.loads(x) for x in rejects.read_text().splitlines()]
    assert [r["task"] for r in got] == [2, 3, 4]
    assert got[2]["code"] == "unknown_result_type"
    assert "read 5 tasks; wrote 2 examples; rejected 3" in stderr


def test_on_error_fail_stops_at_the_first_bad_task(tmp_path: Path) -> None:
    tasks = [_task(1, {"text": "a"}, [_choice("A")]), {"id": 2, "annotations": []}]
    src = _write(tmp_path / "e.json", tasks)
    out = tmp_path / "o.jsonl"
    code, _, stderr = run("labelstudio", str(src), "-o", str(out), "--on-error", "fail")
    assert code == 1 and "tasks[1]" in stderr and "task 2" in stderr
    assert not out.exists()


def test_max_errors_stops_after_n(tmp_path: Path) -> None:
    tasks = [{"id": i, "annotations": []} for i in range(5)] + [
        _task(9, {"text": "a"}, [_choice("A")])
    ]
    src = _write(tmp_path / "e.json", tasks)
    out = tmp_path / "o.jsonl"
    code, _, stderr = run("labelstudio", str(src), "-o", str(out), "--max-errors", "2")
    assert code == 1 and "--max-errors 2" in stderr
    assert not out.exists()


def test_empty_export_writes_nothing_and_warns(tmp_path: Path) -> None:
    src = _write(tmp_path / "e.json", [])
    out = tmp_path / "o.jsonl"
    code, _, stderr = run("labelstudio", str(src), "-o", str(out))
    assert code == 0
    assert out.read_text() == ""
    assert "read 0 tasks" in stderr and "empty_input" in stderr


def test_stdout_when_no_output(tmp_path: Path) -> None:
    src = _write(tmp_path / "e.json", [_task(1, {"text": "a"}, [_choice("A")])])
    code, stdout, _ = run("labelstudio", str(src), "-q")
    assert code == 0
    assert json.loads(stdout)["messages"][-1]["content"] == "A"


def test_several_inputs_go_into_one_output_in_order(tmp_path: Path) -> None:
    one = _write(tmp_path / "1.json", [_task(1, {"text": "a"}, [_choice("A")])])
    two = _write(tmp_path / "2.json", [_task(2, {"text": "b"}, [_choice("B")])])
    out = tmp_path / "o.jsonl"
    code, _, _ = run("labelstudio", str(one), str(two), "-o", str(out), "-q")
    assert code == 0
    answers = [json.loads(x)["messages"][-1]["content"] for x in out.read_text().splitlines()]
    assert answers == ["A", "B"]


def test_config_file_and_option_precedence(tmp_path: Path) -> None:
    src = _write(tmp_path / "e.json", [_task(1, {"text": "a"}, [_choice("scratch")])])
    config = tmp_path / "recipe.toml"
    config.write_text(
        'system = "from the file"\nanswer-template = "Label: {label}"\n'
        '[labels]\nscratch = "surface_scratch"\n'
    )
    out = tmp_path / "o.jsonl"
    code, _, stderr = run(
        "labelstudio", str(src), "--config", str(config), "--system", "from the CLI", "-o", str(out)
    )
    assert code == 0, stderr
    msgs = json.loads(out.read_text())["messages"]
    assert msgs[0]["content"] == "from the CLI"  # the command line wins
    assert msgs[-1]["content"] == "Label: surface_scratch"  # the file's template and rename


def test_unknown_config_key_is_an_error(tmp_path: Path) -> None:
    src = _write(tmp_path / "e.json", [])
    config = tmp_path / "recipe.toml"
    config.write_text('sistem = "typo"\n')
    code, _, stderr = run("labelstudio", str(src), "--config", str(config))
    assert code == 1 and "sistem" in stderr and "unknown option" in stderr


def test_usage_error_exits_2(tmp_path: Path) -> None:
    code, _, _ = run("labelstudio", "x.json", "--annotators", "nobody")
    assert code == 2


def test_formats_json_lists_everything() -> None:
    code, stdout, _ = run("formats", "--json")
    assert code == 0
    data = json.loads(stdout)
    assert {r["name"] for r in data["readers"]} >= {"labelstudio", "doccano", "cvat", "coco"}
    assert {"classification", "ner", "detection", "dialogue", "auto"} <= {
        r["name"] for r in data["recipes"]
    }
    assert "box_2d" in data["box_formats"]
    labelstudio = next(r for r in data["readers"] if r["name"] == "labelstudio")
    assert "label-config" in [o["name"] for o in labelstudio["options"]]


def test_version_and_help_from_a_real_process() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "annoconvert", "--version"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0 and "annoconvert" in done.stdout
    done = subprocess.run(
        [sys.executable, "-m", "annoconvert", "labelstudio", "--help"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert (
        done.returncode == 0 and "--label-config" in done.stdout and "--box-format" in done.stdout
    )


def test_missing_input_file(tmp_path: Path) -> None:
    code, _, stderr = run(
        "labelstudio", str(tmp_path / "nope.json"), "-o", str(tmp_path / "o.jsonl")
    )
    assert code == 1 and "nope.json" in stderr and "Traceback" not in stderr


def test_real_export_counts_add_up(tmp_path: Path) -> None:
    export = corpus_path("labelstudio", "c_ner", "JSON.json")
    out, rejects = tmp_path / "o.jsonl", tmp_path / "r.jsonl"
    code, _, stderr = run("labelstudio", str(export), "-o", str(out), "--rejects", str(rejects))
    assert code == 0
    written = len(out.read_text().splitlines())
    rejected = len(rejects.read_text().splitlines())
    assert f"read 6 tasks; wrote {written} examples; rejected {rejected}" in stderr
    assert written + rejected == 6


def test_errors_survive_pickling() -> None:
    """Media workers and Dask send errors between processes: code and message must survive."""
    import pickle

    from annoconvert.errors import MediaError, RecipeError, TaskError

    for err in (
        MediaError("missing_image", "not found", uri="a.jpg"),
        RecipeError("missing_label", "no class", locator="tasks[1]"),
        TaskError("bad_span", "inverted", task=3, file="x.json", locator="tasks[2]"),
    ):
        back = pickle.loads(pickle.dumps(err))
        assert type(back) is type(err)
        assert str(back) == str(err) and back.code == err.code  # type: ignore[attr-defined]


def test_output_files_get_ordinary_permissions(tmp_path: Path) -> None:
    """Written like `open(path, "w")` would: readable by the group and others (umask 022)."""
    import os
    import stat

    src = _write(tmp_path / "e.json", [_task(1, {"text": "a"}, [_choice("A")])])
    out = tmp_path / "o.jsonl"
    old = os.umask(0o022)
    try:
        code, _, _ = run("labelstudio", str(src), "-o", str(out), "-q")
        page = tmp_path / "p.html"
        code2, _, _ = run("preview", str(out), "-o", str(page))
    finally:
        os.umask(old)
    assert code == 0 and code2 == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o644
    assert stat.S_IMODE(page.stat().st_mode) == 0o644


@pytest.mark.parametrize(("before", "after"), [(None, "1"), ("4", "4")])
def test_cli_runs_numpy_blas_on_one_thread_unless_the_user_says(
    monkeypatch: pytest.MonkeyPatch, before: str | None, after: str
) -> None:
    # OpenBLAS's idle threads spin; annoconvert's numpy work needs none of them
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "restored after the test")
    if before is None:
        monkeypatch.delenv("OPENBLAS_NUM_THREADS")
    else:
        monkeypatch.setenv("OPENBLAS_NUM_THREADS", before)
    code, _, _ = run("formats")
    assert code == 0
    assert os.environ["OPENBLAS_NUM_THREADS"] == after


def test_the_command_line_freezes_the_heap_at_exit_and_only_then(tmp_path: Path) -> None:
    # the interpreter's last collection would walk every object of the run (30-50 ms); the
    # handler registered before the entry runs after the entry's own (atexit is LIFO)
    tasks = [_task(i, {"text": f"mail {i}"}, [_choice("spam")]) for i in range(1, 4)]
    export = _write(tmp_path / "export.json", tasks)
    script = f"""
import atexit, gc
atexit.register(lambda: print("frozen at exit:", gc.get_freeze_count() > 0))
from annoconvert.cli import main
try:
    main(["labelstudio", {str(export)!r}, "-o", {str(tmp_path / "out.jsonl")!r}, "-q"])
except SystemExit as done:
    print("exit:", done.code, "frozen during the program:", gc.get_freeze_count() > 0)
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.splitlines() == [
        "exit: 0 frozen during the program: False",
        "frozen at exit: True",
    ]
    assert (tmp_path / "out.jsonl").read_text().count("\n") == len(tasks)


@pytest.mark.parametrize(
    ("command", "target"),
    [
        (["validate", "{file}"], "annoconvert.quality.validate.validate_file"),
        (["stats", "labelstudio", "{file}"], "annoconvert.quality.stats.compute_stats"),
        (["preview", "{file}", "-o", "{out}"], "annoconvert.preview.build_page"),
    ],
)
def test_a_bug_in_any_subcommand_is_one_line_not_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: list[str], target: str
) -> None:
    """Not only the converting commands: every subcommand reports an error it did not expect
    in one line and exits 1; ANNOCONVERT_DEBUG=1 lets the traceback through."""
    file = tmp_path / "in.json"
    file.write_text("[]", encoding="utf-8")
    module, _, name = target.rpartition(".")

    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(f"{module}.{name}", boom)
    monkeypatch.delenv("ANNOCONVERT_DEBUG", raising=False)
    args = [a.format(file=file, out=tmp_path / "p.html") for a in command]
    code, out, err = run(*args)
    assert code == 1, (out, err)
    assert err.strip().splitlines() == [
        "annoconvert: internal error: RuntimeError: boom "
        "(please report it; set ANNOCONVERT_DEBUG=1 for the traceback)"
    ]
    monkeypatch.setenv("ANNOCONVERT_DEBUG", "1")
    result = CliRunner().invoke(main, args)
    assert isinstance(result.exception, RuntimeError)


@pytest.mark.parametrize(
    ("error", "line"),
    [
        (OSError(38, "Function not implemented"), "annoconvert: error: Function not implemented"),
        (
            PermissionError(13, "Permission denied", "/data/out.jsonl"),
            "annoconvert: error: /data/out.jsonl: Permission denied",
        ),
    ],
)
def test_a_system_error_is_one_line_naming_its_file_when_it_has_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: OSError, line: str
) -> None:
    file = tmp_path / "in.json"
    file.write_text("[]", encoding="utf-8")

    def fails(*args: object, **kwargs: object) -> None:
        raise error

    monkeypatch.setattr("annoconvert.pipeline.run", fails)
    code, _, err = run("labelstudio", str(file), "-o", str(tmp_path / "out.jsonl"))
    assert code == 1
    assert err.strip().splitlines() == [line]
