"""Errors raised inside generated code, pointed at the user's code.

An ``AttributeError`` from a typo (``np.sine``) or a ``LinAlgError`` from a singular
``np.linalg.solve`` escapes from a frame of generated code
(``<s2sgrad:model.f.grad:8cee93fddbb2>``, line 14), which says nothing about
the user's ``model.py:4``.  Generated code cites the user's line above each
block (``# model.py:4  y = np.sine(x)``), and the backward sweep starts with
a ``# backward sweep`` comment (or is a function of its own, ``f_bwd``), so
the frame's position tells which statement of the user's code was being run
or differentiated, and how.

``note(exc)`` adds that to the exception, without changing its type or
message: as an exception note (PEP 678, ``exc.add_note``), printed under the
traceback by Python 3.11 and later.  Python 3.10 has no notes: the same text
is appended to ``exc.__notes__`` (the attribute PEP 678 defines, which
``traceback`` there does not print, but the ``exceptiongroup`` backport,
IPython and pytest do), and the message can be read with ``notes(exc)``.

The operators call ``note`` in an ``except`` clause around each call of
generated code, so it costs nothing when no exception is raised.  This
module needs only the standard library (a gradient served from the disk
cache runs without the compiler).
"""

import linecache
import re

import s2sgrad.naming as naming

__all__ = ["note", "notes", "sites"]

_GENERATED = naming.GENERATED_FILE
_CITATION = re.compile(r"^(\s*)#\s*(\S+):(\d+)(?:  (.*))?$")
_TARGETS = re.compile(r"^\s*([A-Za-z_]\w*(?:\s*,\s*[A-Za-z_]\w*)*)\s*,?\s*=(?!=)")
_HEADER = "s2sgrad: "


def _indent(line):
    return len(line) - len(line.lstrip())


class Site:
    """A statement of the user's code that a frame of generated code was running."""

    def __init__(self, where, text, phase, nested=False):
        self.where = where          # "model.py:4"
        self.text = text            # "y = np.sine(x)", or "" when unknown
        # "forward", "backward", "tangent", "forward mode" (either) or "derivative" (of a
        # derivative's code)
        self.phase = phase
        self.nested = nested        # cited through the text of an earlier derivative

    def describe(self):
        what = {
            "forward": f"in the forward run of {self.where}",
            "backward": f"while differentiating {self.where} (backward sweep)",
            "tangent": f"while differentiating {self.where} (forward mode: its tangent)",
            "forward mode": f"while running or differentiating {self.where} (forward mode)",
            "derivative": f"while differentiating {self.where}",
        }[self.phase]
        if self.nested:
            what += ", in a higher-order derivative"
        return what

    def __repr__(self):
        return f"<Site {self.describe()}: {self.text}>"


def _site(filename, lineno, depth=0):
    """The Site of line ``lineno`` of generated file ``filename``, or None (no citation:
    an adapter such as ``jvp_of_f``, whose caller is the frame that matters)."""
    lines = linecache.getlines(filename)
    if not lines or not 0 < lineno <= len(lines):
        return None
    here = lines[lineno - 1]
    level = _indent(here)
    cited = None
    backward = False
    docline = ""
    for k in range(lineno - 2, -1, -1):
        line = lines[k]
        stripped = line.strip()
        if not stripped:
            continue
        if line.startswith("def "):
            docline = lines[k + 1].strip() if k + 1 < len(lines) else ""
            break
        ind = _indent(line)
        if stripped.startswith("#"):
            if ind > level:          # inside an earlier sibling's block
                continue
            m = _CITATION.match(line.rstrip("\n"))
            if m and cited is None:
                cited = m
            elif stripped.startswith(("# backward sweep", "# what the forward sweep left")):
                backward = True
        elif ind < level:            # the header of the block this line is in
            level = ind
    else:
        return None
    if cited is None:
        return None
    if docline.lstrip('"').startswith("Backward sweep of"):
        backward = True
    differentiated = docline.lstrip('"').split(" ", 1)[0]
    if differentiated.startswith(("grad_", "value_and_gradient_of_")) \
            or differentiated.endswith("_bwd"):
        backward = True     # code over a generated gradient: all of it differentiates the user's
    if backward:
        phase = "backward"
    elif "derivative along the tangent of" in docline:
        phase = _tangent_phase(here)
    else:
        phase = "forward"
    where = f"{cited.group(2)}:{cited.group(3)}"
    text = (cited.group(4) or "").strip()
    if cited.group(2).startswith(_GENERATED) and depth < 8:
        inner = _site(cited.group(2), int(cited.group(3)), depth + 1)   # an earlier derivative
        if inner is not None:
            inner.nested = True
            if phase != "forward":      # differentiating code that runs (or differentiates) it
                inner.phase = "derivative"
            return inner
    return Site(where, text, phase)


def _tangent_phase(line):
    """In forward-mode code, a statement computes the value (``x = ...``), its tangent
    (``t_x = ...``) or both (``x, t_x = _rt.call_jvp(...)``)."""
    m = _TARGETS.match(line)
    if not m:
        return "forward mode"
    names = [n.strip() for n in m.group(1).split(",")]
    tangents = [n.startswith("t_") for n in names]
    if all(tangents):
        return "tangent"
    if any(tangents):
        return "forward mode"
    return "forward"


def sites(tb):
    """The Sites of the frames of generated code in traceback ``tb``, outermost first."""
    out = []
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if filename.startswith(_GENERATED):
            site = _site(filename, tb.tb_lineno)
            if site is not None and not (out and out[-1].where == site.where
                                         and out[-1].phase == site.phase):
                out.append(site)
        tb = tb.tb_next
    return out


def _text(found):
    if len(found) == 1:
        s = found[0]
        return f"{_HEADER}raised {s.describe()}:\n    {s.text}".rstrip()
    lines = [f"{_HEADER}raised in code generated from yours, innermost last:"]
    for s in found:
        lines.append(f"  {s.describe()}:")
        if s.text:
            lines.append(f"    {s.text}")
    return "\n".join(lines)


def note(exc):
    """Add to ``exc`` the user's statements its traceback ran in generated code.

    Called again on the same exception further out (a derivative running inside
    generated code), the note is replaced by the longer one.  Returns ``exc``.
    """
    try:
        found = sites(exc.__traceback__)
        if not found:
            return exc
        text = _text(found)
        current = getattr(exc, "__notes__", None)
        old = getattr(exc, "_s2sgrad_note", None)
        if isinstance(current, list) and old is not None and old in current:
            current[current.index(old)] = text
        elif hasattr(exc, "add_note"):
            exc.add_note(text)
        else:                                   # Python 3.10: the attribute of PEP 678
            if not isinstance(current, list):
                current = []
                exc.__notes__ = current
            current.append(text)
        exc._s2sgrad_note = text
    except Exception:       # (an exception that takes no attributes): leave it as it is
        pass
    return exc


def notes(exc):
    """The notes s2sgrad (or anyone) added to ``exc``, as one string."""
    return "\n".join(getattr(exc, "__notes__", None) or ())
