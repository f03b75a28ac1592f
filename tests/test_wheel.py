"""The wheel (issue 15, packaging): it builds, holds every data file the code reads (templates,
static assets, models, profiles, scenarios, the font, migrations) and declares what we import,
with the extras any pip needs (lxml's HTML cleaner for jusText)."""

from __future__ import annotations

import email
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    uv = shutil.which("uv")
    if uv is None:
        pytest.skip("uv is not on PATH")
    out = tmp_path_factory.mktemp("wheel")
    built = subprocess.run(
        [uv, "build", "--wheel", "--out-dir", str(out), str(ROOT)], capture_output=True, timeout=600
    )
    assert built.returncode == 0, built.stderr.decode()[-2000:]
    (path,) = out.glob("yuqing-*.whl")
    return zipfile.ZipFile(path)


def test_the_wheel_holds_every_data_file_the_code_reads(wheel: zipfile.ZipFile) -> None:
    tracked = subprocess.run(
        ["git", "ls-files", "src/yuqing"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    if not tracked:
        pytest.skip("not a git checkout")
    wanted = {name.removeprefix("src/") for name in tracked}
    missing = sorted(wanted - set(wheel.namelist()))
    assert missing == []
    data = [n for n in wanted if not n.endswith(".py")]
    assert any(n.endswith(".npz") for n in data) and any("fontdata" in n for n in data)


def test_the_wheel_declares_what_yuqing_imports(wheel: zipfile.ZipFile) -> None:
    (meta,) = [n for n in wheel.namelist() if n.endswith(".dist-info/METADATA")]
    message = email.message_from_bytes(wheel.read(meta))
    requires = " ".join(message.get_all("Requires-Dist") or []).lower()
    for name in ("lxml-html-clean", "justext", "feedparser", "sqlalchemy", "fastapi", "numpy", "ijson"):
        assert name in requires.replace("_", "-"), name
    entry = [n for n in wheel.namelist() if n.endswith(".dist-info/entry_points.txt")]
    assert entry and b"yuqing" in wheel.read(entry[0])
    assert "yuqing/__main__.py" in wheel.namelist()  # python -m yuqing
