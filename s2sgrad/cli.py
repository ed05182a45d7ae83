"""The ``s2sgrad`` command: show and generate gradient source for a module's functions."""

import argparse
import importlib.util
import os
import sys

from .errors import S2SGradError

__all__ = ["main"]


def _load_module(path):
    path = os.path.abspath(path)
    if not os.path.exists(path):
        raise SystemExit(_fail(f"{path}: no such file"))
    name = os.path.splitext(os.path.basename(path))[0]
    sys.path.insert(0, os.path.dirname(path))
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        raise SystemExit(_fail(f"{os.path.basename(path)}:{exc.lineno}: syntax error: {exc.msg}"))
    return module


def _fail(message):
    print(f"s2sgrad: {message}", file=sys.stderr)
    return 2


def _show(args):
    path, _, func = args.target.partition(":")
    module = _load_module(path)
    if not func:
        return _fail("name the function: s2sgrad show module.py:function")
    fn = getattr(module, func, None)
    if fn is None:
        return _fail(f"{path} has no function {func!r}")
    from .api import grad
    wrt = tuple(args.wrt) if args.wrt else 0
    print(grad(fn, wrt, emit=True), end="")
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="s2sgrad", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    show = sub.add_parser("show", help="print the gradient source of one function",
                          description="Print the generated gradient of module.py:function.")
    show.add_argument("target", help="module.py:function")
    show.add_argument("--wrt", type=int, nargs="*", help="positional arguments to differentiate")
    show.set_defaults(run=_show)
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except S2SGradError as exc:
        return _fail(str(exc))


if __name__ == "__main__":
    sys.exit(main())
