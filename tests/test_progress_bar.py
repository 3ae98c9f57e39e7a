"""The progress bar the command line shows on a terminal."""

from __future__ import annotations

import io
import threading

import pytest

from annoconvert.commands import summary


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_bar_starts_no_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    """The checker and the image workers are forked from the converting process after the bar
    is made; tqdm's monitor thread alive at such a fork could deadlock the child."""
    shown = _Terminal()
    monkeypatch.setattr(summary.sys, "stderr", shown)
    before = set(threading.enumerate())
    with summary.Progress(True) as progress:
        progress.update(120)
        assert set(threading.enumerate()) == before
    assert " tasks" in shown.getvalue()  # the bar was drawn


def test_no_bar_off_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    shown = io.StringIO()
    monkeypatch.setattr(summary.sys, "stderr", shown)
    with summary.Progress(True) as progress:
        progress.update(120)
    assert shown.getvalue() == ""
