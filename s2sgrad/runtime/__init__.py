"""The runtime support that generated derivative code imports as ``_rt``.

This is the only s2sgrad package that generated code needs, so a gradient module
checked into a repository runs with numpy (or another array library) and this
package alone: nothing here imports the compiler, gast or astor.

Every helper generated code calls is a name of this package (``_rt.unbroadcast``);
each lives in the submodule of its kind, and its derivative rules (so that
generated code can be differentiated again) live in the rule module of the
same name:

==========================  ==================================  ==============================
module                      helpers                             rules
==========================  ==================================  ==============================
``runtime.core``            trees of arrays, broadcasting,      ``rules.runtime_core``
                            indexing, adjoints of matmul/dot,
                            of max and of lowered statements
``runtime.batch``           a batch of tangents (jacobian's     ``rules.runtime_batch``
                            one forward sweep)
``runtime.arrays``          index/shape computations and the    ``rules.runtime_arrays``
                            linear maps of NumPy array rules
``runtime.linalg``          matrices, triangles, bands, FFT     ``rules.runtime_linalg``
                            padding, Cholesky
``runtime.special``         scipy.special / scipy.stats         ``rules.runtime_special``
``runtime.integrate``       odeint's adjoint and tangent        (none: called only by
                            sensitivities                       rules, never differentiated)
``runtime.optimize``        scipy.integrate.quad and the root   (none: called only by
                            finders: Leibniz rule, implicit     rules, never differentiated)
                            function theorem
``runtime.dispatch``        calls known only at run time        (none: the driver's hook)
``runtime.guard``           ``fits``: the arguments of checked- ``rules.runtime_core``
                            in specialized code have the
                            signature it was made for
==========================  ==================================  ==============================
"""

from . import arrays, batch, core, dispatch, guard, integrate, linalg, optimize, special

__all__ = []
for _mod in (core, dispatch, batch, arrays, linalg, special, integrate, optimize, guard):
    globals().update({_k: getattr(_mod, _k) for _k in _mod.__all__})
    __all__ += list(_mod.__all__)
del _mod
