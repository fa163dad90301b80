import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dssec_jax import losses

rng = np.random.default_rng(0)


def np_q(z, mu, alpha=1.0):
    d2 = ((z[:, None, :] - mu[None]) ** 2).sum(-1)
    k = (1 + d2 / alpha) ** (-(alpha + 1) / 2)
    return k / k.sum(1, keepdims=True)


def np_p(q):
    w = q**2 / q.sum(0)
    return w / w.sum(1, keepdims=True)


def test_reconstruction_matches_numpy():
    x, xh = rng.normal(size=(7, 5)), rng.normal(size=(7, 5))
    ref = np.mean(np.sum((x - xh) ** 2, 1) / 5)
    assert np.isclose(losses.reconstruction_loss(x, xh), ref, rtol=1e-5)


def test_sparsity_kl_matches_formula_and_zero_at_rho():
    rho, rh = 0.05, rng.uniform(0.01, 0.99, size=20)
    ref = np.sum(rho * np.log(rho / rh) + (1 - rho) * np.log((1 - rho) / (1 - rh)))
    assert np.isclose(losses.sparsity_kl(rho, rh), ref, rtol=1e-4)
    assert abs(float(losses.sparsity_kl(rho, np.full(20, rho)))) < 1e-6
    assert float(losses.sparsity_kl(rho, rh)) > 0


def test_sparsity_kl_clips_saturated_units():
    """Silent and saturated units are clipped to [1e-6, 1 - 1e-6]: finite, and the KL there."""
    v = losses.sparsity_kl(0.05, jnp.array([0.0, 1.0, 0.5]))
    assert np.isclose(float(v), _kl_numpy(0.05, [0.0, 1.0, 0.5]).sum(), rtol=2e-3)


def test_the_pure_losses_refuse_mismatched_shapes_and_a_rate_outside_0_1():
    """Called directly, the loss functions name a shape that would broadcast silently
    (integer labels where one-hot rows belong, a reconstruction of another shape) and a
    target rate where the KL is not defined."""
    z, m = jnp.ones((5, 3)), {"w": jnp.ones((3, 5)), "b": jnp.zeros(5)}
    with pytest.raises(ValueError, match=r"onehot must be one-hot rows \(5, 5\)"):
        losses.label_loss(z, m, jnp.arange(5))
    with pytest.raises(ValueError, match="must have one shape"):
        losses.reconstruction_loss(jnp.ones((4, 3)), jnp.ones((4, 1)))
    for rho in (0.0, 1.0, -0.1):
        with pytest.raises(ValueError, match=r"rho must lie in \(0, 1\)"):
            losses.sparsity_kl(rho, jnp.full(3, 0.5))


def _kl_numpy(rho, rate):
    """KL(rho || rate) per unit, written out in NumPy (float64)."""
    rate = np.clip(np.asarray(rate, np.float64), 1e-6, 1 - 1e-6)
    return rho * np.log(rho / rate) + (1 - rho) * np.log((1 - rho) / (1 - rate))


def test_sparsity_penalty_mean_vs_sum():
    h = [rng.uniform(size=(16, 30)), rng.uniform(size=(16, 10))]
    s = losses.sparsity_penalty(h, rho=0.1, reduction="sum", form="mean")
    m = losses.sparsity_penalty(h, rho=0.1, reduction="mean", form="mean")
    ref_s = sum(_kl_numpy(0.1, a.mean(0)).sum() for a in h)
    ref_m = sum(_kl_numpy(0.1, a.mean(0)).mean() for a in h)
    assert np.isclose(s, ref_s, rtol=1e-5) and np.isclose(m, ref_m, rtol=1e-5)
    with pytest.raises(ValueError, match="reduction"):
        losses.sparsity_penalty(h, rho=0.1, reduction="max")


