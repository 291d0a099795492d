"""Expected failures of training, with text written for the person using Akapen.

``str(err)`` is shown as it is: what went wrong and what to do next. They are InferenceErrors, so
the job seam and the command line treat them as every other expected error.
"""

from __future__ import annotations

from inference.errors import Cancelled, InferenceError, OutOfMemory


class TrainingError(InferenceError):
    """Training cannot start or cannot go on; nothing the user made was changed."""


class DatasetError(TrainingError):
    """The pairs cannot be trained on as they are (too few, mismatched, unreadable)."""


class CannotTrain(TrainingError):
    """This model's family cannot be trained here (the message says why)."""


class CheckpointError(TrainingError):
    """A checkpoint could not be written or read; the previous one is untouched."""


__all__ = ["TrainingError", "DatasetError", "CannotTrain", "CheckpointError", "Cancelled", "OutOfMemory"]
