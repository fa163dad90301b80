"""``python -m experiments.campaign`` in a checkout: the command ``dssec-campaign``
(:mod:`dssec_jax.cli.campaign`)."""

from dssec_jax.cli.campaign import entry

if __name__ == "__main__":
    entry()
