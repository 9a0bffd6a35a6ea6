# The README's quickstart: `make demo` runs the main job, `make test` runs every gate and test.
.PHONY: setup demo test lint

setup:
	./infra/setup.sh

demo: setup
	.venv/bin/mobius demo

lint:
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy
	.venv/bin/lint-imports

test: setup lint
	.venv/bin/pytest
