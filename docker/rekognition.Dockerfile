# Rollcall local Rekognition-compatible service (YuNet + dlib) image.
#   docker build -f docker/rekognition.Dockerfile -t rollcall/rekognition .
# Stage 1 installs the pinned dependencies (dependencies/rekognition.txt, constrained by
# dependencies/constraints.txt) and the project into a virtual environment; stage 2
# copies only that environment onto the slim base: no pip cache, wheels or build tools.
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python3 -m venv /opt/venv
COPY dependencies/ /tmp/dependencies/
RUN /opt/venv/bin/pip install -c /tmp/dependencies/constraints.txt -r /tmp/dependencies/rekognition.txt
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
ENV ROLLCALL_REKOG_DATA_DIR=/app/data ROLLCALL_REKOG_MODELS_DIR=/app/models ROLLCALL_REKOG_HOST=0.0.0.0
EXPOSE 9000
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
  CMD rollcall-healthcheck http "http://127.0.0.1:${ROLLCALL_REKOG_PORT:-9000}/health"
ENTRYPOINT ["rollcall-rekognition"]
CMD ["serve"]
