"""The s2sgrad command: generate, check and show gradient source; look at the cache.

    s2sgrad gen model.py                  writes model_grad.py beside model.py
    s2sgrad gen examples -o generated     every module of a directory
    s2sgrad gen model.py --signature 'loss(float64[n], float64[n, n], float)'
                                          code specialized to such arguments (default:
                                          what the annotations say)
    s2sgrad check model.py                exit 0 when model_grad.py is up to date
    s2sgrad show model.py:loss            prints the gradient of one function
    s2sgrad show model.py:loss --stage normalize   prints one stage of the compiler
    s2sgrad cache info | clear

Errors are one line on stderr and exit with status 2 (with --traceback too); a stale
check exits 1.  A bare ``s2sgrad`` prints this usage on stderr and exits 2.
"""

import argparse
import json
import os
import sys
import traceback

from . import __version__
from .errors import S2SGradError

__all__ = ["main"]

EXIT_STALE = 1
EXIT_ERROR = 2


class _Fail(Exception):
    """An error to report in one line."""


def _err(message):
    print(f"s2sgrad: {message}", file=sys.stderr)


def _modules(target):
    """The module files named by ``target``: a file, or every module of a directory."""
    from .checkin import module_files
    if os.path.isdir(target):
        files = module_files(target)
        if not files:
            raise _Fail(f"{target}: no Python modules in this directory")
        return files, True
    if not os.path.exists(target):
        raise _Fail(f"{target}: no such file or directory")
    if not target.endswith(".py"):
        raise _Fail(f"{target}: not a Python module: its name must end in .py (the generated "
                    f"module imports it by that name)")
    return [target], False


# ---------------------------------------------------------------------------
# gen
# ---------------------------------------------------------------------------

def _gen(args):
    from .checkin import generate, output_path, overwrite_problem, write_atomic
    targets = []
    many = len(args.modules) > 1
    for target in args.modules:
        files, is_dir = _modules(target)
        many = many or is_dir
        targets += files
    if args.output == "-" and many:
        raise _Fail("-o -: prints one module only")
    if many and args.output and os.path.exists(args.output) and not os.path.isdir(args.output):
        raise _Fail(f"-o {args.output}: several modules need an output directory")
    if args.output and args.output != "-" and not many and not args.output.endswith(
            ("/", os.sep)) and not os.path.isdir(args.output):
        parent = os.path.dirname(args.output) or "."
        if not os.path.isdir(parent):
            raise _Fail(f"-o {args.output}: no such directory: {parent}")
    outputs = {}
    if args.output != "-":    # what would be replaced is checked before anything is generated
        for path in targets:
            out = output_path(path, args.output, many, args.mode)
            key = os.path.normcase(os.path.abspath(out))
            if key in outputs:
                raise _Fail(f"{outputs[key]} and {path} would both be written to {out}")
            problem = overwrite_problem(out, path, targets, args.force)
            if problem:
                raise _Fail(problem)
            outputs[key] = path
    signatures = _signatures(args)
    results = []
    for path in targets:      # everything is generated before anything is written
        gen = generate(path, args.func, args.wrt, args.mode, signatures, args.general)
        results.append((path, gen))
    _check_signatures_used(signatures, [gen for _, gen in results])
    if not args.quiet:
        for path, gen in results:
            _report_skipped(path, gen)
    if args.output == "-":
        sys.stdout.write(results[0][1].text)
        return 0
    if many and args.output:
        try:
            os.makedirs(args.output, exist_ok=True)
        except OSError as exc:
            raise _Fail(f"-o {args.output}: cannot create the directory: "
                        f"{exc.strerror or exc}") from None
    for path, gen in results:
        out = output_path(path, args.output, many, args.mode)
        write_atomic(out, gen.text)
        if not args.quiet:
            names = ", ".join(name for name, _ in gen.functions)
            print(f"wrote {out} ({names})")
    return 0


def _signatures(args):
    """``{function name: signature}`` of the ``--signature`` options."""
    from .checkin import parse_signature_option, signature_text
    if args.general and args.signature:
        raise _Fail("--general and --signature: choose one (--general: the code for any "
                    "argument only)")
    out = {}
    for text in args.signature or ():
        name, sig = parse_signature_option(text)
        if name in out and out[name] != sig:
            raise _Fail(f"--signature: two signatures for {name}: {signature_text(out[name])} "
                        f"and {signature_text(sig)} (one per function)")
        out[name] = sig
    return out


