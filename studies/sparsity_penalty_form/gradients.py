"""The sparsity penalty's gradient per rho_hat form, for a unit at the same activation h on
every row of a batch (the BUILD_NOTES table).

    python -m studies.sparsity_penalty_form.gradients

Prints d Omega / d h summed over the batch of 256 (rho 0.05, summed KL) for each form.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from dssec_jax import losses

FORMS = ("clip", "ratio", "exp", "tanh")


def gradient(h: float, form: str, batch: int = 256, rho: float = 0.05) -> float:
    """sum_i d Omega / d h_i for one unit with h_i = h on every row."""
    g = jax.grad(lambda a: losses.sparsity_penalty([a], rho=rho, reduction="sum", form=form))(
        jnp.full((batch, 1), h, jnp.float32)
    )
    return float(jnp.sum(g))


def main() -> None:
    print("| h (every row) | " + " | ".join(FORMS) + " |")
    print("|---|" + "---|" * len(FORMS))
    for h in (0.02, 0.5, 2.0, 10.0, 20.0, 100.0):
        print(f"| {h} | " + " | ".join(f"{gradient(h, f):.3g}" for f in FORMS) + " |")


if __name__ == "__main__":
    main()
