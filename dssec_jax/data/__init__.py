"""Datasets: built-in names and users' files, one clean record."""
from .formats import DataError
from .registry import BUILTIN
from .registry import Dataset
from .registry import load_dataset
from .registry import search_dirs

__all__ = [
    "DataError",
    "BUILTIN",
    "Dataset",
    "load_dataset",
    "search_dirs",
]
