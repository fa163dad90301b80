"""``python -m experiments.report`` in a checkout: the command ``dssec-report``
(:mod:`dssec_jax.cli.report`)."""

from dssec_jax.cli.report import entry

if __name__ == "__main__":
    entry()
