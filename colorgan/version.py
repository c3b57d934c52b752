"""colorgan's version: its own module, so checkpoints can record it without importing the package root."""

__version__ = "0.3.0"
