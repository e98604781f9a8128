"""Rekognition error kinds, rendered in AWS's JSON 1.1 error shape.

botocore reads the error code from the body's ``__type`` (or the
``x-amzn-ErrorType`` header) and raises ``ClientError`` with that code.
"""

from __future__ import annotations


class RekognitionError(Exception):
    """An error answered to the client as ``{"__type": code, "message": ...}``."""

    code = "InternalServerError"
    status = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def body(self) -> dict[str, str]:
        """The JSON error body AWS sends."""
        return {"__type": self.code, "message": self.message}


class InvalidParameter(RekognitionError):
    code = "InvalidParameterException"
    status = 400


class ResourceNotFound(RekognitionError):
    code = "ResourceNotFoundException"
    status = 400


class ResourceAlreadyExists(RekognitionError):
    code = "ResourceAlreadyExistsException"
    status = 400


class InvalidImageFormat(RekognitionError):
    code = "InvalidImageFormatException"
    status = 400


class ImageTooLarge(RekognitionError):
    code = "ImageTooLargeException"
    status = 400


class AccessDenied(RekognitionError):
    code = "AccessDeniedException"
    status = 400


class InvalidPaginationToken(RekognitionError):
    code = "InvalidPaginationTokenException"
    status = 400


class UnknownOperation(RekognitionError):
    code = "UnknownOperationException"
    status = 400


class Serialization(RekognitionError):
    code = "SerializationException"
    status = 400


class InternalServerError(RekognitionError):
    code = "InternalServerError"
    status = 500
