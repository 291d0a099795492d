"""Expected failures of an edit, with text written for the person using Akapen.

``str(err)`` is shown to the user as is: it says what went wrong and what to do next.
Anything that is not one of these is a bug and is reported with its traceback.
"""

from __future__ import annotations


class InferenceError(Exception):
    """Base of every expected editing error."""


class InvalidRequest(InferenceError, ValueError):
    """The request cannot be run as given (missing region, wrong sizes, unsupported task...)."""


class UnknownBackend(InferenceError):
    """No backend has this name."""


class BackendUnavailable(InferenceError):
    """The backend exists but cannot run here (missing package, no GPU, missing weights)."""


class Cancelled(InferenceError):
    """The job was cancelled; it produced no result."""

    def __init__(self, message: str = "the edit was cancelled") -> None:
        super().__init__(message)


class BackendFailed(InferenceError):
    """The backend started but failed; the message names the backend and the cause."""


class OutOfMemory(BackendFailed):
    """The backend ran out of (GPU or main) memory."""
