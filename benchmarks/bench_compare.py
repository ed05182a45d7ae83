"""s2sgrad next to Autograd, JAX and Tangent on the workloads of examples/ (run by hand).

    python benchmarks/bench_compare.py            # the libraries that are installed
    pip install autograd jax tangent              # to compare with them (not dependencies)

Every library differentiates *the same source text*: each workload below is
written once against a module named ``np`` and loaded three times, with
``import numpy as np``, ``import autograd.numpy as np`` and
``import jax.numpy as np``.  Each workload first checks that the libraries
agree on the gradient, then reports the median time of one gradient call after
a warm-up call, and the time of that first call (which includes s2sgrad's
transformation, with its disk cache turned off, and JAX's tracing/compilation).
BLAS is single-threaded; run it on a quiet machine (it prints the load average).
JAX runs in float64 on the CPU, eagerly (``jax.grad``) and, where the code
allows it, compiled (``jax.jit(jax.grad)``); a workload whose Python control
flow depends on values cannot be compiled by ``jax.jit`` and says so.
"""

import importlib.util
import os
import statistics
import sys
import tempfile
import textwrap
import time

os.environ.setdefault("S2SGRAD_CACHE", "0")       # measure the transformation, not a disk hit
os.environ.setdefault("JAX_ENABLE_X64", "1")
os.environ.setdefault("JAX_PLATFORMS", "cpu")
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")             # single-threaded BLAS, like bench_core.py

import numpy  # noqa: E402

WORKLOADS = textwrap.dedent('''
    def scalar_loop(x):
        for i in range(200):
            x = np.sin(x) * 1.01 + 0.1 * x
        return x


    def mlp(params, x, targets):
        h = x
        for layer in params[:-1]:
            h = np.maximum(0.0, h @ layer["W"] + layer["b"])
        z = h @ params[-1]["W"] + params[-1]["b"]
        z = z - np.max(z, axis=1, keepdims=True)
        log_p = z - np.log(np.sum(np.exp(z), axis=1, keepdims=True))
        return -np.mean(np.sum(log_p * targets, axis=1))


    def rnn(params, inputs, targets):
        h = np.zeros((inputs.shape[1], params["W_hh"].shape[0]))
        total = 0.0
        for t in range(inputs.shape[0]):
            h = np.tanh(inputs[t] @ params["W_xh"] + h @ params["W_hh"] + params["b_h"])
            z = h @ params["W_hy"] + params["b_y"]
            z = z - np.max(z, axis=1, keepdims=True)
            log_p = z - np.log(np.sum(np.exp(z), axis=1, keepdims=True))
            total = total - np.sum(log_p * targets[t])
        return total / (inputs.shape[0] * inputs.shape[1])


    def optical(phases, wavefront, target, transfer):
        for phase in phases:
            wavefront = np.fft.ifft2(np.fft.fft2(wavefront * np.exp(1j * phase)) * transfer)
        return np.mean((np.abs(wavefront) ** 2 - target) ** 2)


    def projectile(launch, dt):
        x, y, vx, vy = 0.0, 1.8, launch[1] * np.cos(launch[0]), launch[1] * np.sin(launch[0])
        x_prev, y_prev = x, y
        while y > 0.0:
            wind = 8.0 if y > 6.0 else 0.0
            airspeed = np.sqrt((vx - wind) ** 2 + vy ** 2)
            vx = vx - dt * 0.01 * airspeed * (vx - wind)
            vy = vy - dt * (9.81 + 0.01 * airspeed * vy)
            x_prev, y_prev = x, y
            x = x + dt * vx
            y = y + dt * vy
        return x_prev + y_prev / (y_prev - y) * (x - x_prev)


    def inplace_write(x):
        y = x * 1.0
        y[0] = y[0] * y[1]
        return np.sum(y ** 2)


    def array_method(x):
        return x.dot(x)
''')

# Constructs tried once per library: does the gradient run and agree with s2sgrad's?
CONSTRUCTS = {
    "inplace_write": ("an in-place write, y[0] = y[0] * y[1]", (numpy.array([1.0, 2.0, 3.0]),)),
    "array_method": ("a method call, x.dot(x)", (numpy.array([1.0, 2.0, 3.0]),)),
    "projectile": ("a while loop whose trip count depends on the value",
                   (numpy.array([0.6, 20.0]), 0.01)),
}

HEADERS = {"s2sgrad": "import numpy as np\n", "autograd": "import autograd.numpy as np\n",
           "jax": "import jax.numpy as np\n"}


