"""Packaging: the desktop file, AppStream metadata and icon are consistent, and the
PyInstaller bundle builds and runs headless (slow: about 75 s to build)."""

from __future__ import annotations

import configparser
import os
import shutil
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGING = ROOT / "packaging"
ICONS = ROOT / "resources" / "icons"
APP = "release-sla-workbench"


def test_desktop_file_metainfo_and_icon_agree():
    desk = configparser.ConfigParser(interpolation=None)
    desk.optionxform = str  # keep key case
    desk.read(PACKAGING / f"{APP}.desktop", encoding="utf-8")
    entry = desk["Desktop Entry"]
    assert entry["Type"] == "Application" and entry["Icon"] == APP
    assert entry["Exec"].split()[0] in ("workbench-gui", "workbench")

    metas = list(PACKAGING.glob("*.metainfo.xml"))
    assert len(metas) == 1
    root = ElementTree.parse(metas[0]).getroot()
    assert root.tag == "component" and root.get("type") == "desktop-application"
    assert metas[0].name == f"{root.findtext('id')}.metainfo.xml"
    assert root.findtext("launchable") == f"{APP}.desktop"
    assert root.findtext("icon") == APP
    assert root.findtext("metadata_license") and root.findtext("project_license")
    assert root.find("description/p") is not None and root.findtext("summary")
    for img in root.iterfind("screenshots/screenshot/image"):
        assert (ROOT / img.text).suffix == ".png"
    assert {b.text for b in root.iterfind("provides/binary")} == {"workbench", "workbench-gui"}

    svg = ElementTree.parse(ICONS / f"{APP}.svg").getroot()
    assert svg.tag.endswith("svg") and svg.get("viewBox") == "0 0 256 256"
    png = (ICONS / f"{APP}.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert int.from_bytes(png[16:20], "big") == int.from_bytes(png[20:24], "big") == 256


def test_icon_renders_from_the_svg(tmp_path):
    pytest.importorskip("PySide6.QtSvg")
    code = (f"import sys; sys.path.insert(0, {str(PACKAGING)!r})\n"
            "import render_icon\n"
            f"print(render_icon.render(64, __import__('pathlib').Path({str(tmp_path / 'i.png')!r})))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert out.returncode == 0, out.stderr[-2000:]
    from PySide6.QtGui import QImage

    img = QImage(str(tmp_path / "i.png"))
    assert (img.width(), img.height()) == (64, 64)
    assert img.pixelColor(32, 32).alpha() == 255 and img.pixelColor(0, 0).alpha() == 0


@pytest.mark.slow
def test_pyinstaller_bundle_runs_headless(tmp_path):
    """Build the one-folder bundle and take a screenshot with it, offscreen, on the
    sample workspace it builds from its own bundled sample data."""
    pytest.importorskip("PyInstaller", reason="PyInstaller is not installed (pip install pyinstaller)")
    exe = shutil.which("pyinstaller", path=str(Path(sys.executable).parent)) or shutil.which("pyinstaller")
    cmd = [exe] if exe else [sys.executable, "-m", "PyInstaller"]
    build = subprocess.run(
        [*cmd, "--noconfirm", "--clean", "--log-level", "WARN", "--distpath", str(tmp_path / "dist"),
         "--workpath", str(tmp_path / "build"), str(PACKAGING / "workbench.spec")],
        capture_output=True, text=True, timeout=1200, cwd=tmp_path)
    assert build.returncode == 0, build.stderr[-4000:]
    bundle = tmp_path / "dist" / APP
    binary = bundle / ("workbench.exe" if sys.platform == "win32" else "workbench")
    assert binary.is_file()
    assert (bundle / "_internal" / "workbench" / "_resources" / "default_policy.toml").is_file()
    assert (bundle / "_internal" / "workbench" / "_sample_data" / "jenkins_builds.ndjson").is_file()

    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "PYTHONPATH")}
    env.update(QT_QPA_PLATFORM="offscreen", WORKBENCH_CONFIG_DIR=str(tmp_path / "config"))
    png = tmp_path / "overview.png"
    run = subprocess.run([str(binary), "screenshot", "--view", "overview", "--out", str(png)],
                         capture_output=True, text=True, timeout=600, env=env, cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-4000:]
    from PySide6.QtGui import QImage

    img = QImage(str(png))
    assert (img.width(), img.height()) == (1400, 900)
    version = subprocess.run([str(binary), "--version"], capture_output=True, text=True, timeout=120,
                             env=env)
    assert version.returncode == 0 and "workbench" in version.stdout
