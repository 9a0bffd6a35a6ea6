from datetime import UTC, datetime

import pytest

from analytics.rows import COLUMNS, OutOfRange, completion_row
from tests.support.analytics import record


def test_a_row_holds_every_column_in_order() -> None:
    row = completion_row(record(4, cost=7))
    assert len(row) == len(COLUMNS)
    assert row[COLUMNS.index("cost_nano_usd")] == 7


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"prompt_tokens": -1}, "prompt_tokens = -1 is outside the column's range 0..4294967295"),
        ({"queue_wait_ms": -20}, "queue_wait_ms = -20"),
        ({"fallback_count": 2**32}, "fallback_count = 4294967296"),
        ({"cost_nano_usd": -1}, "cost_nano_usd = -1 is outside the column's range 0..18446744073709551615"),
        (
            {"created_at": datetime(1969, 12, 31, tzinfo=UTC)},
            "created_at = 1969-12-31T00:00:00+00:00 is outside",
        ),
        ({"completed_at": datetime(2106, 2, 8, tzinfo=UTC)}, "completed_at = 2106-02-08"),
    ],
)
def test_a_value_the_column_cannot_hold_is_refused_with_its_name(
    change: dict[str, object], message: str
) -> None:
    with pytest.raises(OutOfRange, match=message.replace("+", r"\+").replace(".", r"\.")):
        completion_row(record(1, cost=1).model_copy(update=change))


def test_the_edges_of_each_range_are_accepted() -> None:
    edge = record(1, cost=1).model_copy(
        update={
            "prompt_tokens": 2**32 - 1,
            "cost_nano_usd": 0,
            "created_at": datetime(1970, 1, 1, tzinfo=UTC),
            "completed_at": datetime(2106, 2, 7, 6, 28, 15, tzinfo=UTC),
        }
    )
    assert completion_row(edge)[COLUMNS.index("prompt_tokens")] == 2**32 - 1
