"""Runs the firmware on CPython with the host shims: python firmware/host.py CONFIG [--cycles N]."""
import argparse
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def use_shims():
    """Puts the shims, then the firmware, first on sys.path: `import machine` finds the fake one."""
    for path in (HERE, os.path.join(HERE, "shims")):
        if path in sys.path:
            sys.path.remove(path)
        sys.path.insert(0, path)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("config", help="the board's JSON settings (see config.example.json)")
    parser.add_argument("--cycles", type=int, default=None, help="stop after N readings (default: run forever)")
    args = parser.parse_args(argv)
    use_shims()
    import node
    import settings

    board = node.Node(settings.load(args.config))
    node.log("boot", device=board.device, boot=board.boot, host="cpython")
    try:
        board.run(args.cycles)
    except KeyboardInterrupt:
        pass
    finally:
        board.close()


if __name__ == "__main__":
    main()
