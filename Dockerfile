# syntax=docker/dockerfile:1
# Build stage: install the project and its dependencies into a virtual environment.
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
COPY pyproject.toml README.md ./
COPY digest ./digest
COPY bot ./bot
RUN pip install .

# Runtime stage: the venv only, run as an unprivileged user.
FROM python:3.11-slim AS runtime
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    DATABASE_URL=sqlite:////data/digest.db
RUN useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin digest \
    && mkdir -p /data /app && chown digest:digest /data /app
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
USER digest
VOLUME ["/data"]
CMD ["python", "-m", "bot"]
