"""A differentiable simulation: aim a ball through drag and wind so that it lands on target.

The ball is thrown from shoulder height with a launch angle and speed, slowed by
quadratic air drag, and pushed by a wind that blows only above a certain height
(a wind-shear layer).  The simulation is an ordinary time-stepping loop:

* ``while y > 0`` -- the number of steps depends on the launch parameters, so
  the loop cannot be unrolled to a fixed length in advance;
* ``wind if y > WIND_HEIGHT else 0.0`` -- a branch taken or not at each step,
  depending on where the ball is;
* after the loop, the last step is interpolated to the exact touch-down point,
  so the landing distance and time are smooth functions of the launch.

``s2sgrad.value_and_grad`` differentiates this code as written: the generated
gradient replays the same loop backwards, as many steps as the forward run took,
through the same branches.  SciPy's BFGS uses that gradient to find the angle
and speed that land the ball at a given distance after a given flight time.
The derivative of a run is the derivative of the steps that run took.  It does
not see the step at which the ball enters the wind layer shift, and a flight
whose highest point just grazes the layer lands at a distance that is not a
smooth function of the launch (it jumps by up to a time step's worth of wind):
aim at targets whose flights clear the layer or stay below it, as the ones here
do, or BFGS's line search may stall on such a jump.

    python examples/physics.py                 # solve one aiming problem (a few seconds)
    python examples/physics.py --full          # a finer time step and a sweep of targets
    s2sgrad show examples/physics.py:miss      # read the generated gradient

Writes ``physics_trajectories.png`` to ``--out`` (default: the current
directory).  Plotting needs matplotlib: ``pip install 's2sgrad[examples]'``.
"""

__all__ = ["miss"]  # what `s2sgrad gen` differentiates; main, plotting and data loading are not

import argparse
import os
import time

import numpy as np
from scipy.optimize import minimize

import s2sgrad

GRAVITY = 9.81        # m/s^2
DRAG = 0.01           # quadratic drag coefficient per metre (a tennis ball is about 0.01)
WIND = 8.0            # m/s, blowing along +x above WIND_HEIGHT
WIND_HEIGHT = 6.0     # m
LAUNCH_HEIGHT = 1.8   # m


# -- the simulation: ordinary Python and NumPy ----------------------------------

def simulate(launch, dt=0.01, path=None):
    """Fly the ball until it lands; returns ``(distance, flight_time)``.

    ``launch`` is ``[angle in radians, speed in m/s]``.  Semi-implicit Euler
    steps of ``dt`` seconds.  If ``path`` is a list, each position is appended
    to it (for plotting).
    """
    angle, speed = launch[0], launch[1]
    x, y, t = 0.0, LAUNCH_HEIGHT, 0.0
    vx = speed * np.cos(angle)
    vy = speed * np.sin(angle)
    x_prev, y_prev = x, y
    while y > 0.0:
        wind = WIND if y > WIND_HEIGHT else 0.0
        rel_vx = vx - wind                       # velocity relative to the air
        airspeed = np.sqrt(rel_vx ** 2 + vy ** 2)
        vx = vx - dt * DRAG * airspeed * rel_vx
        vy = vy - dt * (GRAVITY + DRAG * airspeed * vy)
        x_prev, y_prev = x, y
        x = x + dt * vx
        y = y + dt * vy
        t = t + dt
        if path is not None:
            path.append((x, y))
    # the ball crossed y = 0 during the last step: interpolate to the crossing
    frac = y_prev / (y_prev - y)
    distance = x_prev + frac * (x - x_prev)
    flight_time = t - dt + frac * dt
    return distance, flight_time


def miss(launch: "float64[2]", target_distance: float, target_time: float,
         dt: float = 0.01):
    """How far the landing is from the target, in relative units (0 is a hit)."""
    distance, flight_time = simulate(launch, dt)
    return ((distance - target_distance) / target_distance) ** 2 + \
        ((flight_time - target_time) / target_time) ** 2


# -- aiming ------------------------------------------------------------------------

