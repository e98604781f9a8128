"""Local Rekognition-compatible face service (YuNet detection, dlib ResNet embeddings).

Request threads already run searches in parallel; a multi-threaded BLAS under
them only contends with OpenCV's pool (a 10 000-face search measured 0.06-7 ms
with OpenBLAS threads vs a steady 0.075 ms with one), so OpenBLAS defaults to one
thread here. It takes effect when this package is imported before numpy (the
CLI, containers); an explicit OPENBLAS_NUM_THREADS wins.
"""

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
