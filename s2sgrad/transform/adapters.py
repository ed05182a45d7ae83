"""Adapters: small generated functions that call an entry the way an operator does.

``value_and_grad`` of several parameters returns ``(value, (d_a, d_b))`` where
the entry returns ``(value, d_a, d_b)``; ``jvp`` takes the tangent after every
argument; ``jacobian`` and ``hessian`` run the batched sweep along every unit
direction and arrange the result as the matrix.  Each adapter is added to the
program's module, so the operator's function is generated code too (and can be
differentiated again).
"""

import copy

import gast

import s2sgrad.naming as naming
from ..frontend.normalize import Namer
from ..syntax import call, const, name, param, store
from .program import _function
from ..syntax import walk as _walk

__all__ = ["value_and_grad", "jvp", "matrix", "seed_param", "writes_items"]


def _adapter(program, spec, fname, extra, body, doc, defaults=True):
    """Add a small function to the module that calls the entry the way the operator does.

    Its parameters are the entry's (defaults included) plus ``extra``; ``body``
    gets ``(call_args, namer)``, the argument nodes for the entry (the bound
    instance first, for a method), and returns the statements.
    """
    fsrc = spec.job.fsrc
    args = copy.deepcopy(spec.job.norm.node.args)
    call_args = []
    if fsrc.self_value is not None:
        call_args.append(gast.Name(id=program.module.symbol(fsrc.self_value, "instance"),
                                   ctx=gast.Load(), annotation=None, type_comment=None))
        args.args = args.args[1:]
        if len(args.defaults) > len(args.args):
            args.defaults = args.defaults[len(args.defaults) - len(args.args):]
    if not defaults:
        args.defaults = []
    params = [a.id for a in args.args]
    namer = Namer(params)
    extra_names = [namer.fresh(e) for e in extra]
    args.args = list(args.args) + [param(e) for e in extra_names]
    if args.defaults and extra_names:
        args.defaults = list(args.defaults) + [const(None) for _ in extra_names]
    call_args += [name(p) for p in params]
    holder = _function(fname, args, [gast.Pass()])
    program._bind_globals(holder, fsrc)      # defaults read the user's globals
    holder.body = body(call_args, extra_names, namer)
    holder.s2s_doc = doc
    program.module.add_function(holder)
    return fname


def _unpack(targets, value):
    return gast.Assign(targets=[gast.Tuple(elts=[store(t) for t in targets], ctx=gast.Store())],
                       value=value, type_comment=None)


def _ret(*names):
    if len(names) == 1:
        return gast.Return(value=name(names[0]))
    return gast.Return(value=gast.Tuple(elts=[name(n) for n in names], ctx=gast.Load()))


def value_and_grad(program, spec):
    """``(value, (d_a, d_b))`` from the entry's ``(value, d_a, d_b)``."""
    def body(call_args, extra, namer):
        value = namer.fresh("value")
        grads = [namer.fresh(naming.adjoint(p)) for p in spec.active]
        inner = gast.Tuple(elts=[name(g) for g in grads], ctx=gast.Load())
        return [_unpack([value] + grads, call(spec.grad_name, call_args)),
                gast.Return(value=gast.Tuple(elts=[name(value), inner], ctx=gast.Load()))]
    fname = program.module.fresh_function_name(f"value_and_gradient_of_{spec.job.base_name}")
    return _adapter(program, spec, fname, [], body,
                    f"s2sgrad.value_and_grad({spec.job.fsrc.qualname}).")


def jvp(program, spec):
    """``jvp_of_f(x, n, t_x)``: the tangent as the last argument, a tuple for several."""
    tangent_params = [p for p in spec.active if p not in spec.seeds]
    single = len(tangent_params) == 1

    def body(call_args, extra, namer):
        if single:
            kws = [gast.keyword(arg=spec.tangent_names[tangent_params[0]], value=name(extra[0]))]
        else:
            kws = [gast.keyword(arg=spec.tangent_names[p],
                                value=gast.Subscript(value=name(extra[0]), slice=const(k),
                                                     ctx=gast.Load()))
                   for k, p in enumerate(tangent_params)]
        return [gast.Return(value=call(spec.jvp_name, call_args, kws))]
    extra = [naming.tangent(tangent_params[0])] if single else ["tangents"]
    fname = program.module.fresh_function_name(f"jvp_of_{spec.job.base_name}")
    # ``jvp(f)(*args, tangent)``: the tangent comes after every argument, so the
    # arguments have no defaults here.
    return _adapter(program, spec, fname, extra, body,
                    f"s2sgrad.jvp({spec.job.fsrc.qualname}): the value and its derivative along "
                    f"the tangent of {', '.join(tangent_params)}.", defaults=False)


def matrix(program, spec, kind):
    """``jacobian_of_f(x, ...)``: the batched sweep along ``unit_directions(x)``, its
    batch of tangents arranged as the matrix (``out.shape + x.shape``)."""
    x = spec.active[0]
    tangent = spec.tangent_names[x]

    def body(call_args, extra, namer):
        directions = namer.fresh("directions")
        sweep = call(spec.jvp_name, call_args, [gast.keyword(arg=tangent,
                                                               value=name(directions))])
        stmts = [gast.Assign(targets=[store(directions)],
                             value=_rt_call("unit_directions", name(x)), type_comment=None)]
        if kind == "hessian":
            out, t_out = x, namer.fresh("t_d_" + x)
            stmts.append(gast.Assign(targets=[store(t_out)], value=sweep, type_comment=None))
        else:
            out, t_out = namer.fresh("value"), namer.fresh("t_value")
            stmts.append(_unpack([out, t_out], sweep))
        stmts.append(gast.Return(value=_rt_call("columns_to_jacobian", name(t_out), name(out),
                                                name(x))))
        return stmts
    fname = program.module.fresh_function_name(f"{kind}_of_{spec.job.base_name}")
    what = ("the Hessian of " + spec.job.fsrc.qualname.replace(naming.gradient_function(""), "", 1)
            if kind == "hessian" else f"the Jacobian of {spec.job.fsrc.qualname}")
    return _adapter(program, spec, fname, [], body,
                    f"s2sgrad.{kind}: {what} with respect to {x}, by one sweep along every "
                    f"unit direction of {x} at once.")


def _rt_call(attr, *args):
    return gast.Call(func=gast.Attribute(value=name(naming.RUNTIME), attr=attr, ctx=gast.Load()),
                     args=list(args), keywords=[])


def seed_param(program, spec):
    for f in program.module.functions:
        if f.name == spec.grad_name:
            return f.args.args[-1].id
    raise AssertionError("entry not generated")


def writes_items(job):
    for n in _walk(job.norm.node):
        if isinstance(n, gast.Assign) and isinstance(n.targets[0], gast.Subscript):
            return True
    return False
