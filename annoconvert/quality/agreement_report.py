"""Render an AgreementReport as a plain-text table or a self-contained HTML page.

Kept apart from the maths so the numbers can be tested without any formatting, and so the HTML
(inline CSS, no scripts, no external assets) can be opened from a mail attachment.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

from annoconvert.quality.agreement import AgreementReport, FieldAgreement


def _fmt(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    return [line(headers), line(["-" * w for w in widths]), *(line(r) for r in rows)]


def _field_row(f: FieldAgreement) -> list[str]:
    kappas = [v for v in f.cohen_kappa.values() if v is not None]
    mean_kappa = sum(kappas) / len(kappas) if kappas else None
    return [
        f.field,
        f.kind,
        str(f.units),
        _fmt(f.percent_agreement),
        _fmt(f.krippendorff_alpha),
        _fmt(f.fleiss_kappa),
        _fmt(mean_kappa),
        _fmt(f.f1),
        _fmt(f.f1_overlap),
        _fmt(f.mean_iou),
        _fmt(f.mean_similarity),
    ]


def render_table(report: AgreementReport) -> str:
    """The default console output: fields, pairs, annotators and the most disputed tasks."""
    out = [
        f"{report.tasks} of {report.tasks_read} tasks have two or more annotations; "
        f"annotators: {', '.join(report.annotators) or '(none)'}",
        "",
    ]
    headers = [
        "field",
        "kind",
        "units",
        "agree%",
        "k-alpha",
        "fleiss",
        "cohen(avg)",
        "f1",
        "f1-overlap",
        "mean-iou",
        "text-sim",
    ]
    out += _table(headers, [_field_row(f) for f in report.fields])
    out.append(
        f"overall: {report.overall.units} units, percent agreement "
        f"{_fmt(report.overall.percent_agreement)}, alpha (label fields) "
        f"{_fmt(report.overall.krippendorff_alpha)}"
    )
    pairs = [
        [f.field, key, _fmt(value)]
        for f in report.fields
        for key, value in sorted(f.cohen_kappa.items())
    ]
    if pairs:
        out += ["", "Cohen's kappa per annotator pair:"]
        out += _table(["field", "pair", "kappa"], pairs)
    labels = [
        [f.field, lbl.label, str(lbl.count), _fmt(lbl.agreement)]
        for f in report.fields
        for lbl in f.labels
    ]
    if labels:
        out += ["", "Per label (labels: o_cc/n_c; spans and shapes: F1):"]
        out += _table(["field", "label", "uses", "agreement"], labels)
    if report.per_annotator:
        out += ["", "Per annotator (agreement with the others):"]
        out += _table(
            ["annotator", "tasks", "agreement", "cohen(avg)"],
            [
                [a.annotator, str(a.tasks), _fmt(a.agreement), _fmt(a.cohen_kappa)]
                for a in report.per_annotator
            ],
        )
    if report.disputed:
        out += ["", "Most disputed (review these first):"]
        rows = [
            [str(d.task), d.field, _fmt(d.disagreement, 2), _answers(d.answers)]
            for d in report.disputed
        ]
        out += _table(["task", "field", "disagree", "answers"], rows)
    for note in report.notes:
        out += ["", f"note: {note}"]
    return "\n".join(out) + "\n"


def _answers(answers: dict[str, str]) -> str:
    return "; ".join(f"{who}: {value}" for who, value in answers.items())


_CSS = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:70em}
table{border-collapse:collapse;margin:0.5em 0 1.5em}
th,td{border-bottom:1px solid #ddd;padding:0.25em 0.7em;text-align:left;vertical-align:top}
th{background:#f4f4f4}
.bar{background:#eee;width:14em;height:0.9em;display:inline-block;vertical-align:middle}
.bar span{display:block;height:100%}
.good{background:#3a9d5d}.mid{background:#e0a526}.bad{background:#d0453a}
.num{font-variant-numeric:tabular-nums}
"""


def _bar(value: float | None) -> str:
    if value is None:
        return "—"
    clamped = max(0.0, min(1.0, value))
    css = "good" if value >= 0.8 else "mid" if value >= 0.6 else "bad"
    return (
        f'<span class="bar"><span class="{css}" style="width:{clamped * 100:.1f}%"></span></span>'
        f' <span class="num">{value:.3f}</span>'
    )


def render_html(report: AgreementReport) -> str:
    """A self-contained page (inline CSS, no scripts) with per-label bars."""
    e = html.escape
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>Annotator agreement</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>Annotator agreement</h1>",
        f"<p>{report.tasks} of {report.tasks_read} tasks have two or more annotations. "
        f"Annotators: {e(', '.join(report.annotators) or '(none)')}.</p>",
        "<h2>Fields</h2><table><tr><th>field</th><th>kind</th><th>units</th>"
        "<th>score</th><th>percent agreement</th><th>Krippendorff α</th><th>Fleiss κ</th>"
        "<th>F1</th><th>mean IoU</th><th>text similarity</th></tr>",
    ]
    for f in report.fields:
        parts.append(
            f"<tr><td>{e(f.field)}</td><td>{f.kind}</td><td>{f.units}</td>"
            f"<td>{_bar(f.score)} <small>{e(f.score_metric)}</small></td>"
            f"<td>{_fmt(f.percent_agreement)}</td><td>{_fmt(f.krippendorff_alpha)}</td>"
            f"<td>{_fmt(f.fleiss_kappa)}</td><td>{_fmt(f.f1)}</td><td>{_fmt(f.mean_iou)}</td>"
            f"<td>{_fmt(f.mean_similarity)}</td></tr>"
        )
    parts.append("</table>")
    for f in report.fields:
        if not f.labels and not f.cohen_kappa:
            continue
        parts.append(f"<h3>{e(f.field)}</h3>")
        if f.labels:
            parts.append("<table><tr><th>label</th><th>uses</th><th>agreement</th></tr>")
            for lbl in f.labels:
                parts.append(
                    f"<tr><td>{e(lbl.label)}</td><td>{lbl.count}</td>"
                    f"<td>{_bar(lbl.agreement)}</td></tr>"
                )
            parts.append("</table>")
        if f.cohen_kappa:
            parts.append("<table><tr><th>pair</th><th>Cohen's κ</th></tr>")
            for key, value in sorted(f.cohen_kappa.items()):
                parts.append(f"<tr><td>{e(key)}</td><td>{_bar(value)}</td></tr>")
            parts.append("</table>")
    if report.per_annotator:
        parts.append("<h2>Annotators</h2><table><tr><th>annotator</th><th>tasks</th>")
        parts.append("<th>agreement with the others</th></tr>")
        for a in report.per_annotator:
            parts.append(
                f"<tr><td>{e(a.annotator)}</td><td>{a.tasks}</td><td>{_bar(a.agreement)}</td></tr>"
            )
        parts.append("</table>")
    if report.disputed:
        parts.append("<h2>Most disputed tasks</h2><table><tr><th>task</th><th>field</th>")
        parts.append("<th>disagreement</th><th>answers</th></tr>")
        for d in report.disputed:
            answers = "<br>".join(f"<b>{e(k)}</b>: {e(v)}" for k, v in d.answers.items())
            parts.append(
                f"<tr><td>{e(str(d.task))}</td><td>{e(d.field)}</td>"
                f"<td>{d.disagreement:.2f}</td><td>{answers}</td></tr>"
            )
        parts.append("</table>")
    for note in report.notes:
        parts.append(f"<p><small>{e(note)}</small></p>")
    parts.append("</body></html>\n")
    return "\n".join(parts)
