"""Motion gate: frame differencing on small grey frames, so a still scene sends nothing."""

from __future__ import annotations

import cv2
import numpy as np


class MotionGate:
    """Passes a frame when enough of it changed since the last frame that passed.

    Frames are reduced to ``width`` pixels wide, grey and blurred (cheap, and
    insensitive to sensor noise and JPEG artefacts). A pixel counts as changed
    when its grey level moved by more than ``pixel_delta``; the frame passes when
    the changed fraction is at least ``threshold``. Comparing with the last *sent*
    frame (not the previous one) means slow changes add up and are eventually sent.
    The first frame always passes, and so does a frame when ``keyframe_interval_s``
    (timeline seconds, 0 = never) passed since the last one sent.

    With ``check(..., commit=False)`` the reference only moves when :meth:`commit`
    is called, i.e. when the frame really left (a dropped frame does not count
    as seen by the edge, so the next frame is compared with what the edge has).
    """

    def __init__(
        self,
        threshold: float = 0.005,
        pixel_delta: int = 25,
        width: int = 160,
        keyframe_interval_s: float = 0.0,
    ) -> None:
        self.threshold = threshold
        self.pixel_delta = pixel_delta
        self.width = width
        self.keyframe_interval_s = keyframe_interval_s
        self._reference: np.ndarray | None = None
        self._last_sent_t: float | None = None
        self.last_score = 0.0
        self.last_reason = ""
        self._candidate: tuple[np.ndarray, float] | None = None

    def prepare(self, image: np.ndarray) -> np.ndarray:
        """The small blurred grey version of ``image`` that is compared."""
        grey = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        h, w = grey.shape[:2]
        if w > self.width:
            grey = cv2.resize(grey, (self.width, max(1, round(h * self.width / w))), interpolation=cv2.INTER_AREA)
        return cv2.GaussianBlur(grey, (5, 5), 0)

    def score(self, small: np.ndarray) -> float:
        """Fraction of pixels of ``small`` that differ from the reference (1.0 without one)."""
        if self._reference is None or self._reference.shape != small.shape:
            return 1.0
        diff = cv2.absdiff(small, self._reference)
        return float(np.count_nonzero(diff > self.pixel_delta)) / diff.size

    def check(self, image: np.ndarray, t: float, commit: bool = True) -> bool:
        """True if the frame at timeline time ``t`` should be sent; it then becomes the
        reference (at once, or on :meth:`commit` when ``commit=False``)."""
        small = self.prepare(image)
        self.last_score = self.score(small)
        if self._reference is None:
            self.last_reason = "first"
        elif self.last_score >= self.threshold:
            self.last_reason = "motion"
        elif (
            self.keyframe_interval_s > 0
            and self._last_sent_t is not None
            and t - self._last_sent_t >= self.keyframe_interval_s
        ):
            self.last_reason = "keyframe"
        else:
            self.last_reason = ""
            return False
        self._candidate = (small, t)
        if commit:
            self.commit()
        return True

    def commit(self) -> None:
        """Make the last frame that passed :meth:`check` the reference."""
        if self._candidate is not None:
            self._reference, self._last_sent_t = self._candidate
            self._candidate = None
