# Rollcall cloud (recognition, attendance, API + dashboard) image.
#   docker build -f docker/cloud.Dockerfile -t rollcall/cloud .
# Stage 1 installs the pinned dependencies (dependencies/cloud.txt, constrained by
# dependencies/constraints.txt) and the project into a virtual environment; stage 2
# copies only that environment onto the slim base: no pip cache, wheels or build tools.
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python3 -m venv /opt/venv
COPY dependencies/ /tmp/dependencies/
RUN /opt/venv/bin/pip install -c /tmp/dependencies/constraints.txt -r /tmp/dependencies/cloud.txt
COPY pyproject.toml README.md /tmp/project/
COPY src/ /tmp/project/src/
RUN rm -rf /tmp/project/src/*.egg-info \
 && /opt/venv/bin/pip install --no-deps /tmp/project

FROM python:3.11-slim
ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 \
    ROLLCALL_LOG_DIR=/app/logs
COPY --from=build /opt/venv /opt/venv
COPY docker/healthcheck.py /usr/local/bin/rollcall-healthcheck
# Non-root user; the directories exist so named volumes mounted there inherit the ownership.
RUN chmod 0755 /usr/local/bin/rollcall-healthcheck \
 && useradd --uid 10001 --user-group --home-dir /app --no-create-home --shell /usr/sbin/nologin rollcall \
 && mkdir -p /app/logs /app/data /app/models /app/demo-frames \
 && chown -R rollcall:rollcall /app
WORKDIR /app
USER rollcall
ENV ROLLCALL_CLOUD_DATA_DIR=/app/data
EXPOSE 8080 5556
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
  CMD rollcall-healthcheck http "http://127.0.0.1:${ROLLCALL_CLOUD_HTTP_PORT:-8080}/api/health"
ENTRYPOINT ["rollcall-cloud"]
CMD ["serve"]
