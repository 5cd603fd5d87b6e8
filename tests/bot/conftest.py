"""`console`: `coop console --jsonl` on a data dir of the test's own, killed after the test if still running."""
import pytest

from tests.bot.console import Console


@pytest.fixture
def console(tmp_path):
    c = Console(tmp_path / "data")
    yield c
    if c.process.poll() is None:
        c.process.kill()
