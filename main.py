"""Latent Atlas entry point: no subcommand opens the editor; subcommands run headless."""
from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    from cli.parser import build_parser

    args = build_parser().parse_args(argv)
    from models.errors import LatentAtlasError

    try:
        if args.command is None:
            from editor.app import run_editor
            return run_editor(args)
        from cli.commands import COMMANDS
        return COMMANDS[args.command](args)
    except LatentAtlasError as e:
        print(f"latent-atlas: error: {e}", file=sys.stderr)
        return 1
    except OSError as e:
        name = f"{e.filename}: " if getattr(e, "filename", None) else ""
        print(f"latent-atlas: error: {name}{e.strerror or e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("latent-atlas: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
