"""In-place writes into traced arrays (``y[i] = v``), built from registered primitives.

``y[index] = v`` becomes ``y' = where(mask, scatter(broadcast_like(v, y[index]), y, index), y)``
with a constant boolean ``mask`` that is true at ``index``: ``where``,
``scatter`` and ``broadcast_like`` all have rules in the registry, so the
write differentiates (to any order, in both modes) without a rule of its own.
The primal value is exactly NumPy's (``where`` only selects), and the array
the box held before is never modified.
"""

import numbers

import numpy as np

import s2sgrad.runtime as rt
from ..rules import registry
from . import tracer
from .tracer import Spec, _EMPTY, _has_box, apply

_SPECS = {}


def _spec(name, family="array"):
    spec = _SPECS.get((family, name))
    if spec is None:
        prim = registry.by_name(name, family)
        spec = _SPECS[(family, name)] = Spec(prim, np, f"{family}.{name}")
    return spec


def _basic(index):
    """True when ``index`` cannot select an element twice."""
    if isinstance(index, tuple):
        return all(_basic(i) for i in index)
    if isinstance(index, (numbers.Integral, slice)) or index is None or index is Ellipsis:
        return True
    dtype = getattr(index, "dtype", None)
    if dtype is not None and (dtype.kind == "b" or np.ndim(index) == 0):
        return True
    if isinstance(index, list):
        return False
    return False


def setitem(box, index, value):
    """The traced value of ``box`` after ``box[index] = value`` (``index`` is plain)."""
    raw = tracer.strip(box)
    if not isinstance(raw, np.ndarray):
        raise TypeError(f"'{type(raw).__name__}' object does not support item assignment")
    mask = np.zeros(raw.shape, dtype=bool)
    mask[index] = True
    where = _spec("where")
    if type(value) in (list, tuple) and _has_box(value):
        value = apply(_spec("asarray"), np.asarray, (value,), _EMPTY)
    if not _has_box(value):
        const = raw.copy()
        const[index] = value          # NumPy's own checks and casts
        return apply(where, np.where, (mask, const, box), _EMPTY)
    target = raw[index]
    vb = apply(_spec("broadcast_like", "s2sgrad.runtime"), rt.broadcast_like,
               (value, target), _EMPTY)
    if not _basic(index):
        # Repeated indices: NumPy keeps the last write; only that one gets a derivative.
        pos = np.arange(raw.size).reshape(raw.shape)[index]
        flat = pos.reshape(-1)
        if np.unique(flat).size < flat.size:
            _, first_rev = np.unique(flat[::-1], return_index=True)
            keep = np.zeros(flat.size, dtype=bool)
            keep[flat.size - 1 - first_rev] = True
            vb = apply(where, np.where, (keep.reshape(pos.shape), vb, 0.0), _EMPTY)
    scattered = apply(_spec("scatter", "s2sgrad.runtime"), rt.scatter, (vb, raw, index), _EMPTY)
    return apply(where, np.where, (mask, scattered, box), _EMPTY)


tracer.WRITE_ITEM[0] = setitem
