"""CI runs what README says: the test commands of README's "Tests and benchmarks" block are the ones
.ci/run runs, in the same order."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _pytest_commands(text: str) -> list[str]:
    commands = []
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if re.search(r"(^|\s)\.venv/bin/python -m pytest(\s|$)", line):
            commands.append(line)
    return commands


def test_ci_runs_the_test_commands_readme_gives():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Tests and benchmarks"):]
    block = re.search(r"```bash\n(.*?)```", section, flags=re.S)
    assert block, "README's Tests and benchmarks section starts with a bash block"
    wanted = _pytest_commands(block.group(1))
    assert wanted == [".venv/bin/python -m pytest", "TEST_DATABASE=postgres .venv/bin/python -m pytest"]
    assert _pytest_commands((ROOT / ".ci" / "run").read_text(encoding="utf-8")) == wanted