def _check_signatures_used(signatures, gens):
    """Fail for a ``--signature`` naming a function no module differentiates."""
    done = {name for gen in gens for name, _ in gen.functions}
    for name in signatures:
        if name not in done:
            raise _Fail(f"--signature {name}(...): no function {name} is differentiated (they "
                        f"are: {', '.join(sorted(done)) or 'none'}); --func chooses them")


def _report_skipped(path, gen):
    """One line on stderr per function gen left out, and how to choose them instead."""
    skipped = getattr(gen, "skipped", ())
    for skip in skipped:
        _err(f"{skip.where}: skipped {skip.name}: {skip.reason}")
    if skipped:
        _err(f"{path}: to choose the functions yourself: --func NAME, an __all__ list in the "
             f"module, or a leading underscore for helpers")


# ---------------------------------------------------------------------------
# check
# ---------------------------------------------------------------------------

def _check(args):
    from .checkin import check, is_generated, output_path
    files, is_dir = _modules(args.module)
    if is_dir:
        out_dir = args.generated or args.module
        pairs = [(p, output_path(p, out_dir, many=True)) for p in files]
    else:
        pairs = [(files[0], args.generated or output_path(files[0]))]
    problems = []
    for module_path, generated_path in pairs:
        problems += check(module_path, generated_path)
    if is_dir and os.path.isdir(args.generated or args.module):
        out_dir = args.generated or args.module
        expected = {os.path.basename(g) for _, g in pairs}
        for fname in sorted(os.listdir(out_dir)):
            path = os.path.join(out_dir, fname)
            if fname.endswith("_grad.py") and fname not in expected and is_generated(path):
                problems.append(f"{path}: stale: no module in {args.module} generates it")
    if problems:
        for p in problems:
            _err(p)
        hint = f"s2sgrad gen {args.module}" + (f" -o {args.generated}" if args.generated else "")
        _err(f"regenerate with: {hint}")
        return EXIT_STALE
    if not args.quiet:
        print(f"{len(pairs)} generated file{'s' if len(pairs) != 1 else ''} up to date")
    return 0


# ---------------------------------------------------------------------------
# show
# ---------------------------------------------------------------------------

def _show(args):
    from .checkin import generate
    path, sep, func = args.target.rpartition(":")
    if not sep or not path or not func or os.sep in func or func.endswith(".py"):
        raise _Fail(f"{args.target}: name the function: s2sgrad show module.py:function")
    if not os.path.isfile(path):
        raise _Fail(f"{path}: no such file")
    if args.stage is not None:
        if args.signature or args.general:
            raise _Fail("--stage shows the general code: --signature and --general do not "
                        "apply to it")
        return _show_stage(path, func, args)
    signatures = _signatures(args)
    gen = generate(path, [func], args.wrt, args.mode, signatures, args.general)
    _check_signatures_used(signatures, [gen])
    sys.stdout.write(gen.text)
    return 0


def _show_stage(path, func, args):
    """Print what one stage of the compiler makes of one function (``s2sgrad.show``)."""
    from . import api
    from .checkin import choose, load_module
    names = api.stages(args.mode)
    if args.stage not in names:
        raise _Fail(f"no stage {args.stage!r} in {args.mode} mode; the stages are "
                    f"{', '.join(names)}")
    with load_module(path) as module:
        (choice,), _ = choose(module, path, [func], args.wrt)
        text = api.show(choice.fn, args.stage, choice.wrt_index, mode=args.mode)
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    return 0


# ---------------------------------------------------------------------------
# cache
# ---------------------------------------------------------------------------

