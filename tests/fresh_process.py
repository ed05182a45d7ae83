"""Running a program in a new interpreter that imports this checkout's s2sgrad, with the
disk cache off (what a first gradient costs and loads: nothing the test process already
imported counts)."""

import json
import os
import subprocess
import sys
import textwrap

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(code, tmp_path=None):
    """The stdout of ``code`` run in a new interpreter: from a file in ``tmp_path`` when
    given (its functions then have their source, as s2sgrad needs), else by ``-c``."""
    code = textwrap.dedent(code)
    if tmp_path is not None:
        script = tmp_path / "program.py"
        script.write_text(code)
        command = [sys.executable, str(script)]
    else:
        command = [sys.executable, "-c", code]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [ROOT] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]),
        S2SGRAD_CACHE="off")
    out = subprocess.run(command, env=env, capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    return out.stdout


def run_json(code, tmp_path):
    """The JSON ``code`` prints, run from a file in ``tmp_path``."""
    return json.loads(run(code, tmp_path))
