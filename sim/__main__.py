"""``python -m sim``: the same program as the ``repsim`` command."""

from sim.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
