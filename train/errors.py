"""The pipeline's one error type: library functions raise it; only each stage's main() turns it
into one line on stderr and exit status 2."""
import functools
import sys


class TrainError(Exception):
    """Bad input or state for a training stage (a flag, a data folder, a run folder)."""


def stage_main(prog: str):
    """Wrap a stage's ``main(argv)``: a TrainError becomes ``PROG: error: ...`` on stderr and exit
    status 2 (returned, for ``sys.exit(main())``); success returns 0. Only here is an error an exit."""
    def wrap(body):
        @functools.wraps(body)
        def main(argv: list[str] | None = None) -> int:
            try:
                body(argv)
            except TrainError as e:
                print(f"{prog}: error: {e}", file=sys.stderr)
                return 2
            return 0
        return main
    return wrap
