"""Per-dataset presets (as in IDEC's public code), overridable by flags."""
from __future__ import annotations

import re

# update interval T and clustering optimizer; everything else uses Config's defaults.
PRESETS: dict[str, dict] = {
    "digits": {"update_interval": 30},
    "usps": {"update_interval": 30},
    "coil20": {"update_interval": 30},
    "mnist": {"update_interval": 140},
    "fashion_mnist": {"update_interval": 140},
}


def preset(dataset: str) -> dict:
    """Preset overrides for a dataset name ({} for users' own files); a subset
    ``<name>_n<k>`` takes its dataset's preset."""
    return dict(PRESETS.get(re.sub(r"_n\d+$", "", dataset), {}))
