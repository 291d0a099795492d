"""What can go wrong with a Gemini edit: each a typed error whose text says what happened and what to do.

None of them holds the key; the canvas is never touched (nothing reaches the document until a result
exists).
"""

from __future__ import annotations

from inference.errors import BackendFailed, BackendUnavailable, InvalidRequest


class KeyMissing(BackendUnavailable):
    """No API key: neither ``GEMINI_API_KEY`` nor one entered in the settings."""


class KeyRejected(BackendUnavailable):
    """The API refused the key (400 API_KEY_INVALID, 401, 403)."""


class QuotaExceeded(BackendFailed):
    """429: the quota or the rate limit is reached; ``retry_after`` seconds, when the API said."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Refused(BackendFailed):
    """The model refused (a safety or policy block): no image; ``reason`` is the API's finish or block reason."""

    def __init__(self, message: str, reason: str = "") -> None:
        super().__init__(message)
        self.reason = reason


class NoImage(BackendFailed):
    """The answer came without an image (the model answered in words only)."""


class NetworkFailed(BackendFailed):
    """The API could not be reached, or did not answer in time."""


class RequestTooLarge(InvalidRequest):
    """The request is over what the API takes, even after the pictures were made smaller."""


class ApiFailed(BackendFailed):
    """Any other refusal or failure the API reported (its code, status and message)."""
