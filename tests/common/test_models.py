import functools
import http.server
import threading

import pytest

from common.models import KNOWN_MODELS, MissingModelError, ModelError, fetch_model, sha256_of
from tests.conftest import require_asset

YUNET = "face_detection_yunet_2023mar.onnx"


@pytest.fixture
def http_mirror(tmp_path):
    """A local HTTP server (127.0.0.1) serving a directory, like an internal model mirror."""
    root = tmp_path / "served"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a, **k: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}/models"
    server.shutdown()
    server.server_close()


def test_download_from_http_mirror_is_checked(http_mirror, tmp_path):
    root, url = http_mirror
    (root / "models").mkdir()
    (root / "models" / YUNET).write_bytes(require_asset(f"models/{YUNET}").read_bytes())
    path = fetch_model(YUNET, tmp_path / "m", mirror=url)
    assert sha256_of(path) == KNOWN_MODELS[YUNET].sha256


def test_tampered_download_is_refused_and_nothing_left(http_mirror, tmp_path):
    root, url = http_mirror
    (root / "models").mkdir()
    (root / "models" / YUNET).write_bytes(b"evil")
    with pytest.raises(ModelError, match="sha256"):
        fetch_model(YUNET, tmp_path / "m", mirror=url)
    assert list((tmp_path / "m").iterdir()) == []


def test_unreachable_download_and_missing_mirror_copy(http_mirror, tmp_path):
    _, url = http_mirror
    with pytest.raises(ModelError, match="download from .* failed"):
        fetch_model(YUNET, tmp_path / "m", mirror=url)  # 404
    with pytest.raises(MissingModelError, match=YUNET):
        fetch_model(YUNET, tmp_path / "m", mirror=tmp_path)
    assert list((tmp_path / "m").iterdir()) == []