def _cache_info(args):
    from .driver import cache
    info = cache.info()
    if args.json:
        print(json.dumps(info, indent=2, sort_keys=True))
    else:
        state = "on" if info["enabled"] else "off (S2SGRAD_CACHE)"
        if info["problem"] and info["enabled"]:
            state = "not used (see below)"
        print(f"directory:  {info['directory']}" + ("" if info["mode"] else "  (not created yet)"))
        print(f"disk cache: {state}")
        if info["entries"] is None:
            print("entries:    unknown (see the error below)")
        else:
            print(f"entries:    {info['entries']} ({_size(info['bytes'])})")
        if info["temporary_files"]:
            print(f"leftovers:  {info['temporary_files']} temporary files (s2sgrad cache clear)")
        print(f"key:        s2sgrad {info['s2sgrad']}, rules {info['rules_hash']}, "
              f"compiler {info['compiler_hash']}")
    if info["problem"]:
        raise _Fail(info["problem"])
    return 0


def _size(n):
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024


def _cache_clear(args):
    from .driver import cache
    try:
        n = cache.clear()
    except cache.CacheError as exc:
        raise _Fail(f"cache clear: {exc}") from None
    print(f"removed {n} cache entr{'y' if n == 1 else 'ies'} from {cache.cache_dir()}")
    return 0


# ---------------------------------------------------------------------------
# the parser
# ---------------------------------------------------------------------------

class _Parser(argparse.ArgumentParser):
    def error(self, message):
        _err(f"{message} (see '{self.prog} --help')")
        sys.exit(EXIT_ERROR)


