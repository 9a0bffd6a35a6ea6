"""A fixed QueryEvent shared by the codec, event and pipeline tests."""

from datetime import UTC, datetime

from schemas.events import ChatMessage, QueryEvent, QueryHints

QUERY = QueryEvent(
    request_id="r-1",
    created_at=datetime(2026, 11, 25, 12, 0, 0, tzinfo=UTC),
    user_id="u-7",
    org_id="acme",
    tier="pro",
    messages=(ChatMessage(role="user", content="Hi"),),
    hints=QueryHints(max_tokens=64),
    reply_to="mobius.replies",
    metadata={"app": "x"},
)
