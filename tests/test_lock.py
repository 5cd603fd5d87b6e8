"""requirements.lock pins, with hashes, a version of everything pyproject.toml asks for (make lock refreshes it)."""
import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent


def _locked() -> dict[str, tuple[str, int]]:
    """name -> (version, number of hashes), from the lock's `name==version \\ --hash=...` blocks."""
    pins: dict[str, tuple[str, int]] = {}
    name = None
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        pin = re.match(r"^([A-Za-z0-9_.\-]+)==([^\s;\\]+)", line)
        if pin:
            name = pin.group(1).lower().replace("_", "-")
            pins[name] = (pin.group(2), 0)
        elif name and line.strip().startswith("--hash="):
            version, hashes = pins[name]
            pins[name] = (version, hashes + 1)
    return pins


def test_every_requirement_of_pyproject_is_locked_with_hashes_in_its_range():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = project["dependencies"] + project["optional-dependencies"]["test"] + \
        project["optional-dependencies"]["devchain"]
    locked = _locked()
    problems = []
    for text in wanted:
        requirement = Requirement(text)
        name = requirement.name.lower().replace("_", "-")
        if name == "coop-assistant":
            continue  # the extras of this project, listed above
        if name not in locked:
            problems.append(f"{name} is not in requirements.lock: run make lock")
            continue
        version, hashes = locked[name]
        if not requirement.specifier.contains(version, prereleases=True):
            problems.append(f"{name}=={version} is outside {requirement.specifier}: run make lock")
        if hashes == 0:
            problems.append(f"{name} has no hash")
    assert not problems
