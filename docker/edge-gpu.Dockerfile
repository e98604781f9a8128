# Rollcall edge, optional variant for NVIDIA GPU hosts: the ultralytics backend on PyTorch (CUDA).
#   docker build -f docker/edge-gpu.Dockerfile -t rollcall/edge-gpu .
#   docker compose -f docker-compose.yml -f docker-compose.gpu.yml up     # needs nvidia-container-toolkit
# The default edge image (docker/edge.Dockerfile) stays torch-free: ONNX Runtime on the CPU, < 500 MB.
# This one is several GB (torch 2.13.0 from PyPI pulls the CUDA libraries) and is not built by CI.
# Versions are those of dependencies/export.txt (the same torch / torchvision / ultralytics that
# export the ONNX models), under dependencies/constraints.txt.
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python3 -m venv /opt/venv
COPY dependencies/ /tmp/dependencies/
RUN /opt/venv/bin/pip install -c /tmp/dependencies/constraints.txt -r /tmp/dependencies/edge.txt \
      torch==2.13.0 torchvision==0.28.0 ultralytics==8.4.190
COPY pyproject.toml README.md /tmp/project/
COPY src/ /tmp/project/src/
RUN rm -rf /tmp/project/src/*.egg-info && /opt/venv/bin/pip install --no-deps /tmp/project

FROM python:3.11-slim
# ultralytics pulls opencv-python (not headless), which needs libGL and GLib at import time.
USER root
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libgl1 libglib2.0-0 \
 && rm -rf /var/lib/apt/lists/*
ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 \
    ROLLCALL_LOG_DIR=/app/logs ROLLCALL_EDGE_MODELS_DIR=/app/models \
    ROLLCALL_EDGE_BACKEND=ultralytics ROLLCALL_EDGE_DEVICE=cuda:0 \
    ROLLCALL_EDGE_PERSON_MODEL=yolov8n.pt \
    YOLO_OFFLINE=1 YOLO_AUTOINSTALL=false YOLO_CONFIG_DIR=/tmp/ultralytics
COPY --from=build /opt/venv /opt/venv
COPY docker/healthcheck.py /usr/local/bin/rollcall-healthcheck
RUN chmod 0755 /usr/local/bin/rollcall-healthcheck \
 && useradd --uid 10001 --user-group --home-dir /app --no-create-home --shell /usr/sbin/nologin rollcall \
 && mkdir -p /app/logs /app/models \
 && chown -R rollcall:rollcall /app
WORKDIR /app
USER rollcall
EXPOSE 5555
HEALTHCHECK --interval=10s --timeout=5s --start-period=90s --retries=3 CMD ["rollcall-healthcheck", "log", "edge", "-", "edge_started"]
ENTRYPOINT ["rollcall-edge"]
