"""Errors raised by the cloud service; each maps to one HTTP status and code."""

from __future__ import annotations


class CloudError(Exception):
    """Base class. ``http_status`` and ``code`` feed the API's error body."""

    http_status = 500
    code = "internal_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(CloudError):
    """The named student / classroom / session / face / evidence does not exist."""

    http_status = 404
    code = "not_found"


class Conflict(CloudError):
    """The request clashes with the current state (duplicate id, open session, ...)."""

    http_status = 409
    code = "conflict"


class InvalidInput(CloudError):
    """A well-formed request with values that cannot be used."""

    http_status = 422
    code = "invalid_input"


class EnrolmentError(InvalidInput):
    """An enrolment photo with no face, several faces or an unusable image."""

    code = "enrolment_rejected"


class RecognitionUnavailable(CloudError):
    """Rekognition cannot be reached (no credentials, endpoint down, access denied)."""

    http_status = 503
    code = "recognition_unavailable"
