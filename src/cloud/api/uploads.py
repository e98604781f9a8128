"""Photo uploads: read the image from the request and check it before the service sees it.

An upload is a multipart form with a ``photo`` file field, or a raw
``image/jpeg`` / ``image/png`` body. The request size is capped by Flask's
``MAX_CONTENT_LENGTH`` (413). The image must be a JPEG or PNG (415 otherwise),
its header must announce sane dimensions (checked before decoding, so a small
file cannot expand into gigabytes) and it must decode (422 otherwise).
"""

from __future__ import annotations

from flask import request

from common.images import MAX_PIXELS, ImageDecodeError, decode_image, image_dimensions, image_kind

from .errors import ApiError

RAW_IMAGE_TYPES = frozenset({"image/jpeg", "image/png"})
MIN_SIDE_PX = 32
MAX_SIDE_PX = 8192


def read_photo_upload() -> bytes:
    """The uploaded image bytes, validated; raises ApiError (400/415/422)."""
    mimetype = request.mimetype
    if mimetype == "multipart/form-data":
        upload = request.files.get("photo")
        if upload is None:
            raise ApiError(400, "missing_field", "multipart upload has no 'photo' file field")
        data = upload.read()
    elif mimetype in RAW_IMAGE_TYPES:
        data = request.get_data()
    else:
        raise ApiError(
            415,
            "unsupported_media_type",
            "upload a photo as multipart/form-data (field 'photo') or as an image/jpeg or image/png body, "
            f"not {mimetype or 'no content type'}",
        )
    check_image(data)
    return data


def check_image(data: bytes) -> tuple[int, int]:
    """Validate an encoded image; return its (width, height)."""
    if not data:
        raise ApiError(422, "invalid_image", "the uploaded photo is empty")
    kind = image_kind(data)
    if kind is None:
        raise ApiError(415, "unsupported_media_type", "the uploaded file is not a JPEG or PNG image")
    size = image_dimensions(data)
    if size is None:
        raise ApiError(422, "invalid_image", f"the uploaded {kind.upper()} is corrupt (no readable image header)")
    width, height = size
    if min(width, height) < MIN_SIDE_PX:
        raise ApiError(
            422, "invalid_image", f"photo is {width}x{height} px; at least {MIN_SIDE_PX} px per side is needed"
        )
    if max(width, height) > MAX_SIDE_PX or width * height > MAX_PIXELS:
        raise ApiError(
            422,
            "invalid_image",
            f"photo is {width}x{height} px; at most {MAX_SIDE_PX} px per side and {MAX_PIXELS // 1_000_000} MP",
        )
    try:
        decode_image(data)
    except ImageDecodeError:
        raise ApiError(422, "invalid_image", f"the uploaded {kind.upper()} cannot be decoded") from None
    return width, height
