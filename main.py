"""Latent Atlas entry point: no subcommand opens the editor; subcommands run headless."""
from __future__ import annotations

import sys


def _bind_checkout() -> None:
    """`python main.py` from a checkout: make this folder the package `latent_atlas` (what an installed
    wheel calls it), so that every import is the same absolute `latent_atlas.*` in all three ways to run."""
    import importlib.util
    from pathlib import Path

    here = Path(__file__).resolve().parent
    spec = importlib.util.spec_from_file_location("latent_atlas", here / "__init__.py",
                                                  submodule_search_locations=[str(here)])
    package = importlib.util.module_from_spec(spec)
    sys.modules["latent_atlas"] = package
    spec.loader.exec_module(package)


if not __package__ and "latent_atlas" not in sys.modules:      # run as a script (also torchrun, spawn)
    _bind_checkout()


def main(argv: list[str] | None = None) -> int:
    from latent_atlas.cli.parser import build_parser

    args = build_parser().parse_args(argv)
    from latent_atlas.models.errors import LatentAtlasError

    try:
        if args.command is None:
            from latent_atlas.editor.app import run_editor
            return run_editor(args)
        from latent_atlas.cli.commands import COMMANDS
        code = COMMANDS[args.command](args)
        sys.stdout.flush()                    # here, where a closed pipe is still ours to handle
        return code
    except BrokenPipeError:
        return _reader_left()
    except LatentAtlasError as e:
        first = (str(e).splitlines() or [type(e).__name__])[0]     # details (a second line) are the dialog's
        print(f"latent-atlas: error: {first}", file=sys.stderr)
        return 1
    except OSError as e:
        name = f"{e.filename}: " if getattr(e, "filename", None) else ""
        print(f"latent-atlas: error: {name}{e.strerror or e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("latent-atlas: interrupted", file=sys.stderr)
        return 130


def _reader_left() -> int:
    """The reader of our output went away (`latent-atlas info F | head -1`): not an error. Point stdout at
    /dev/null so that the interpreter's own flush at exit does not report the broken pipe either."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):     # not a real file (captured): nothing will flush it
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
