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


def _modules_imported_by(package: str) -> set[str]:
    """Top-level and ``bot.*`` modules loaded by importing every module of ``package``."""
    code = (
        "import importlib, pkgutil, sys\n"
        f"pkg = importlib.import_module({package!r})\n"
        f"for m in pkgutil.walk_packages(pkg.__path__, {package + '.'!r}):\n"
        "    importlib.import_module(m.name)\n"
        "print(','.join(sorted(sys.modules)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    )
    return set(result.stdout.strip().split(","))


def test_adapters_never_import_each_other_and_common_imports_neither() -> None:
    telegram = _modules_imported_by("bot.telegram")
    discord = _modules_imported_by("bot.discord")
    common = _modules_imported_by("bot.common")
    assert not any(m == "discord" or m.startswith("bot.discord") for m in telegram)
    assert not any(m == "telegram" or m.startswith("bot.telegram") for m in discord)
    assert not any(m.split(".")[0] in ("telegram", "discord") for m in common)
    assert not any(m.startswith(("bot.telegram", "bot.discord")) for m in common)
