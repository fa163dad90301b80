"""The examples' training budget: full by default, a few epochs with DSSEC_EXAMPLES_TINY=1
(the test suite runs every example that way)."""

import os

TINY = os.environ.get("DSSEC_EXAMPLES_TINY") == "1"


def budget(**full) -> dict:
    """``full`` settings, or a few epochs and iterations when TINY."""
    if not TINY:
        return full
    return {**full, "pretrain_epochs": 2, "max_iter": 40, "update_interval": 20, "n_init": 2}
