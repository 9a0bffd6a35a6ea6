"""A stand-in for paid LLM APIs: OpenAI `/v1/chat/completions` and Anthropic `/v1/messages`."""
