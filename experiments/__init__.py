"""The command-line drivers by their checkout names (``python -m experiments.run``); the
code lives in :mod:`dssec_jax.cli`."""
