"""Several Doccano user files given one by one are one project's annotation sets."""

from __future__ import annotations

import annoconvert
from tests.conftest import corpus_path


def test_user_files_given_separately_merge_like_the_zip() -> None:
    folder = corpus_path("doccano", "DocumentClassification_single", "individual", "JSONL")
    files = sorted(str(p) for p in folder.glob("*.jsonl"))
    assert [f.rsplit("/", 1)[1] for f in files] == ["admin.jsonl", "alice.jsonl", "bob.jsonl"]
    separate = list(annoconvert.read("doccano", files))
    zipped = list(annoconvert.read("doccano", str(folder.parent / "JSONL.zip")))
    assert [t.id for t in separate] == [t.id for t in zipped]
    assert [[a.annotator for a in t.annotations] for t in separate] == [
        [a.annotator for a in t.annotations] for t in zipped
    ]
    # the users' sets are merged: one task per example, several annotators on it
    assert any(len(t.annotations) >= 2 for t in separate)


def test_agreement_policy_works_on_separate_user_files(tmp_path) -> None:  # type: ignore[no-untyped-def]
    folder = corpus_path("doccano", "DocumentClassification_single", "individual", "JSONL")
    files = sorted(str(p) for p in folder.glob("*.jsonl"))
    out = tmp_path / "o.jsonl"
    result = annoconvert.convert("doccano", files, out, annotators="agreed")
    assert result.read == 8
    assert result.disagreed >= 1
    assert any(r.code == "annotators_disagree" for r in result.rejects)
    assert result.tasks_written + result.rejected == result.read
