from infra.simulator.behaviour import Controls, Outcome, RateWindow, decide, piece_delay_s, stream_pieces


def test_a_streams_pieces_join_to_the_answer_exactly() -> None:
    text = 'gpt-4o (simulated) working through "x"  step by step.\nStep 1: a point.\n'
    pieces = stream_pieces(text)
    assert len(pieces) > 5 and "".join(pieces) == text


def test_a_stream_takes_as_long_as_the_answer_unless_told_otherwise() -> None:
    outcome = Outcome("ok", 10, 20, latency_s=1.0, text="a b c d", ttft_s=0.2)
    assert piece_delay_s(outcome, 4, Controls()) == 0.2
    assert piece_delay_s(outcome, 4, Controls(inter_token_ms=5)) == 0.005


def test_the_time_to_first_token_is_the_models_scaled_or_the_one_set() -> None:
    texts = ["What is the capital of France?"]
    own = decide("gpt-4o-mini", texts, None, controls=Controls(latency_scale=0.5), rates=RateWindow(), roll=1)
    assert own.ttft_s == 0.175  # 350 ms, halved
    fixed = Controls(stream_ttft_ms=40)
    assert decide("gpt-4o-mini", texts, None, controls=fixed, rates=RateWindow(), roll=1).ttft_s == 0.04
