from litellm import token_counter

from routing.tokens import EXACT_COUNT_MAX_CHARS, count_tokens


def test_counts_like_litellm_within_a_token_per_message() -> None:
    messages = [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "Explain the CAP theorem with one example, then list two caveats."},
    ]
    ours = count_tokens(messages)
    theirs = int(token_counter(model="gpt-4o", messages=messages))
    assert abs(ours - theirs) <= len(messages)
    assert ours > 20


def test_huge_prompts_are_estimated_not_tokenized() -> None:
    text = "word " * (EXACT_COUNT_MAX_CHARS // 5 + 1000)
    assert count_tokens([{"role": "user", "content": text}]) == len(text) // 4 + 4
