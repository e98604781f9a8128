"""Face attributes AWS returns in FaceDetail, estimated from the image and YuNet's 5 landmarks.

Quality (Brightness, Sharpness) and Pose (Roll, Yaw, Pitch) use AWS's scales
(0-100, degrees) but are heuristics: they drive IndexFaces' QualityFilter and
are not comparable with AWS's values.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from .engine import DetectedFace


def face_quality(image: np.ndarray, face: DetectedFace) -> tuple[float, float]:
    """(Brightness, Sharpness), each 0-100: mean luminance and Laplacian energy of the face."""
    x, y, w, h = (int(round(v)) for v in face.box)
    patch = image[y : y + max(h, 1), x : x + max(w, 1)]
    if patch.size == 0:
        return 0.0, 0.0
    grey = cv2.cvtColor(patch, cv2.COLOR_BGR2GRAY)
    brightness = float(grey.mean()) / 255.0 * 100.0
    norm = cv2.resize(grey, (112, 112), interpolation=cv2.INTER_AREA)
    variance = float(cv2.Laplacian(norm, cv2.CV_64F).var())
    sharpness = 100.0 * (1.0 - math.exp(-variance / 300.0))
    return round(brightness, 4), round(sharpness, 4)


def face_pose(face: DetectedFace) -> tuple[float, float, float]:
    """(Roll, Yaw, Pitch) in degrees, estimated from the 5 landmarks (rough, +-15 degrees)."""
    eye_a, eye_b, nose, mouth_a, mouth_b = face.landmarks.astype(np.float64)
    dx, dy = eye_b - eye_a
    roll = math.degrees(math.atan2(dy, dx))
    eye_dist = max(math.hypot(dx, dy), 1e-6)
    # rotate into the face frame (eyes horizontal)
    cos_r, sin_r = math.cos(-math.radians(roll)), math.sin(-math.radians(roll))

    def rot(p: np.ndarray) -> np.ndarray:
        return np.array([p[0] * cos_r - p[1] * sin_r, p[0] * sin_r + p[1] * cos_r])

    eye_mid = rot((eye_a + eye_b) / 2)
    mouth_mid = rot((mouth_a + mouth_b) / 2)
    nose_r = rot(nose)
    yaw_ratio = (nose_r[0] - (eye_mid[0] + mouth_mid[0]) / 2) / eye_dist
    yaw = math.degrees(math.asin(max(-1.0, min(1.0, 2.0 * yaw_ratio))))
    span = max(mouth_mid[1] - eye_mid[1], 1e-6)
    pitch_ratio = (nose_r[1] - eye_mid[1]) / span  # ~0.55 frontal
    pitch = math.degrees(math.asin(max(-1.0, min(1.0, 2.0 * (0.55 - pitch_ratio)))))
    return round(roll, 3), round(yaw, 3), round(pitch, 3)
