"""Runs every benchmark and prints one line per figure (format: docs/interfaces.md §6)."""
import sys

from bench import alerts, bot, bundler, bundler_external, gas, iot, phrases, telegram


def main() -> int:
    for module in (gas, bundler, bundler_external, bot, phrases, telegram, iot, alerts):
        for line in module.run():
            print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
