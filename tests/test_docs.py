"""What the READMEs and `coop --help` point to is in the repository: someone who clones it can read every
contract the project implements (docs/) without a document that lives elsewhere."""
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCUMENT = re.compile(r"(?<![\w/.])((?:\.\./|[\w-]+/)*[\w-]+\.md)\b")


def missing_documents(text: str, *bases: Path) -> list[str]:
    """The .md files `text` names that are found under none of `bases` (a folder's README may name a file
    from its own folder or from the repository's root)."""
    return [name for name in DOCUMENT.findall(text) if not any((base / name).exists() for base in bases)]


def test_every_document_the_readmes_and_help_name_is_in_the_repository():
    help_text = subprocess.run([sys.executable, "-m", "bot.cli", "--help"], capture_output=True, text=True,
                               cwd=ROOT, timeout=120).stdout
    assert "docs/interfaces.md" in help_text
    missing = {"coop --help": missing_documents(help_text, ROOT)}
    for readme in [ROOT / "README.md", *ROOT.glob("*/README.md")]:
        missing[str(readme.relative_to(ROOT))] = missing_documents(readme.read_text(), readme.parent, ROOT)
    assert {where: names for where, names in missing.items() if names} == {}
