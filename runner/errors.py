"""Errors the runner reports to users as one line, with exit code 2."""
import sys


class UserError(Exception):
    """Bad input from the user: shown as one line, no traceback, exit code 2."""


def one_line(error: BaseException) -> str:
    """Fold a (possibly multi-line) message into one line; Hydra lists options one per line."""
    from omegaconf.errors import MissingMandatoryValue, OmegaConfBaseException

    if isinstance(error, MissingMandatoryValue):
        return f"{error.full_key} is missing; accepted: a value given as {error.full_key}=VALUE"
    if isinstance(error, OmegaConfBaseException) and getattr(error, "full_key", None):
        return f"{error.full_key}: {' '.join(str(error.msg).split())}"
    from runner.sweep_checks import merge_error  # Hydra's "Error merging override KEY=VALUE": what KEY accepts

    if line := merge_error(error):
        return line
    from runner.override_advice import could_not_override

    if line := could_not_override(str(error), sys.argv[1:]):
        return line
    text = str(error).split("Config search path")[0].replace("\n\t", ", ").replace(":,", ":")
    return " ".join(text.split())


def run_command(main, argv=None) -> int:
    """Run a command's main(argv); a UserError becomes one line on stderr and exit code 2."""
    import sys

    try:
        return main(argv)
    except UserError as error:
        print(f"error: {one_line(error)}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return output_closed()


def output_closed() -> int:
    """The reader of stdout went away (`... | head`): as a shell tool does, stop quietly with 141
    (128 + SIGPIPE). stdout is pointed at /dev/null first, so Python's last flush cannot fail again."""
    import os
    import sys

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return 141
