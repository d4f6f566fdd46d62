"""The import rules of DESIGN.md, checked in a fresh interpreter."""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

import digest

ROOT = Path(__file__).resolve().parent.parent


def all_digest_modules() -> list[str]:
    return sorted(m.name for m in pkgutil.walk_packages(digest.__path__, "digest."))


def test_the_core_never_imports_platform_libraries() -> None:
    modules = all_digest_modules()
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "platforms = {'telegram', 'discord', 'bot'}\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in platforms)\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert len(modules) > 10
    assert result.stdout.strip() == ""


def test_only_the_anthropic_engine_imports_anthropic() -> None:
    offenders = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "digest").rglob("*.py")
        if "import anthropic" in path.read_text() or "from anthropic" in path.read_text()
        if not path.name.startswith("anthropic_")
    ]
    assert offenders == []
