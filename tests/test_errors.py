"""The problems a person must act on share one shape: a code naming the message, and its
parameters. Each layer keeps its own name, so a caller catches only its own problems."""

from __future__ import annotations

import pytest

from triage.dates import DayError, parse_day
from triage.db.errors import DbError
from triage.errors import CodedError
from triage.export import ExportError
from triage.i18n import t
from triage.rebalance import RebalanceError
from triage.walk import AnswerError


@pytest.mark.parametrize("kind", [DbError, ExportError, RebalanceError, DayError, AnswerError])
def test_every_problem_is_one_coded_error(kind):
    error = kind("db_newer", found=5, supported=4)
    assert isinstance(error, CodedError)
    assert (error.code, error.params) == ("db_newer", {"found": 5, "supported": 4})
    assert "5" in t(error.code, "en", **error.params)


def test_a_wrong_day_is_still_a_value_error_with_its_code():
    """Callers that catch ValueError (argparse's types among them) go on catching it."""
    with pytest.raises(ValueError) as caught:
        parse_day("2026-13-01")
    assert isinstance(caught.value, DayError) and caught.value.code == "bad_date"
    assert caught.value.params == {"value": "2026-13-01"}
    assert not issubclass(DbError, ValueError) and not issubclass(ExportError, DbError)
