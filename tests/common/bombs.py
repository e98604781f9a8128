"""Image bombs (issue 13 item 3) and a peak-RSS probe for the regression tests of every tier.

* :func:`big_jpeg`: a real 6000x6000 JPEG of ~180 KB (36 MP, inside the old 40 MP guard): decoded it
  is a 108 MB array, and it took the edge 2.9 GB through the models.
* :func:`junk_before_sof`: a small JPEG whose frame header announces 12000x12000 (144 MP) with one
  junk byte before the SOF marker: the old header parser gave up (None) and the image was decoded
  anyway - libjpeg skips the junk byte and allocates 432 MB.
* :func:`mismatch_jpeg`: an honest 1920x1080 JPEG sent with a wire header claiming 320x240.

:func:`peak_rss_mb` runs a snippet in a fresh interpreter, which reports its own peak resident
memory (``VmHWM``) when it is done, so the pytest process's own memory never counts.
"""

from __future__ import annotations

import os
import struct
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np

#: The bar of issue 13: each bomb is refused under this peak resident memory, at every tier.
RSS_LIMIT_MB = 200.0
BIG_SIDE = 6000
JUNK_SIDE = 12000
_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def big_jpeg(side: int = BIG_SIDE) -> bytes:
    """A real ``side`` x ``side`` grey JPEG (a disc on a flat background), optimised: ~180 KB at 6000."""
    image = np.full((side, side), 110, np.uint8)
    cv2.circle(image, (side // 2, side // 2), side // 3, 190, -1)
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 80, cv2.IMWRITE_JPEG_OPTIMIZE, 1])
    assert ok
    return buf.tobytes()


def sof_offset(jpeg: bytes) -> int:
    """Where the start-of-frame marker of a well-formed JPEG is."""
    pos = 2
    while pos + 4 <= len(jpeg):
        assert jpeg[pos] == 0xFF, "not a marker"
        marker = jpeg[pos + 1]
        if marker in _SOF_MARKERS:
            return pos
        (length,) = struct.unpack(">H", jpeg[pos + 2 : pos + 4])
        pos += 2 + length
    raise ValueError("no start-of-frame marker")


def jpeg_with_size(jpeg: bytes, width: int, height: int) -> bytes:
    """``jpeg`` with its frame header rewritten to announce ``width`` x ``height`` (data unchanged:
    libjpeg still decodes it, grey where the data runs out)."""
    out = bytearray(jpeg)
    pos = sof_offset(jpeg)
    out[pos + 5 : pos + 9] = struct.pack(">HH", height, width)
    return bytes(out)


def junk_before_sof(side: int = JUNK_SIDE) -> bytes:
    """A 64x64 JPEG re-announced as ``side`` x ``side``, with one junk byte before its SOF marker."""
    ok, buf = cv2.imencode(".jpg", np.full((64, 64, 3), 128, np.uint8))
    assert ok
    jpeg = jpeg_with_size(buf.tobytes(), side, side)
    pos = sof_offset(jpeg)
    return jpeg[:pos] + b"\x00" + jpeg[pos:]


def mismatch_jpeg() -> tuple[bytes, tuple[int, int]]:
    """A real 1920x1080 JPEG and the (width, height) its wire header will claim instead: 320x240."""
    rng = np.random.default_rng(5)
    small = rng.integers(0, 255, (27, 48, 3), dtype=np.uint8)
    image = cv2.resize(small, (1920, 1080), interpolation=cv2.INTER_CUBIC)
    ok, buf = cv2.imencode(".jpg", image)
    assert ok
    return buf.tobytes(), (320, 240)


def peak_rss_mb(
    code: str, payload: bytes, tmp_path: Path, timeout_s: float = 120.0, env: dict[str, str] | None = None
) -> tuple[float, str]:
    """Run ``code`` in a new interpreter with ``sys.argv[1]`` = a file holding ``payload``; return
    its peak RSS (MB) and what it printed. Fails if the child fails."""
    path = tmp_path / "payload.bin"
    path.write_bytes(payload)
    child = subprocess.Popen(
        [sys.executable, "-c", code + PEAK_LINE, str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )
    try:
        out, err = child.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        child.kill()
        out, err = child.communicate()
        raise AssertionError(f"child still running after {timeout_s} s: {err[-2000:]}") from None
    assert child.returncode == 0, f"child failed ({child.returncode}): {err[-3000:]}"
    lines = out.strip().splitlines()
    peak_kb = int(lines[-1].split("=", 1)[1])
    return peak_kb / 1024, "\n".join(lines[:-1])


#: Appended to every probe snippet: the child prints its own peak RSS last, in kB. VmHWM is the peak
#: of this process image only; ``ru_maxrss`` would start from the parent's RSS at fork time (Linux
#: carries it over exec), which hides a small child behind a large pytest process.
PEAK_LINE = """
def _peak_kb():
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print("peak_kb=%d" % _peak_kb())
"""
