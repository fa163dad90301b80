"""The library version (one place: pyproject reads it, model files record it)."""

__version__ = "0.2.0"
