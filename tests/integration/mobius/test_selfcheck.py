from mobius.settings import MobiusSettings
from mobius.tools.selfcheck import run_roundtrip


async def test_one_message_goes_round_kafka_redis_and_clickhouse(stack_settings: MobiusSettings) -> None:
    hops = await run_roundtrip(stack_settings)
    assert [hop.name for hop in hops] == ["kafka", "redis", "clickhouse"]
    assert all(hop.millis > 0 for hop in hops)
