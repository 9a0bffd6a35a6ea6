"""A query on the plain queries topic waits in the lane of its tier."""

from __future__ import annotations

import pytest

from schemas.events import QueryEvent, encode_query, now_utc
from schemas.vocabulary import TIERS, Tier
from streams.route_agent import tier_of


@pytest.mark.parametrize("tier", TIERS)
def test_a_readable_query_takes_its_tiers_lane(tier: Tier) -> None:
    query = QueryEvent(
        request_id="r1",
        created_at=now_utc(),
        user_id="u1",
        tier=tier,
        messages=({"role": "user", "content": "hi"},),  # type: ignore[arg-type]
        reply_to="mobius.replies",
    )
    assert tier_of(encode_query(query)) == tier


def test_unreadable_bytes_wait_in_the_lowest_lane() -> None:
    assert tier_of(b"not avro at all") == "free"
