# syntax=docker/dockerfile:1
# Multi-stage: build the virtual environment with uv, run as a non-root user without it.
FROM python:3.11-slim-trixie AS build
RUN pip install --no-cache-dir uv
WORKDIR /app
COPY pyproject.toml README.md ./
COPY vendor_risk ./vendor_risk
# Production needs no embedded servers or test tools: only the runtime dependencies. Compiled
# here: the non-root user cannot write __pycache__ into /app, and compiling every module at
# each start costs seconds of CPU (`serve` ready in under 1 s needs the bytecode).
RUN uv venv /app/.venv && uv pip install --python /app/.venv/bin/python --no-cache --compile-bytecode .

# Debian trixie, named: its postgresql-client is 17, and pg_dump refuses a server newer than
# itself, so the release must ship a client at least as new as compose's postgres (16).
FROM python:3.11-slim-trixie
# WeasyPrint draws PDFs with Pango; Noto CJK gives the Chinese text a font to embed;
# `vendor-risk backup` and `restore` run pg_dump and pg_restore.
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-noto-cjk postgresql-client \
    && rm -rf /var/lib/apt/lists/*
RUN useradd --create-home --uid 10001 vendor-risk
WORKDIR /app
COPY --from=build /app/.venv /app/.venv
COPY migrations ./migrations
COPY questionnaires ./questionnaires
COPY notices ./notices
COPY policy.yaml ./policy.yaml
ENV PATH="/app/.venv/bin:$PATH" \
    VENDOR_RISK_LOG_JSON=true \
    PYTHONUNBUFFERED=1
USER vendor-risk
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --retries=5 \
    CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz').status == 200 else 1)"
CMD ["vendor-risk", "serve", "--host", "0.0.0.0", "--port", "8000", "--skip-migrate"]
