"""``python -m experiments.sweep`` in a checkout: the command ``dssec-sweep``
(:mod:`dssec_jax.cli.sweep`)."""

from dssec_jax.cli.sweep import entry

if __name__ == "__main__":
    entry()
