import pytest

from schemas.events import QUERY_CODEC, MalformedEvent, decode_query
from tests.support.events import QUERY


def _encoded(**changes: object) -> bytes:
    return QUERY_CODEC.encode({**QUERY.model_dump(), **changes})


@pytest.mark.parametrize(
    ("changes", "reason", "reply_to"),
    [
        (
            {"tier": "platinum"},
            "tier: Input should be 'free', 'pro' or 'enterprise' (got 'platinum')",
            "mobius.replies",
        ),
        ({"messages": []}, "messages", "mobius.replies"),
        ({"messages": [{"role": "user", "content": "  "}]}, "every message is empty", "mobius.replies"),
        ({"messages": [{"role": "robot", "content": "x"}]}, "messages.0.role", "mobius.replies"),
        ({"user_id": ""}, "user_id", "mobius.replies"),
        ({"user_id": "u" * 201}, "user_id", "mobius.replies"),  # user and org ids become Redis keys
        ({"org_id": "o" * 201}, "org_id", "mobius.replies"),
        ({"reply_to": ""}, "reply_to must be a Kafka topic name", None),
        ({"reply_to": "bad topic!"}, "reply_to", None),
    ],
)
def test_invalid_queries_say_why_and_keep_a_readable_reply_to(
    changes: dict[str, object], reason: str, reply_to: str | None
) -> None:
    with pytest.raises(MalformedEvent) as caught:
        decode_query(_encoded(**changes))
    assert reason in caught.value.reason
    assert caught.value.request_id == "r-1"
    assert caught.value.reply_to == reply_to


def test_undecodable_bytes_have_no_reply_to() -> None:
    with pytest.raises(MalformedEvent) as caught:
        decode_query(b"nonsense")
    assert caught.value.reply_to is None and caught.value.request_id is None
