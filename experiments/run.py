"""``python -m experiments.run`` in a checkout: the command ``dssec-run``
(:mod:`dssec_jax.cli.run`)."""

from dssec_jax.cli.run import entry

if __name__ == "__main__":
    entry()
