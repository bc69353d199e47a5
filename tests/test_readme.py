"""The README's commands and example work as written."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_the_two_commands_come_first():
    first_block = re.search(r"```sh\n(.*?)```", README, re.S).group(1)
    assert first_block.splitlines()[0].startswith("make reports")
    assert first_block.splitlines()[1].startswith("make test")
    assert README.index("make reports") < README.index("## ")


def _torch_installed() -> bool:
    import importlib.util

    return importlib.util.find_spec("torch") is not None


def test_every_python_example_runs(capsys):
    blocks = re.findall(r"```python\n(.*?)```", README, re.S)
    assert blocks, "the README has a Python example"
    ran = 0
    for block in blocks:
        if re.search(r"^import torch$", block, re.M) and not _torch_installed():
            continue   # the PyTorch example needs torch (CI installs it)
        exec(compile(block, "README.md", "exec"), {})
        ran += 1
    assert ran >= len(blocks) - 1 and capsys.readouterr().out.strip()


def test_makefile_has_the_targets_the_readme_names():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    for target in ("reports", "paper", "test", "lint", "bench", "help", "clean"):
        assert re.search(rf"^{target}:", makefile, re.M), target
    assert "make test" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")