@pytest.mark.parametrize("alpha", [1.0, 2.5])
def test_soft_assignment_matches_numpy_and_rows_sum_to_one(alpha):
    z, mu = rng.normal(size=(50, 4)), rng.normal(size=(6, 4))
    q = np.asarray(losses.soft_assignment(z, mu, alpha=alpha))
    np.testing.assert_allclose(q, np_q(z, mu, alpha), rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(q.sum(1), 1.0, rtol=1e-5)


def test_target_distribution_matches_numpy_and_is_sharper():
    q = np_q(rng.normal(size=(100, 3)), rng.normal(size=(5, 3)))
    p = np.asarray(losses.target_distribution(q))
    np.testing.assert_allclose(p, np_p(q), rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(p.sum(1), 1.0, rtol=1e-5)
    # sharper: larger max per row on average, lower entropy
    assert p.max(1).mean() > q.max(1).mean()
    ent = lambda a: -(a * np.log(a + 1e-30)).sum(1).mean()
    assert ent(p) < ent(q)


def test_target_distribution_empty_cluster_is_finite():
    q = np.zeros((4, 3), np.float32)
    q[:, 0], q[:, 1] = 0.3, 0.7
    p = np.asarray(losses.target_distribution(q))
    assert np.all(np.isfinite(p)) and np.all(p[:, 2] == 0)


def test_clustering_kl_matches_scipy_nonnegative_zero_at_equality():
    from scipy.special import rel_entr

    q = np_q(rng.normal(size=(40, 3)), rng.normal(size=(4, 3)))
    p = np_p(q)
    ref = rel_entr(p, q).sum(1).mean()
    assert np.isclose(losses.clustering_kl(p, q), ref, rtol=1e-4)
    assert float(losses.clustering_kl(p, q)) > 0
    assert abs(float(losses.clustering_kl(q, q))) < 1e-6


def test_clustering_gradients_match_dec_closed_form():
    z, mu = rng.normal(size=(30, 4)).astype(np.float32), rng.normal(size=(5, 4)).astype(np.float32)
    alpha = 1.0
    p = np_p(np_q(z, mu)).astype(np.float32)
    f = lambda z_, mu_: losses.clustering_kl(p, losses.soft_assignment(z_, mu_, alpha=alpha))
    gz, gmu = jax.grad(f, argnums=(0, 1))(z, mu)
    q = np_q(z, mu)
    diff = z[:, None, :] - mu[None]
    w = ((alpha + 1) / alpha) * (1 + (diff**2).sum(-1) / alpha) ** -1 * (p - q)
    n = len(z)
    ref_z = (w[..., None] * diff).sum(1) / n
    ref_mu = -(w[..., None] * diff).sum(0) / n
    np.testing.assert_allclose(gz, ref_z, rtol=1e-3, atol=1e-6)
    np.testing.assert_allclose(gmu, ref_mu, rtol=1e-3, atol=1e-6)


def test_losses_under_jit_and_vmap():
    z = rng.normal(size=(3, 20, 4)).astype(np.float32)
    mu = rng.normal(size=(3, 5, 4)).astype(np.float32)
    q = jax.vmap(losses.soft_assignment)(z, mu)
    p = jax.vmap(losses.target_distribution)(q)
    kl = jax.jit(jax.vmap(losses.clustering_kl))(p, q)
    for i in range(3):
        np.testing.assert_allclose(q[i], jax.jit(losses.soft_assignment)(z[i], mu[i]), rtol=1e-5)
        assert np.isclose(kl[i], losses.clustering_kl(p[i], q[i]), rtol=1e-5)
    rh = rng.uniform(0.1, 0.9, size=(3, 8))
    v = jax.vmap(losses.sparsity_kl, in_axes=(None, 0))(0.05, rh)
    np.testing.assert_allclose(v, [losses.sparsity_kl(0.05, r) for r in rh], rtol=1e-5)
    rec = jax.jit(jax.vmap(losses.reconstruction_loss))(z, z + 1)
    np.testing.assert_allclose(rec, 1.0, rtol=1e-6)


def test_extremes_stay_finite():
    z = np.array([[1e6, -1e6], [0.0, 0.0], [1e-8, 0.0]], np.float32)
    mu = np.array([[0.0, 0.0], [0.0, 0.0], [5.0, 5.0]], np.float32)  # duplicate centres
    q = losses.soft_assignment(z, mu)
    p = losses.target_distribution(q)
    assert np.all(np.isfinite(q)) and np.all(np.isfinite(p))
    assert np.isfinite(float(losses.clustering_kl(p, q)))
    np.testing.assert_allclose(np.asarray(q).sum(1), 1.0, rtol=1e-5)


def test_dssec_loss_combines_parts():
    x = rng.normal(size=(8, 6)).astype(np.float32)
    xh = x + 0.1
    h = [rng.uniform(size=(8, 12)).astype(np.float32)]
    z, mu = rng.normal(size=(8, 2)), rng.normal(size=(3, 2))
    p = np_p(np_q(z, mu))
    tot, parts = losses.dssec_loss(x, xh, h, z, mu, p, gamma=0.3, beta=0.5, rho=0.1)
    # each part against its formula in numpy: L_rec the mean square (0.1^2), Omega the KL
    # of rho = 0.1 from the ratio rate h / (1 + h), averaged over the units
    r = (h[0] / (1 + h[0])).mean(0)
    kl = np.mean(0.1 * np.log(0.1 / r) + 0.9 * np.log(0.9 / (1 - r)))
    np.testing.assert_allclose(parts["reconstruction"], 0.01, rtol=1e-4)
    np.testing.assert_allclose(parts["sparsity"], kl, rtol=1e-4)
    np.testing.assert_allclose(parts["clustering"], losses.clustering_kl(p, np_q(z, mu)), rtol=1e-4)
    np.testing.assert_allclose(tot, 0.01 + 0.5 * kl + 0.3 * parts["clustering"], rtol=1e-4)
    # DEC: rec_weight 0 leaves the clustering term alone
    tot_dec, _ = losses.dssec_loss(x, xh, h, z, mu, p, gamma=0.3, beta=0.5, rho=0.1, rec_weight=0)
    np.testing.assert_allclose(tot_dec, 0.3 * parts["clustering"], rtol=1e-5)


@pytest.mark.parametrize("form", ["ratio", "exp", "tanh"])
def test_sparsity_penalty_has_a_gradient_above_one(form):
    # Every unit active above 1 on every row: the former clip had no gradient here.
    h = jnp.asarray(rng.uniform(1.5, 4.0, size=(32, 8)), jnp.float32)
    g = jax.grad(lambda a: losses.sparsity_penalty([a], rho=0.05, reduction="mean", form=form))(h)
    assert np.all(np.asarray(g) > 0)  # the penalty pushes every active unit down
    g_clip = jax.grad(
        lambda a: losses.sparsity_penalty([a], rho=0.05, reduction="mean", form="clip")
    )(h)
    assert np.all(np.asarray(g_clip) == 0)


def test_ratio_form_keeps_its_gradient_far_above_one():
    h = jnp.full((16, 4), 50.0)
    g = jax.grad(lambda a: losses.sparsity_penalty([a], rho=0.05, reduction="sum", form="ratio"))(h)
    assert np.all(np.isfinite(np.asarray(g))) and np.all(np.asarray(g) > 0)


@pytest.mark.parametrize("form", ["ratio", "exp", "tanh"])
def test_sparsity_penalty_gradient_matches_finite_differences(form):
    h = np.asarray(rng.uniform(0.0, 3.0, size=(12, 5)), np.float64)
    f = lambda a: float(
        losses.sparsity_penalty([jnp.asarray(a, jnp.float32)], rho=0.05, reduction="sum", form=form)
    )
    g = np.asarray(
        jax.grad(lambda a: losses.sparsity_penalty([a], rho=0.05, reduction="sum", form=form))(
            jnp.asarray(h, jnp.float32)
        )
    )
    eps = 1e-2
    for i, j in [(0, 0), (3, 2), (11, 4), (7, 1)]:
        hp, hm = h.copy(), h.copy()
        hp[i, j] += eps
        hm[i, j] -= eps
        fd = (f(hp) - f(hm)) / (2 * eps)
        assert np.isclose(g[i, j], fd, rtol=2e-2, atol=1e-4), (i, j, g[i, j], fd)


def test_rate_forms_are_valid_means_and_mean_form_is_classic():
    h = jnp.asarray(rng.uniform(0.0, 20.0, size=(64, 10)), jnp.float32)
    for form in ("ratio", "exp", "tanh", "clip"):
        r, rest = losses.activation_rate(h, form=form)
        assert np.all((np.asarray(r) >= 0) & (np.asarray(r) <= 1))
        np.testing.assert_allclose(np.asarray(r) + np.asarray(rest), 1.0, atol=1e-6)
    s = jax.nn.sigmoid(jnp.asarray(rng.normal(size=(64, 10)), jnp.float32))
    r, _ = losses.activation_rate(s, form="mean")
    np.testing.assert_allclose(r, np.asarray(s).mean(0), rtol=1e-6)
    classic = losses.sparsity_kl(0.05, np.asarray(s).mean(0))
    assert np.isclose(
        losses.sparsity_penalty([s], rho=0.05, reduction="sum", form="mean"), classic, rtol=1e-5
    )
    with pytest.raises(ValueError, match="form"):
        losses.activation_rate(h, form="square")


def test_ratio_form_is_near_the_plain_mean_for_small_activations():
    h = jnp.asarray(rng.uniform(0.0, 0.01, size=(64, 10)), jnp.float32)
    r, _ = losses.activation_rate(h, form="ratio")
    np.testing.assert_allclose(r, np.asarray(h).mean(0), rtol=2e-2)


def test_clip_form_is_the_former_penalty():
    """clip: rho_hat = batch mean of min(max(h, 0), 1); value and gradient against NumPy.
    dOmega/dh_ij = (1 / units)(1 / batch)(-rho / rho_hat_j + (1 - rho) / (1 - rho_hat_j))
    where 0 < h_ij < 1, half that at h_ij = 0 or 1 (jnp.maximum and jnp.minimum split a tie),
    and 0 elsewhere (no gradient above 1: the former form's flaw)."""
    a = np.concatenate([rng.uniform(0, 2, size=(30, 6)), np.zeros((2, 6)), np.ones((2, 6))])
    h = jnp.asarray(a, jnp.float32)
    fn = lambda v: losses.sparsity_penalty([v], rho=0.05, reduction="mean", form="clip")
    rate = np.clip(a, 0, 1).mean(0)
    assert np.isclose(float(fn(h)), _kl_numpy(0.05, rate).mean(), rtol=1e-5)
    d_rate = (-0.05 / rate + 0.95 / (1 - rate)) / a.shape[1] / a.shape[0]
    weight = np.where((a > 0) & (a < 1), 1.0, np.where((a == 0) | (a == 1), 0.5, 0.0))
    ref = weight * d_rate[None, :]
    np.testing.assert_allclose(jax.grad(fn)(h), ref, rtol=1e-4, atol=1e-9)


@pytest.mark.parametrize("form", ["ratio", "exp", "tanh", "mean"])
def test_a_nearly_dead_unit_is_never_pushed_further_down(form):
    """A unit far below rho (rate about 1e-5, above the KL's 1e-6 clip) is pushed up:
    its gradient is strictly negative (a descent step raises h)."""
    h = jnp.full((64, 3), 1e-5, jnp.float32)
    g = jax.grad(lambda a: losses.sparsity_penalty([a], rho=0.05, reduction="mean", form=form))(h)
    assert np.all(np.asarray(g) < 0)
    gf = jax.grad(lambda a: losses.sparsity_penalty([a], rho=0.05, form=form, floor=0.005))(h)
    assert np.all(np.asarray(gf) < 0)  # with the floor too, only less steeply
    assert np.all(np.abs(np.asarray(gf)) < np.abs(np.asarray(g)))


def test_kl_floor_keeps_the_kl_above_it_and_bounds_its_derivative_below():
    rho, f = 0.05, 0.005
    above = jnp.array([0.005, 0.02, 0.05, 0.3, 0.9])
    np.testing.assert_allclose(
        losses.sparsity_kl(rho, above, floor=f), losses.sparsity_kl(rho, above), rtol=1e-6
    )
    bound = rho / f - (1 - rho) / (1 - f)  # |dOmega/drho_hat| at the floor

    def grad_at(r, floor):
        kl = lambda a: losses.sparsity_kl(rho, jnp.reshape(a, (1,)), floor=floor)
        return float(jax.grad(kl)(jnp.float32(r)))

    for r in (1e-5, 1e-4, 1e-3, 4.9e-3):
        assert np.isclose(grad_at(r, f), -bound, rtol=1e-4)  # linear below the floor
        assert abs(grad_at(r, None)) > bound  # the unbounded form: rho / rho_hat
    for r in (0.0, 1e-7, 5e-7):  # below the 1e-6 clip the unit is left alone, as documented
        assert grad_at(r, f) == 0.0 and grad_at(r, None) == 0.0
    with pytest.raises(ValueError, match="floor must lie in"):
        losses.sparsity_kl(rho, above, floor=0.2)  # above rho it would reward silent units
    with pytest.raises(ValueError, match="floor must lie in"):  # a constant floor under jit too
        jax.jit(lambda r: losses.sparsity_kl(rho, r, floor=0.2))(above)
    per_floor = jax.vmap(lambda f_: losses.sparsity_kl(rho, above, floor=f_))
    assert per_floor(jnp.array([0.005, 0.01])).shape == (2,)  # a traced floor is Config's to check
    # continuous at the floor, and still a penalty (larger the further below it)
    lo = [float(losses.sparsity_kl(rho, jnp.array([r]), floor=f)) for r in (f - 1e-7, 1e-4)]
    assert np.isclose(float(losses.sparsity_kl(rho, jnp.array([f]))), lo[0], rtol=1e-4)
    assert lo[1] > lo[0] > 0


def test_without_a_floor_the_compiled_steps_see_no_floor_at_all():
    """sparsity_floor=None leaves the hyper-parameters (and so the compiled programs) as they
    were before the floor existed; set, it is one more traced scalar."""
    from dssec_jax import clustering, pretraining
    from dssec_jax.methods import Config

    assert "kl_floor" not in pretraining.hyper(Config())
    assert "kl_floor" not in clustering.hyper(Config())
    assert float(pretraining.hyper(Config(sparsity_floor=0.005))["kl_floor"]) == np.float32(0.005)


def test_the_target_is_held_fixed_even_when_computed_inside_the_loss():
    """KL(P || Q) differentiates through Q only: P computed from Q inside the function gives
    the gradient of P held fixed, and the gradient with respect to P is zero."""
    rng = np.random.default_rng(0)
    z = jnp.asarray(rng.normal(size=(12, 3)), jnp.float32)
    mu = jnp.asarray(rng.normal(size=(4, 3)), jnp.float32)
    p_fixed = losses.target_distribution(losses.soft_assignment(z, mu))

    def inside(c):
        q = losses.soft_assignment(z, c)
        return losses.clustering_kl(losses.target_distribution(q), q)

    def held(c):
        return losses.clustering_kl(p_fixed, losses.soft_assignment(z, c))

    np.testing.assert_allclose(jax.grad(inside)(mu), jax.grad(held)(mu), rtol=1e-6, atol=1e-7)
    assert np.abs(np.asarray(jax.grad(held)(mu))).max() > 1e-4  # not trivially zero
    q = losses.soft_assignment(z, mu)
    assert not np.asarray(jax.grad(lambda p: losses.clustering_kl(p, q))(p_fixed)).any()


def test_the_pure_losses_default_to_the_librarys_settings():
    """A weight left out of a pure loss is the one ``Config`` trains DSSEC with, so
    ``dssec_loss(...)`` without ``beta`` is DSSEC's loss, not IDEC's."""
    import inspect

    from dssec_jax.methods import Config

    field = {"reduction": "sparsity_reduction", "form": "sparsity_form", "floor": "sparsity_floor"}
    cfg = Config()
    checked = 0
    for fn in (losses.dssec_loss, losses.sparsity_penalty, losses.soft_assignment):
        for name, param in inspect.signature(fn).parameters.items():
            if hasattr(cfg, field.get(name, name)) and param.default is not param.empty:
                assert param.default == getattr(cfg, field.get(name, name)), (fn.__name__, name)
                checked += 1
    assert checked == 11  # gamma, beta, rho, alpha, reduction, form, floor; 3 of those; alpha
    assert inspect.signature(losses.dssec_loss).parameters["beta"].default == 1.0
