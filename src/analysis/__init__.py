"""Experiment analysis: join every tier's JSON logs by trace id and report per-hop latency,
throughput, drops and Rekognition calls (``python -m analysis RUN_DIR``)."""
