# The router worker and analytics sink image used by docker-compose.yml.
FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 UV_PROJECT_ENVIRONMENT=/opt/venv PATH=/opt/venv/bin:$PATH
RUN pip install --no-cache-dir uv==0.13.9
WORKDIR /app
COPY pyproject.toml uv.lock README.md ./
COPY schemas schemas
COPY routing routing
COPY streams streams
COPY analytics analytics
COPY infra infra
COPY mobius mobius
# Bytecode compiled into the image: with PYTHONDONTWRITEBYTECODE each container start would
# otherwise compile LiteLLM and the rest from source again (~2x the import time; see infra/setup.sh).
RUN uv sync --frozen --no-dev --compile-bytecode
ENTRYPOINT ["mobius"]
