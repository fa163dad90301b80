"""Per-dataset presets (as in IDEC's public code), overridable by flags."""
from __future__ import annotations

# update interval T and clustering optimizer; everything else uses Config's defaults.
PRESETS: dict[str, dict] = {
    "digits": {"update_interval": 30},
    "usps": {"update_interval": 30},
    "coil20": {"update_interval": 30},
    "mnist": {"update_interval": 140},
    "fashion_mnist": {"update_interval": 140},
}


def preset(dataset: str) -> dict:
    """Preset overrides for a dataset name ({} for users' own files)."""
    return dict(PRESETS.get(dataset, {}))
