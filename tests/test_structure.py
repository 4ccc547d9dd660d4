"""The package's shape stays as issue 11 left it: no import cycles (modules or subpackages), no SQL outside
``lexintel/store/``, no module over 400 lines. The checker itself is shown to catch each problem on a small
package built here, so a green run means something."""

from __future__ import annotations

from pathlib import Path

import pytest

from scripts.check_structure import main


def test_lexintel_has_no_cycles_no_sql_outside_store_and_no_long_modules(capsys: pytest.CaptureFixture[str]) -> None:
    status = main([])
    out = capsys.readouterr().out
    assert status == 0, out
    assert out.strip().endswith("structure: OK")


def _package(root: Path, files: dict[str, str]) -> Path:
    package = root / "pkg"
    for name, text in files.items():
        path = package / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    for directory in [package, *[p for p in package.rglob("*") if p.is_dir()]]:
        (directory / "__init__.py").touch()
    return package


def test_the_checker_finds_a_type_only_cycle(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    package = _package(tmp_path, {
        "a.py": "from pkg.b import B\n",
        "b.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.a import A\n",
    })
    assert main(["--package", str(package)]) == 1
    out = capsys.readouterr().out
    assert "pkg.a" in out and "pkg.b" in out and "type-only" in out


def test_the_checker_finds_a_cycle_between_subpackages(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    package = _package(tmp_path, {
        "events/emit.py": "from pkg.obs import metrics\n",
        "obs/metrics.py": "X = 1\n",
        "obs/hooks.py": "from pkg.events import emit\n",
    })
    assert main(["--package", str(package)]) == 1
    assert "between subpackages: 1" in capsys.readouterr().out


def test_the_checker_finds_sql_outside_store_and_long_modules(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    package = _package(tmp_path, {
        "api.py": 'def f(conn):\n    return conn.execute("SELECT id FROM cases WHERE id = ?")\n',
        "store/rows.py": 'Q = "DELETE FROM cases WHERE id = ?"\n',
        "prose.py": 'HELP = "create a user, then update the page"\n',
        "long.py": "x = 1\n" * 401,
    })
    assert main(["--package", str(package)]) == 1
    out = capsys.readouterr().out
    assert "SQL outside" in out and "api.py" in out
    assert "store/rows.py" not in out and "prose.py" not in out
    assert "long.py" in out
