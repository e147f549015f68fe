"""The layers of the package: importing jgan loads no CPU-specific code; one registry type."""
import subprocess
import sys
import textwrap

import pytest

from jgan.registry import Registry


def _run(code: str) -> None:
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]


def test_jgan_cpu_loads_on_cpu_only_when_a_step_is_built_or_asked_for():
    _run("""
        import sys
        import jgan
        cpu = lambda: sorted(m for m in sys.modules if m.startswith("jgan.cpu"))
        G, D = jgan.models.get("seed_dcgan")
        step = jgan.make_train_step(loss="hinge")
        assert cpu() == [], cpu()
        state = jgan.create_state(__import__("jax").random.key(0), *jgan.models.get("mlp2d"),
                                  __import__("optax").sgd(0.1), __import__("optax").sgd(0.1),
                                  z_dim=2, image_shape=(2,))
        assert "jgan.cpu" in sys.modules, cpu()
    """)


def test_jgan_cpu_never_loads_on_other_backends():
    """An accelerator backend, as jgan sees it: a whole step of a small dcgan (convolutions,
    transposed convolutions, BatchNorm) compiles and runs without importing jgan.cpu."""
    _run("""
        import sys
        import jax, optax
        jax.default_backend = lambda: "gpu"
        import jgan
        G, D = jgan.models.get("dcgan", resolution=32, channels=1, width=4)
        state = jgan.create_state(jax.random.key(0), G, D, optax.sgd(0.1), optax.sgd(0.1),
                                  z_dim=8, image_shape=(32, 32, 1))
        step = jgan.jit_step(jgan.make_train_step())
        state, metrics = step(state, {"image": jax.numpy.zeros((2, 32, 32, 1))})
        assert float(metrics["d_loss"]) > 0
        assert not [m for m in sys.modules if m.startswith("jgan.cpu")]
    """)


def test_registry_lists_the_valid_names_and_refuses_a_second_registration_naming_both():
    things = Registry("thing")
    things.register("a", 1)
    things.register("b", 2)
    with pytest.raises(ValueError, match=r"^unknown thing 'c'; expected one of \['a', 'b'\]$"):
        things.get("c")
    with pytest.raises(ValueError, match=r"thing 'a' is registered twice: at .*test_layout.py:\d+ "
                                         r"and at .*test_layout.py:\d+$"):
        things.register("a", 3)
    assert things.get("a") == 1


@pytest.mark.parametrize("module,registry", [("jgan.models", "MODELS"), ("jgan.losses", "LOSSES"),
                                             ("jgan.metrics", "METRICS"),
                                             ("jgan.optimizers", "OPTIMIZERS"),
                                             ("jgan.data.prepare", "PREPARERS")])
def test_every_registry_is_a_registry(module, registry):
    import importlib
    assert isinstance(getattr(importlib.import_module(module), registry), Registry)


def test_fid_fmnist_is_a_registered_metric():
    import jgan
    assert {"fid", "fid_fmnist", "kid_fmnist", "modes"} <= set(jgan.metrics.names())
    assert jgan.metrics.get("fid_fmnist").network == "fmnist"