def _parser():
    parser = _Parser(
        prog="s2sgrad", description=__doc__.split("\n\n")[0],
        epilog="Run 's2sgrad COMMAND --help' for each command's options.")
    parser.add_argument("--traceback", action="store_true",
                        help="show the full traceback of an error (for bug reports); the "
                             "exit status stays 2")
    parser.add_argument("--version", action="version", version=f"s2sgrad {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                parser_class=_Parser)

    def common(p):
        p.add_argument("--wrt", nargs="+", action="extend", metavar="ARG",
                       help="differentiate with respect to these parameters (names or "
                            "positions; default: the first parameter)")
        p.add_argument("--mode", choices=("reverse", "forward"), default="reverse",
                       help="reverse mode (gradients, the default) or forward mode")
        p.add_argument("--signature", nargs="+", action="extend", metavar="'NAME(ARG, ...)'",
                       help="specialize NAME's code to arguments of these kinds, one per "
                            "positional parameter, instead of what its annotations say: "
                            "float, int, bool, complex, None, np.float32 (a NumPy scalar), "
                            "float64[n, 1] (an array: dtype, then each axis 1 or a name), "
                            "float64[*] (any rank), (float, int) (a tuple), ? (anything); "
                            "e.g. --signature 'miss(float64[n], float, float, float)'; "
                            "one per function (put MODULE first, or repeat --signature)")
        p.add_argument("--general", action="store_true",
                       help="ignore annotations: generate only the code for any argument")

    gen = sub.add_parser(
        "gen", help="write the gradient module of a module (model.py -> model_grad.py)",
        description="Write MODULE_grad.py beside each module (or to -o OUT): the gradient of "
                    "each chosen function (all public top-level functions by default, or the "
                    "names in __all__), with the helpers they call transformed too.  Without "
                    "--func it leaves out, one line each on stderr, the functions whose "
                    "gradient cannot be generated, the rules of custom_vjp functions, and "
                    "those whose first parameter is not a float input (annotated int, bool or "
                    "str, or defaulting to such a value) or does not reach the result.  For a "
                    "function loss it defines loss_grad (the gradient, like s2sgrad.grad(loss)) "
                    "and grad_loss (value and gradient from one run).  A function whose parameters "
                    "are annotated (dt: float, x: 'float64[n, n]', n: int; unannotated ones "
                    "with a number default take its type) or named by --signature gets code "
                    "specialized to those arguments; it checks them when called and runs "
                    "grad_loss_general, the code for any argument, on others.  The file "
                    "imports only the array module, s2sgrad.runtime and the module itself.  "
                    "Nothing is written "
                    "unless every module succeeds, and a file s2sgrad did not generate is "
                    "never replaced (unless --force; the module itself never).")
    gen.add_argument("modules", nargs="+", metavar="MODULE",
                     help="a .py file, or a directory (every module in it)")
    gen.add_argument("--func", nargs="+", action="extend", metavar="NAME",
                     help="only these functions (put MODULE first, or repeat --func)")
    common(gen)
    gen.add_argument("-o", "--output", metavar="OUT",
                     help="output file, or directory (for a directory or several modules); "
                          "'-' prints to stdout")
    gen.add_argument("-q", "--quiet", action="store_true",
                     help="print nothing on success (not even the functions left out)")
    gen.add_argument("--force", action="store_true",
                     help="replace an output file that s2sgrad did not generate (never the "
                          "module itself)")
    gen.set_defaults(run=_gen)

    check = sub.add_parser(
        "check", help="check that a generated gradient module is up to date (for CI)",
        description="Exit 0 when GENERATED (default: MODULE_grad.py beside MODULE) matches the "
                    "current source of MODULE and this version of s2sgrad; otherwise name each "
                    "stale function and exit 1.  With a directory, check every module in it "
                    "against GENERATED (a directory, default: the same one).  Made for a CI "
                    "step or a pre-commit hook.")
    check.add_argument("module", metavar="MODULE", help="a .py file or a directory of them")
    check.add_argument("generated", nargs="?", metavar="GENERATED",
                       help="the generated file (or directory)")
    check.add_argument("-q", "--quiet", action="store_true", help="print nothing on success")
    check.set_defaults(run=_check)

    show = sub.add_parser(
        "show", help="print the gradient source of one function",
        description="Print the generated gradient module of one function, as s2sgrad gen "
                    "would write it; with --stage, what one stage of the compiler makes of it "
                    "(s2sgrad.stages() lists them: source, normalize, activity, transform, "
                    "simplify, prune, share, codegen in reverse mode; release instead of prune "
                    "in forward mode).")
    show.add_argument("target", metavar="MODULE.py:FUNCTION")
    common(show)
    show.add_argument("--stage", metavar="NAME",
                      help="print the code after this stage of the compiler instead")
    show.set_defaults(run=_show)

    cache = sub.add_parser(
        "cache", help="look at or empty the on-disk cache",
        description="The disk cache holds generated source keyed by what it was generated "
                    "from.  Its directory is $S2SGRAD_CACHE_DIR, else the user's cache "
                    "directory; S2SGRAD_CACHE=off turns it off.")
    csub = cache.add_subparsers(dest="action", required=True, metavar="ACTION",
                                parser_class=_Parser)
    info = csub.add_parser("info", help="where the cache is, how many entries, how big",
                           description="Print where the disk cache is, whether it is on, and "
                                       "how many entries it holds; exit 2 when it cannot be "
                                       "read or is not used (a link, another user's, or "
                                       "writable by others).")
    info.add_argument("--json", action="store_true", help="print it as JSON")
    info.set_defaults(run=_cache_info)
    clear = csub.add_parser("clear", help="delete every entry",
                            description="Delete every entry of the disk cache, and the "
                                        "temporary files of writers that died; exit 2, saying "
                                        "what is left, if some cannot be removed.")
    clear.set_defaults(run=_cache_clear)
    return parser


def main(argv=None):
    """Run the command; returns its exit status (0, 1 for a stale check, 2 for an error).

    A bare ``s2sgrad`` prints the usage and the commands on stderr and exits 2;
    ``s2sgrad --version`` prints the version.  With ``--traceback`` an error's
    traceback is printed too, and the status is still 2.
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = _parser()
    if not argv:
        parser.print_help(sys.stderr)
        return EXIT_ERROR
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:       # --help, --version, or a usage error already printed
        return exc.code
    try:
        return args.run(args)
    except (_Fail, S2SGradError) as exc:
        if args.traceback:
            traceback.print_exc()
        _err(" ".join(str(exc).split()) or type(exc).__name__)
        return EXIT_ERROR
    except OSError as exc:    # a file s2sgrad could not read or write: the user's to fix
        if args.traceback:
            traceback.print_exc()
        where = f"{exc.filename}: " if exc.filename else ""
        _err(f"{where}{exc.strerror or exc}")
        return EXIT_ERROR
    except Exception as exc:  # a bug in s2sgrad: still one line, the traceback on request
        if args.traceback:
            traceback.print_exc()
        _err(f"internal error: {type(exc).__name__}: {exc} (rerun with --traceback and "
             f"report it)")
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
