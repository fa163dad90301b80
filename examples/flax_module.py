"""The sparse autoencoder as a Flax NNX module, trained with nnx.Optimizer.

python examples/flax_module.py
"""

import jax
import optax
from _budget import TINY
from flax import nnx
from sklearn.datasets import load_digits

from dssec_jax import reconstruction_loss
from dssec_jax.flax_module import SparseAutoencoder

x = jax.numpy.asarray(load_digits().data / 16.0, "float32")
model = SparseAutoencoder((64, 128, 128, 256, 10), rngs=nnx.Rngs(0))
optimizer = nnx.Optimizer(model, optax.adam(1e-3), wrt=nnx.Param)


@nnx.jit
def step(model, optimizer, xb):
    def loss_fn(m):
        z, x_hat, hidden = m(xb)
        return reconstruction_loss(xb, x_hat) + m.sparsity_penalty(hidden, rho=0.05)

    loss, grads = nnx.value_and_grad(loss_fn)(model)
    optimizer.update(model, grads)
    return loss


for epoch in range(2 if TINY else 50):
    for i in range(0, x.shape[0], 256):
        loss = step(model, optimizer, x[i : i + 256])
print("loss", float(loss), "embedding", model(x)[0].shape)
print("as the library's parameter pytree:", list(model.params()))
