"""JAX's persistent compilation cache: on by default, in the user cache, with an opt-out."""

import jax
import pytest

from dssec_jax import compile_cache


@pytest.fixture
def jax_cache_setting():
    before = jax.config.jax_compilation_cache_dir
    min_time = jax.config.jax_persistent_cache_min_compile_time_secs
    jax.config.update("jax_compilation_cache_dir", None)
    yield
    jax.config.update("jax_compilation_cache_dir", before)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", min_time)


def test_the_cache_is_on_in_the_given_folder(tmp_path, monkeypatch, jax_cache_setting):
    monkeypatch.setenv(compile_cache.ENV, str(tmp_path / "cc"))
    assert compile_cache.enable() == str(tmp_path / "cc")
    assert jax.config.jax_compilation_cache_dir == str(tmp_path / "cc")
    assert jax.config.jax_persistent_cache_min_compile_time_secs == 0.0  # ours compile fast


def test_off_leaves_jax_alone_and_a_users_folder_is_kept(tmp_path, monkeypatch, jax_cache_setting):
    monkeypatch.setenv(compile_cache.ENV, "off")
    assert compile_cache.enable() is None and jax.config.jax_compilation_cache_dir is None
    monkeypatch.setenv(compile_cache.ENV, str(tmp_path / "ours"))
    jax.config.update("jax_compilation_cache_dir", str(tmp_path / "theirs"))
    assert compile_cache.enable() == str(tmp_path / "theirs")
