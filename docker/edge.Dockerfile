# Rollcall edge (ONNX Runtime person + YuNet face detection, no torch) image.
# Size budget: at most 500 MB (the torch-based edge of the replaced system was 1.76 GB).
#   docker build -f docker/edge.Dockerfile -t rollcall/edge .
# Stage 1 installs the pinned dependencies (dependencies/edge.txt, constrained by
# dependencies/constraints.txt) and the project into a virtual environment; stage 2
# copies only that environment onto the slim base: no pip cache, wheels or build tools.
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python3 -m venv /opt/venv
COPY dependencies/ /tmp/dependencies/
RUN /opt/venv/bin/pip install -c /tmp/dependencies/constraints.txt -r /tmp/dependencies/edge.txt
COPY pyproject.toml README.md /tmp/project/
COPY src/ /tmp/project/src/
RUN rm -rf /tmp/project/src/*.egg-info \
 && /opt/venv/bin/pip install --no-deps /tmp/project

# Stage 2: the runtime file system = base + that environment, minus what never runs on an
# edge device (C headers, the static libpython, docs, man pages, locales, pip and wheels).
# Stage 3 copies the pruned tree into one layer: files deleted in a later layer would still
# ship in the base layer, so pruning only pays when the result is flattened.
FROM python:3.11-slim AS runtime
COPY --from=build /opt/venv /opt/venv
COPY docker/healthcheck.py /usr/local/bin/rollcall-healthcheck
RUN chmod 0755 /usr/local/bin/rollcall-healthcheck \
 && useradd --uid 10001 --user-group --home-dir /app --no-create-home --shell /usr/sbin/nologin rollcall \
 && mkdir -p /app/logs /app/data /app/models \
 && chown -R rollcall:rollcall /app \
 && /opt/venv/bin/pip uninstall -y -q pip setuptools \
 && rm -rf /usr/include /usr/share/doc /usr/share/man /usr/share/info /usr/share/locale \
      /usr/share/python-wheels /usr/lib/python3/dist-packages/pip /usr/lib/python3/dist-packages/setuptools \
      /usr/lib/python3/dist-packages/pkg_resources /usr/lib/python3.11/config-3.11-*/*.a \
      /var/lib/apt/lists/* /var/cache/apt/* /var/cache/debconf/*-old /tmp/* \
      /opt/venv/lib/python3.11/site-packages/onnxruntime/transformers \
      /opt/venv/lib/python3.11/site-packages/onnxruntime/quantization \
      /opt/venv/lib/python3.11/site-packages/onnxruntime/tools \
      /opt/venv/lib/python3.11/site-packages/numpy/*/tests /opt/venv/lib/python3.11/site-packages/numpy/tests

FROM scratch
COPY --from=runtime / /
ENV PATH=/opt/venv/bin:/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin \
    LANG=C.UTF-8 PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 \
    ROLLCALL_LOG_DIR=/app/logs ROLLCALL_EDGE_MODELS_DIR=/app/models
WORKDIR /app
USER rollcall
EXPOSE 5555
# Healthy = models loaded and sockets bound (`edge_started` logged) and the JSON log keeps
# being written (a `metrics` line every interval).
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 CMD ["rollcall-healthcheck", "log", "edge", "-", "edge_started"]
ENTRYPOINT ["rollcall-edge"]
