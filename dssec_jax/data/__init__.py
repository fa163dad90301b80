"""Datasets: built-in names and users' files, one clean record."""

from .formats import DataError
from .registry import BUILTIN, Dataset, load_dataset, search_dirs

__all__ = [
    "DataError",
    "BUILTIN",
    "Dataset",
    "load_dataset",
    "search_dirs",
]
