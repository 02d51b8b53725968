# syntax=docker/dockerfile:1
# sora-bot image: `docker compose up -d` (see README), or
#   docker build -t sora-bot . && docker run --env-file .env -v sora-data:/data sora-bot
#
# Two stages: `build` installs the project and its dependencies into a virtualenv; `runtime` copies
# only that virtualenv onto a clean base (no pip cache, no sources, no build leftovers).
# Both stages use the same base image so the venv's interpreter path (/usr/local/bin/python3.11)
# exists in the runtime stage.
#
# ffmpeg: the `imageio-ffmpeg` wheel (a project dependency) ships a static ffmpeg binary for
# linux x86_64 and aarch64, and the bot finds it through `imageio_ffmpeg.get_ffmpeg_exe()`. That
# is the same binary the tests use, so no apt ffmpeg (~100 MB of libraries) is installed here.
# `python -m bot doctor` checks that it runs.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---- build -------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
# Metadata and the lock file first, then the packages pyproject lists (bot, cogs, db with its .sql
# migrations). requirements.lock pins every runtime dependency with its hashes (regenerate it with
# `pip-compile --generate-hashes --strip-extras --no-emit-index-url --no-emit-find-links
#  -o requirements.lock pyproject.toml`);
# the project itself is installed without dependencies, so nothing unpinned gets in.
COPY pyproject.toml README.md requirements.lock ./
COPY bot ./bot
COPY cogs ./cogs
COPY db ./db
RUN pip install --require-hashes -r requirements.lock \
    && pip install --no-deps . \
    && python -c "import imageio_ffmpeg, subprocess; subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), '-version'], check=True, capture_output=True)"

# ---- runtime -----------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="sora-bot" \
      org.opencontainers.image.description="A self-hosted Discord bot that posts Sora videos"
COPY --from=build /opt/venv /opt/venv
# A fixed, unprivileged uid; /data belongs to it. A fresh named volume mounted on /data copies
# this ownership, so the bot can write its database and videos without running as root.
RUN groupadd --system --gid 10001 sora \
    && useradd --system --uid 10001 --gid sora --home-dir /data --shell /usr/sbin/nologin sora \
    && mkdir -p /data/videos \
    && chown -R sora:sora /data
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    DATABASE_URL=sqlite:////data/sora-bot.db \
    DATA_DIR=/data/videos \
    HEALTH_HOST=127.0.0.1 \
    HEALTH_PORT=8080
WORKDIR /app
USER sora
VOLUME ["/data"]
# The health endpoint answers 503 when the gateway, the poller or the database is unhealthy;
# urlopen raises on any non-2xx or a refused connection, which makes the check fail.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ['HEALTH_PORT'], timeout=4)"]
CMD ["python", "-m", "bot"]
