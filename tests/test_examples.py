"""The examples in ``examples/``, each in a smoke mode: tiny sizes, a few steps, real numbers.

Every test here can fail: losses must fall by a stated factor, accuracies reach
a stated level, and each example's gradient is checked against finite
differences at a tiny size.  The command-line ``main`` of each example runs once
with plotting into a temporary directory when matplotlib is installed.
"""

import importlib.util
import os
import sys

import numpy as np
import pytest

import s2sgrad

sys.path.insert(0, os.path.dirname(__file__))
from gradcheck import check_grad  # noqa: E402

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples")


def load(name):
    """Import ``examples/<name>.py`` as a module."""
    module_name = f"s2sgrad_example_{name}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, os.path.join(EXAMPLES, name + ".py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


def run_main(module, argv, tmp_path, pngs):
    """Run ``module.main`` with plotting into ``tmp_path``; check that the PNGs were written."""
    pytest.importorskip("matplotlib", reason="plotting needs the examples extra (matplotlib)")
    result = module.main([*argv, "--out", str(tmp_path)])
    for png in pngs:
        path = tmp_path / png
        assert path.exists() and path.stat().st_size > 1000, png
    return result


# -- optical_network.py -------------------------------------------------------------

def test_optical_network_gradient_matches_finite_differences():
    optical = load("optical_network")
    wavefront, target, phases = optical.setup(n=8, side=1e-3, radius=0.3e-3, n_plates=2)
    check_grad(optical.loss, phases, wavefront, target, 0.05, 1e-3, rtol=1e-5, atol=1e-9)


def test_optical_network_training_draws_the_target():
    optical = load("optical_network")
    phases, losses, wavefront, target = optical.train(
        n=24, side=3e-3, radius=0.75e-3, n_plates=3, steps=40, spacing=0.1, verbose=False)
    assert len(losses) == 41
    assert losses[-1] < 0.1 * losses[0], (losses[0], losses[-1])


def test_optical_network_main_writes_pngs(tmp_path):
    optical = load("optical_network")
    losses = run_main(optical, ["--steps", "3"], tmp_path,
                      ["optical_network_loss.png", "optical_network_image.png"])
    assert losses[-1] < losses[0]


def test_smiley_target_is_drawn_in_code():
    optical = load("optical_network")
    face = optical.smiley(64)
    assert face.shape == (64, 64) and set(np.unique(face)) == {0.0, 1.0}
    assert 0.1 < face.mean() < 0.3
    assert np.array_equal(face, face[:, ::-1])          # left-right symmetric


# -- digits_mlp.py ----------------------------------------------------------------------

def test_digits_mlp_gradient_matches_finite_differences():
    digits = load("digits_mlp")
    rng = np.random.default_rng(0)
    params = digits.init_params([64, 3, 10], rng)
    x = rng.uniform(size=(5, 64))
    targets = digits.one_hot(np.array([0, 3, 9, 3, 1]))
    check_grad(digits.loss, params, x, targets, 1e-2, rtol=1e-5, atol=1e-8)


def test_digits_mlp_learns():
    pytest.importorskip("sklearn", reason="the digits data set comes from scikit-learn")
    digits = load("digits_mlp")
    params, history = digits.train(hidden=(32,), epochs=8, n_train=400, verbose=False)
    first, last = history[0], history[-1]
    assert last["train_loss"] < 0.35 * first["train_loss"], (first, last)
    assert first["val_acc"] < 0.3                         # an untrained model guesses
    assert last["val_acc"] > 0.85, last


def test_digits_mlp_main_writes_png(tmp_path):
    pytest.importorskip("sklearn", reason="the digits data set comes from scikit-learn")
    digits = load("digits_mlp")
    history = run_main(digits, ["--epochs", "1"], tmp_path, ["digits_mlp_training.png"])
    assert history[-1]["train_loss"] < history[0]["train_loss"]


# -- physics.py ---------------------------------------------------------------------------

def test_physics_gradient_through_the_while_loop_and_branch():
    physics = load("physics")
    launch = np.array([0.7, 22.0])                        # a flight that enters the wind layer
    path = []
    physics.simulate(launch, 0.02, path)
    assert max(y for _, y in path) > physics.WIND_HEIGHT
    g = check_grad(physics.miss, launch, 40.0, 2.5, 0.02, rtol=1e-5, atol=1e-9)
    assert np.all(np.abs(g) > 1e-3)


def test_physics_aims_at_the_target():
    physics = load("physics")
    launch, history = physics.aim(45.0, 2.2, start=(0.6, 20.0), dt=0.01, verbose=False)
    distance, flight_time = physics.simulate(launch, 0.01)
    assert history[-1][1] < 1e-6 * history[0][1]
    assert abs(distance - 45.0) < 0.01 and abs(flight_time - 2.2) < 0.001


