"""The co-op's Solidity contracts; their committed build artifacts live in contracts/artifacts."""
from pathlib import Path

ARTIFACTS_DIR = Path(__file__).parent / "artifacts"
# Committed storage layouts of the deployed upgradeable versions (chain/layout.py).
LAYOUTS_DIR = Path(__file__).parent / "layouts"
