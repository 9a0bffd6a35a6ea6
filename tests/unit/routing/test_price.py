from decimal import Decimal

from routing.llm_gateway import Price


def test_cost_is_exact_integer_nano_dollars() -> None:
    gpt_4o_mini = Price(Decimal("1.5e-07"), Decimal("6e-07"))
    assert gpt_4o_mini.cost_nano_usd(1000, 500) == 150_000 + 300_000
    # A thousand one-token calls cost exactly a thousand times one call: no float drift.
    assert sum(gpt_4o_mini.cost_nano_usd(1, 1) for _ in range(1000)) == gpt_4o_mini.cost_nano_usd(1000, 1000)


def test_sub_nano_costs_round_half_up() -> None:
    tiny = Price(Decimal("1e-10"), Decimal("0"))
    assert tiny.cost_nano_usd(4, 0) == 0
    assert tiny.cost_nano_usd(5, 0) == 1
