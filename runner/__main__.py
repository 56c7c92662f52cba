"""`python -m runner`: Hydra's command line, with user errors shown as one line and exit code 2.

Pass --debug (or set HYDRA_FULL_ERROR=1) to see full tracebacks.
"""
from __future__ import annotations

import os
import sys
import traceback


def check_outputs_writable() -> None:
    """Fail before Hydra creates anything when the outputs folder cannot be written."""
    import tempfile

    from runner.errors import UserError
    from runner.paths import outputs_dir

    path = outputs_dir()
    try:
        path.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=path).close()
    except OSError as error:
        raise UserError(f"outputs folder {str(path)!r} cannot be written ({error.strerror or error}); "
                        "accepted: a writable folder (set BACKPROP_LAB_OUTPUTS)") from None


def cli() -> int:
    """Run Hydra's main; user errors become one line on stderr and exit code 2."""
    debug = "--debug" in sys.argv or os.environ.get("HYDRA_FULL_ERROR") == "1"
    if "--debug" in sys.argv:
        sys.argv.remove("--debug")
    saved = {key: os.environ.get(key) for key in ("HYDRA_FULL_ERROR", "BACKPROP_LAB_DEBUG")}
    os.environ["HYDRA_FULL_ERROR"] = "1"  # let errors reach us, so we decide how they are shown
    if debug:
        os.environ["BACKPROP_LAB_DEBUG"] = "1"
    try:
        return _run(debug)
    except KeyboardInterrupt:  # a Ctrl-C during _run's imports, before its own handler
        print(f"interrupted by SIGINT: {interrupted_what()}", file=sys.stderr)
        return 128 + 2
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _run(debug: bool) -> int:
    from multiprocessing import TimeoutError as PoolTimeoutError

    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    from runner.app import main
    from runner.errors import UserError, one_line, output_closed
    from runner.sweep_checks import null_node_error

    try:
        check_outputs_writable()
        main()
    except (UserError, HydraException, OmegaConfBaseException) as error:
        return user_error(one_line(error), 2, debug)
    except (AttributeError, AssertionError) as error:  # an override OmegaConf could not merge into a null node
        if (line := null_node_error(error)) is None:
            raise
        return user_error(line, 2, debug)
    except BrokenPipeError:  # `python -m runner | head`: the run is recorded, only its summary was cut short
        return output_closed()
    except OSError as error:  # a folder or file the system refused: hydra.run.dir, a full disk, ...
        if error.filename is None:
            raise
        return user_error(f"{error.filename!r}: {error.strerror}; accepted: a path this user can write "
                          "(hydra.run.dir, hydra.sweep.dir, BACKPROP_LAB_OUTPUTS)", 2, debug)
    except (TimeoutError, PoolTimeoutError):  # joblib's, when a job outlives hydra.launcher.timeout
        return user_error("a sweep job ran longer than hydra.launcher.timeout; the sweep stopped, its parent run and "
                          "running jobs ended FAILED and KILLED", 1, debug)
    except KeyboardInterrupt as interrupt:
        import signal

        signum = getattr(interrupt, "signum", signal.SIGINT)  # runner.experiment.Interrupted carries SIGTERM
        print(f"interrupted by {signal.Signals(signum).name}: {interrupted_what()}", file=sys.stderr)
        return 128 + signum  # the shell's convention: 130 after Ctrl-C, 143 after SIGTERM
    return 0


def user_error(line: str, code: int, debug: bool) -> int:
    """Report an error the user can mend: one line on stderr and its exit code; with --debug the traceback first,
    and the same exit code (before, --debug re-raised: exit 1 where the error is 2)."""
    if debug:
        traceback.print_exc()
    print(f"error: {line}", file=sys.stderr)
    return code


def interrupted_what() -> str:
    """What an interrupt ended: nothing yet, a run, or a sweep."""
    tracking = sys.modules.get("runner.tracking")  # not imported yet: no run (importing it now takes a second)
    if tracking is None or not tracking.Tracker.runs_started:
        return "stopped before any run was recorded"
    if "-m" in sys.argv or "--multirun" in sys.argv:
        return "the sweep was stopped: its parent run ended FAILED, its running jobs KILLED"
    return "the run was ended as KILLED"


if __name__ == "__main__":
    sys.exit(cli())