def load(library, directory):
    path = os.path.join(directory, f"workloads_{library}.py")
    with open(path, "w") as f:
        f.write(HEADERS[library] + "\n" + WORKLOADS)
    spec = importlib.util.spec_from_file_location(f"workloads_{library}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def inputs():
    rng = numpy.random.default_rng(0)
    mlp_params = [{"W": 0.1 * rng.normal(size=(64, 128)), "b": numpy.zeros(128)},
                  {"W": 0.1 * rng.normal(size=(128, 10)), "b": numpy.zeros(10)}]
    eye = numpy.eye(70)
    codes = rng.integers(0, 70, size=(26, 32))
    rnn_params = {"W_xh": 0.1 * rng.normal(size=(70, 64)), "W_hh": 0.1 * rng.normal(size=(64, 64)),
                  "b_h": numpy.zeros(64), "W_hy": 0.1 * rng.normal(size=(64, 70)),
                  "b_y": numpy.zeros(70)}
    n = 64
    fx = numpy.fft.fftfreq(n, d=8e-3 / n)
    fxx, fyy = numpy.meshgrid(fx, fx)
    transfer = numpy.exp(2j * numpy.pi * 0.1 * numpy.sqrt((1 / 550e-9) ** 2 - fxx ** 2 - fyy ** 2))
    wavefront = numpy.zeros((n, n), complex)
    wavefront[24:40, 24:40] = 1.0
    return {
        "scalar_loop": ((0.5,), "200 iterations of x = sin(x) * 1.01 + 0.1 * x", True),
        "mlp": ((mlp_params, rng.uniform(size=(128, 64)), numpy.eye(10)[rng.integers(0, 10, 128)]),
                "digits_mlp's loss: 64-128-10 ReLU MLP, batch 128", True),
        "rnn": ((rnn_params, eye[codes[:-1]], eye[codes[1:]]),
                "rnn.py's loss: 25 time steps, batch 32, 64 hidden, 70 characters", True),
        "optical": (([0.1 * rng.normal(size=(n, n)) for _ in range(6)], wavefront,
                     rng.uniform(size=(n, n)), transfer),
                    "optical_network's loss: 6 phase plates, 64x64, complex FFTs", True),
        "projectile": ((numpy.array([0.6, 20.0]), 0.01),
                       "physics.py's simulation: a while loop of ~230 steps with a branch", False),
    }


def median_time(fn, budget=1.0, repeat=7):
    t0 = time.perf_counter()
    fn()
    once = time.perf_counter() - t0
    number = max(1, int(budget / repeat / max(once, 1e-9)))
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        times.append((time.perf_counter() - t0) / number)
    return statistics.median(times)


def first_call(make, args):
    t0 = time.perf_counter()
    g = make()
    out = g(*args)
    return out, g, time.perf_counter() - t0


def leaves(x):
    if isinstance(x, dict):
        return [leaf for k in sorted(x) for leaf in leaves(x[k])]
    if isinstance(x, (list, tuple)):
        return [leaf for v in x for leaf in leaves(v)]
    return [numpy.asarray(x)]


def agree(a, b):
    return all(numpy.allclose(x, y, rtol=1e-6, atol=1e-9) for x, y in zip(leaves(a), leaves(b)))


def fmt(seconds):
    return f"{seconds * 1e3:.3g} ms" if seconds < 1 else f"{seconds:.3g} s"


def main():
    import s2sgrad
    libraries = {}
    with tempfile.TemporaryDirectory() as tmp:
        libraries["s2sgrad"] = (load("s2sgrad", tmp), lambda fn: s2sgrad.grad(fn))
        try:
            import autograd
            libraries["autograd"] = (load("autograd", tmp), lambda fn: autograd.grad(fn))
        except ImportError as exc:
            print(f"Autograd: not installed ({exc})")
        try:
            import jax
            libraries["jax"] = (load("jax", tmp), lambda fn: jax.grad(fn))
            libraries["jax.jit"] = (libraries["jax"][0], lambda fn: jax.jit(jax.grad(fn)))
        except ImportError as exc:
            print(f"JAX: not installed ({exc})")
        try:
            import tangent  # noqa: F401
            print("Tangent: imports (not benchmarked here: it supports a different subset)")
        except Exception as exc:  # noqa: BLE001 -- report whatever stops it
            print(f"Tangent: cannot be used here: {type(exc).__name__}: {exc}")
        versions = [f"python {sys.version.split()[0]}", f"numpy {numpy.__version__}",
                    f"s2sgrad {s2sgrad.__version__}"]
        from importlib.metadata import version
        for mod in ("autograd", "jax"):
            if mod in sys.modules:
                versions.append(f"{mod} {version(mod)}")
        loadavg = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
        print(", ".join(versions), f"({os.cpu_count()} CPUs, load average {loadavg:.1f})\n")

        print("| workload | library | first call | per gradient | vs s2sgrad |")
        print("| --- | --- | --- | --- | --- |")
        for name, (args, label, jittable) in inputs().items():
            reference, base = None, None
            for lib, (module, make) in libraries.items():
                if lib == "jax.jit" and not jittable:
                    print(f"| {label} | {lib} | - | cannot compile: a while loop on values |  |")
                    continue
                fn = getattr(module, name)
                try:
                    out, g, first = first_call(lambda: make(fn), args)
                except Exception as exc:  # noqa: BLE001 -- a library that fails is a result
                    print(f"| {label} | {lib} | - | fails: {type(exc).__name__} |  |")
                    continue
                if reference is None:
                    reference = out
                elif not agree(out, reference):
                    print(f"| {label} | {lib} | - | gradient disagrees with s2sgrad |  |")
                    continue
                per = median_time(lambda: g(*args))
                base = per if base is None else base
                ratio = "" if lib == "s2sgrad" else f"{per / base:.2g}x"
                print(f"| {label} | {lib} | {fmt(first)} | {fmt(per)} | {ratio} |", flush=True)

        print("\n| construct | " + " | ".join(libraries) + " |")
        print("| --- |" + " --- |" * len(libraries))
        for name, (label, args) in CONSTRUCTS.items():
            row, reference = [], None
            for lib, (module, make) in libraries.items():
                try:
                    out = make(getattr(module, name))(*args)
                    if reference is None:
                        reference = out
                    row.append("works" if agree(out, reference) else "wrong gradient")
                except Exception as exc:  # noqa: BLE001 -- a library that fails is a result
                    row.append(f"fails ({type(exc).__name__})")
            print(f"| {label} | " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
