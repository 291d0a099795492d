"""The training panel: pairs, a base model and few settings in; a LoRA in the LoRA list out."""

from desktop.panels.training.panel import TrainingPanel

__all__ = ["TrainingPanel"]