def test_physics_main_writes_png(tmp_path, capsys):
    physics = load("physics")
    solutions = run_main(physics, [], tmp_path, ["physics_trajectories.png"])
    (target_distance, target_time), start, launch = solutions[0]
    assert abs(physics.simulate(launch)[0] - target_distance) < 0.01
    assert "finite differences" in capsys.readouterr().out


# -- rosenbrock.py -------------------------------------------------------------------------

def test_rosenbrock_gradient_matches_scipy():
    from scipy.optimize import rosen_der
    rosen = load("rosenbrock")
    x = np.random.default_rng(0).normal(size=7)
    np.testing.assert_allclose(s2sgrad.grad(rosen.rosenbrock)(x), rosen_der(x), rtol=1e-12)


@pytest.mark.parametrize("method", ["L-BFGS-B", "Newton-CG"])
def test_rosenbrock_minimised_with_finite_difference_hessp(method):
    rosen = load("rosenbrock")
    result = rosen.solve(10, method, hessp_mode="fd", verbose=False)
    assert result.fun < 1e-12 and np.max(np.abs(result.x - 1)) < 1e-5
    if method == "Newton-CG":
        assert result.how.startswith("central differences") and result.nhev > 0


def test_rosenbrock_finite_difference_hessp_matches_scipy():
    from scipy.optimize import rosen_hess_prod
    rosen = load("rosenbrock")
    hessp, _ = rosen.hessian_vector_product(rosen.rosenbrock, "fd")
    rng = np.random.default_rng(1)
    x, v = rng.normal(size=6), 100 * rng.normal(size=6)
    np.testing.assert_allclose(hessp(x, v), rosen_hess_prod(x, v), rtol=1e-6)


def test_rosenbrock_newton_cg_with_s2sgrad_hvp():
    if not hasattr(s2sgrad, "hvp"):
        pytest.skip("s2sgrad.hvp does not exist yet (forward mode is being built); "
                    "rosenbrock.py falls back to finite differences of the gradient")
    from scipy.optimize import rosen_hess_prod
    rosen = load("rosenbrock")
    hessp, how = rosen.hessian_vector_product(rosen.rosenbrock, "auto")
    assert how.startswith("s2sgrad.hvp")
    rng = np.random.default_rng(1)
    x, v = rng.normal(size=6), rng.normal(size=6)
    np.testing.assert_allclose(hessp(x, v), rosen_hess_prod(x, v), rtol=1e-10)
    result = rosen.solve(10, "Newton-CG", hessp_mode="hvp", verbose=False)
    assert result.fun < 1e-12


def test_rosenbrock_main_says_which_hessp_it_uses(tmp_path, capsys):
    rosen = load("rosenbrock")
    results = run_main(rosen, ["--dim", "6"], tmp_path, ["rosenbrock_paths.png"])
    assert all(r.fun < 1e-10 for r in results.values())
    out = capsys.readouterr().out
    if hasattr(s2sgrad, "hvp"):
        assert "s2sgrad.hvp" in out
    else:
        assert "no hvp yet" in out and "central differences" in out


# -- rnn.py -------------------------------------------------------------------------------------

TEXT = "the cat sat on the mat. the rat sat on the cat. " * 4


def test_rnn_gradient_matches_finite_differences():
    rnn = load("rnn")
    rng = np.random.default_rng(0)
    params = rnn.init_params(5, 3, rng)
    codes = rng.integers(0, 5, size=(5, 2))               # 4 time steps, batch of 2
    eye = np.eye(5)
    check_grad(rnn.loss, params, eye[codes[:-1]], eye[codes[1:]], rtol=1e-5, atol=1e-8)


def test_rnn_learns_a_small_text():
    rnn = load("rnn")
    params, losses, chars = rnn.train(hidden=16, seq_len=10, batch_size=16, iterations=150,
                                      step_size=0.02, text=TEXT, sample_length=0, verbose=False)
    uniform = np.log(len(chars))
    assert np.mean(losses[:5]) > 0.9 * uniform
    assert np.mean(losses[-20:]) < 0.5 * uniform, (np.mean(losses[:5]), np.mean(losses[-20:]))


def test_rnn_main_trains_on_its_own_source(tmp_path, capsys):
    rnn = load("rnn")
    losses = run_main(rnn, ["--iterations", "30"], tmp_path, ["rnn_loss.png"])
    assert np.mean(losses[-5:]) < np.mean(losses[:5])
    assert "def " in rnn.source_text() and "iteration" in capsys.readouterr().out