def aim(target_distance, target_time, start=(0.6, 20.0), dt=0.01, verbose=True):
    """Find ``[angle, speed]`` with BFGS on s2sgrad's gradient; returns ``(launch, history)``."""
    value_and_gradient = s2sgrad.value_and_grad(miss)
    history = []

    def objective(launch):
        value, gradient = value_and_gradient(launch, target_distance, target_time, dt)
        history.append((launch.copy(), float(value)))
        return value, gradient

    def report(launch):
        if verbose:
            d, t = simulate(launch, dt)
            print(f"  iteration {len(report.seen):3d}: angle {np.degrees(launch[0]):6.2f} deg, "
                  f"speed {launch[1]:6.2f} m/s -> lands at {d:7.2f} m after {t:5.2f} s",
                  flush=True)
        report.seen.append(launch.copy())
    report.seen = []

    start = np.array(start, dtype=float)
    report(start)
    result = minimize(objective, start, jac=True, method="BFGS", callback=report,
                      options={"gtol": 1e-10})
    return result.x, history


def check_gradient(launch, target_distance, target_time, dt, eps=1e-6):
    """The generated gradient next to central finite differences (printed)."""
    g = s2sgrad.grad(miss)(launch, target_distance, target_time, dt)
    fd = np.zeros(2)
    for k in range(2):
        step = np.zeros(2)
        step[k] = eps
        fd[k] = (miss(launch + step, target_distance, target_time, dt)
                 - miss(launch - step, target_distance, target_time, dt)) / (2 * eps)
    print(f"gradient at the start: s2sgrad {g}, finite differences {fd}")
    return g, fd


def plot(solutions, out_dir, dt):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(9, 4.5))
    top = 0.0

    def draw(params, style, color, label):
        path = [(0.0, LAUNCH_HEIGHT)]
        simulate(np.asarray(params, dtype=float), dt, path)
        xs, ys = zip(*path)
        ax.plot(xs, ys, style, color=color, lw=2 if style == "-" else 1, label=label)
        return max(ys)
    start = solutions[0][1]
    top = draw(start, ":", "gray", f"starting guess: {np.degrees(start[0]):.1f} deg, "
                                   f"{start[1]:.1f} m/s")
    for (target_distance, target_time), _, launch in solutions:
        label = (f"{target_distance:.0f} m in {target_time:.1f} s: "
                 f"{np.degrees(launch[0]):.1f} deg, {launch[1]:.1f} m/s")
        top = max(top, draw(launch, "-", None, label))
        ax.plot([target_distance], [0.0], "kx", ms=10)
    ax.axhspan(WIND_HEIGHT, top * 1.05, color="tab:blue", alpha=0.08)
    ax.text(1.0, top, f"wind {WIND:.0f} m/s above {WIND_HEIGHT:.0f} m", va="top")
    ax.set_xlabel("distance (m)")
    ax.set_ylabel("height (m)")
    ax.set_ylim(0, top * 1.05)
    ax.legend(loc="upper right", fontsize=8)
    ax.set_title("aimed by BFGS on s2sgrad's gradient (x: the targets)")
    fig.tight_layout()
    path = os.path.join(out_dir, "physics_trajectories.png")
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--full", action="store_true",
                        help="a finer time step (1 ms) and three targets")
    parser.add_argument("--out", default=".", help="directory for the PNG (default: here)")
    parser.add_argument("--no-plot", action="store_true", help="do not write the PNG")
    args = parser.parse_args(argv)
    if args.full:
        dt, targets = 0.001, [(30.0, 3.0), (45.0, 2.2), (60.0, 3.2)]
    else:
        dt, targets = 0.01, [(45.0, 2.2)]
    start = np.array([0.6, 20.0])
    check_gradient(start, *targets[0], dt)
    solutions = []
    for target_distance, target_time in targets:
        t0 = time.perf_counter()
        print(f"aim at {target_distance} m, landing after {target_time} s:")
        launch, history = aim(target_distance, target_time, start, dt)
        d, t = simulate(launch, dt)
        print(f"  solved in {len(history)} simulations ({time.perf_counter() - t0:.1f} s): "
              f"miss {history[-1][1]:.2e}, lands at {d:.3f} m after {t:.3f} s")
        solutions.append(((target_distance, target_time), start, launch))
    if not args.no_plot:
        os.makedirs(args.out, exist_ok=True)
        print("wrote", plot(solutions, args.out, dt))
    return solutions


if __name__ == "__main__":
    main()
