"""The README's runnable shell examples (```sh blocks) run as written in a script, without a terminal.

Each block runs in a fresh folder with bash (errexit, pipefail) and the project's `cgtqc` on PATH; stdin is
not a terminal, so a command that would prompt must say which option or variable gives the password instead.
A line ending in `# exit N` is a command the README shows being refused: the test checks its exit status.
"""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"
EXIT = re.compile(r"^(?P<cmd>.*?)\s+#\s*exit (?P<code>\d+)\b.*$")


def sh_blocks() -> list[str]:
    return re.findall(r"^```sh\n(.*?)^```", README.read_text(encoding="utf-8"), flags=re.S | re.M)


def to_script(block: str) -> str:
    lines, out = block.replace("\\\n", " ").splitlines(), ["set -euo pipefail"]
    for i, line in enumerate(lines):
        m = EXIT.match(line)
        if m:
            cmd, code = m.group("cmd"), m.group("code")
            fail = f"{{ echo 'README line {i + 1}: exit '$rc', expected {code}' >&2; exit 97; }}"
            out.append(f"if ( {cmd} ); then rc=0; else rc=$?; fi; [ $rc -eq {code} ] || {fail}")
        else:
            out.append(line)
    return "\n".join(out) + "\n"


def test_readme_has_runnable_examples():
    blocks = sh_blocks()
    assert blocks and any("cgtqc result add" in b for b in blocks)


@pytest.mark.parametrize("block", sh_blocks(), ids=lambda b: b.split("\n", 2)[1][:40])
def test_readme_example_runs_as_written(block, tmp_path):
    if shutil.which("bash") is None:
        pytest.skip("bash is not installed")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CGTQC_")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    p = subprocess.run(["bash", "-c", to_script(block)], cwd=tmp_path, env=env, stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, f"stdout:\n{p.stdout[-3000:]}\nstderr:\n{p.stderr[-3000:]}"
    assert "aborted" not in p.stderr.lower()
