"""docs/ARCHITECTURE.md matches the code: its layer list is the import contract's, every file it names
exists, the contracts hold (`lint-imports`, as .ci/run runs it), and no module cites a design file
that is not in the repository."""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAP = (ROOT / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8")
CONTRACTS = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]


def test_the_maps_layers_are_the_contracts_layers():
    layers = next(c["layers"] for c in CONTRACTS["contracts"] if c["type"] == "layers")
    drawn = re.search(r"## Layers.*?```\n(.*?)```", MAP, flags=re.S)
    assert drawn, "docs/ARCHITECTURE.md draws the layers in a code block"
    assert [line.strip() for line in drawn.group(1).splitlines() if line.strip()] == layers


def test_every_path_the_map_names_exists():
    named = set(re.findall(r"`((?:bot|cogs|db|tests|bench|docs)/[\w./{},-]*)`", MAP))
    assert len(named) > 20, named
    missing = []
    for path in named:
        if "{" in path:  # bot/locales/{en,zh_CN}/…: each language
            head, options, tail = re.match(r"(.*)\{(.*?)\}(.*)", path).groups()
            candidates = [head + option + tail for option in options.split(",")]
        else:
            candidates = [path]
        missing += [c for c in candidates if not (ROOT / c).exists()]
    assert missing == []


def test_no_module_cites_a_design_file_outside_the_repository():
    citing = []
    for package in ("bot", "cogs", "db", "bench"):
        for path in (ROOT / package).rglob("*.py"):
            doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
            if "DESIGN.md" in doc:
                citing.append(str(path.relative_to(ROOT)))
    assert citing == []


def test_the_import_contracts_hold():
    lint = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert lint, "import-linter is in the dev extra: pip install -e '.[dev]'"
    done = subprocess.run([lint, "--no-logo", "--no-cache"], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout
