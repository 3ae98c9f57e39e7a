"""The run's rejects and warnings past their logs' `KEPT` go to disk (`record_log`): the same
records in the same order, from any point, counted by code."""

from __future__ import annotations

from collections import Counter
from types import ModuleType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from annoconvert import reject_log, warning_log
from tests.test_reject_log import REJECTS
from tests.test_warning_log import WARNINGS

LOGS = [
    (reject_log, reject_log.RejectLog, REJECTS),
    (warning_log, warning_log.WarningLog, WARNINGS),
]


@pytest.mark.parametrize(("module", "make", "records"), LOGS, ids=["rejects", "warnings"])
@settings(max_examples=200, deadline=None)
@given(data=st.data(), kept=st.integers(0, 6), batch=st.integers(1, 5))
def test_the_log_gives_back_every_record_in_order_from_any_point(
    module: ModuleType, make: Any, records: Any, data: st.DataObject, kept: int, batch: int
) -> None:
    written = data.draw(st.lists(records, max_size=40))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(module, "KEPT", kept)
        patch.setattr(module, "BATCH", batch)
        log = make()
    for n, record in enumerate(written):
        log.append(record)
        assert len(log) == n + 1
        assert log.since(n) == [record]  # what an incremental reader sees next
    assert list(log) == written
    for count in range(len(written) + 2):
        assert log.since(count) == written[count:]
        assert log.head(count) == written[:count]
    assert log.codes() == Counter(r.code for r in written)
    log.close()
