"""The `coop` command: help lists the subcommands; the demo runs the on-chain walkthrough."""
import subprocess
import sys


def coop(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], capture_output=True, text=True, timeout=300)


def test_help_lists_subcommands():
    result = coop("--help")
    assert result.returncode == 0
    assert "demo" in result.stdout


def test_demo_runs_a_group_buy_on_chain():
    result = coop("demo")
    assert result.returncode == 0, result.stderr
    assert "the supplier was paid $166.50" in result.stdout
    assert "Ana's Food-USD now: $126.00" in result.stdout
