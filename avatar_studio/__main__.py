"""`python -m avatar_studio design|batch ...`: tune the CPU before torch loads, then run the CLI
(avatar_studio/cli.py, which holds the commands and their --help)."""
import sys

from avatar_studio.cpu import tune_cpu

if __name__ == "__main__":
    tune_cpu()
    from avatar_studio.cli import main
    sys.exit(main())
