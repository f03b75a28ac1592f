# yuqing as a container image: `yuqing serve` by default, `yuqing worker` for the analysis workers
# (see compose.yaml and docs/deploy.md). Non-root, with Noto CJK fonts for reports and charts.
#
#   docker build -t yuqing .
#   docker run --rm -p 8000:8000 -e YUQING_DATABASE_URL=postgresql+psycopg://... yuqing

FROM python:3.11-slim-bookworm AS build
ENV UV_PYTHON_DOWNLOADS=never \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PROJECT_ENVIRONMENT=/opt/yuqing
RUN pip install --no-cache-dir uv
WORKDIR /src
# The locked dependencies first, so that a code change does not reinstall them.
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project
COPY src ./src
RUN uv sync --frozen --no-dev --no-editable

FROM python:3.11-slim-bookworm
# fonts-noto-cjk: every Chinese glyph in PDF reports and charts (yuqing ships a subset otherwise);
# postgresql-client: pg_dump / pg_restore for `yuqing backup` and `yuqing restore`;
# tini: signals reach yuqing (SIGTERM stops a worker after its batch).
RUN apt-get update \
    && apt-get install -y --no-install-recommends fonts-noto-cjk postgresql-client tini \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 yuqing \
    && useradd --system --uid 10001 --gid yuqing --home-dir /var/lib/yuqing --create-home yuqing
COPY --from=build /opt/yuqing /opt/yuqing
ENV PATH=/opt/yuqing/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    YUQING_HOST=0.0.0.0 \
    YUQING_PORT=8000 \
    YUQING_TIMEZONE=Asia/Shanghai
USER yuqing
WORKDIR /var/lib/yuqing
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('YUQING_PORT', '8000'), timeout=4)"]
ENTRYPOINT ["tini", "--", "yuqing"]
CMD ["serve"]
