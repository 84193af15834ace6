"""``poseloop``: the one command. Subcommands live in :mod:`stream.commands` and are
imported only when called, so ``poseloop --help`` answers at once."""

from __future__ import annotations

import argparse
import ast
import importlib
import logging
import sys
from pathlib import Path

COMMANDS_DIR = Path(__file__).parent / "commands"


def available_commands() -> dict[str, str]:
    """``{command name: help line}``, read from the modules' docstrings without importing."""
    out = {}
    for path in sorted(COMMANDS_DIR.glob("*.py")):
        if path.name.startswith("_"):
            continue
        doc = ast.get_docstring(ast.parse(path.read_text())) or ""
        out[path.stem.replace("_", "-")] = doc.strip().splitlines()[0] if doc.strip() else ""
    return out


def _top_help(commands: dict[str, str]) -> str:
    width = max(len(n) for n in commands)
    lines = ["usage: poseloop COMMAND [options]  (poseloop COMMAND --help for its options)", "",
             "Markerless pose estimation: train, analyze, stream, calibrate.", "", "commands:"]
    lines += [f"  {name.ljust(width)}  {text}" for name, text in commands.items()]
    return "\n".join(lines)


class _Parser(argparse.ArgumentParser):
    """Reports a bad argument in one line (with where to look), not a usage block."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def one_line(exc: BaseException) -> str:
    """An error's message on one line (some carry the lines of a parser's report)."""
    return "; ".join(line.strip() for line in str(exc).splitlines() if line.strip())


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    commands = available_commands()
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(_top_help(commands))
        return 0
    if argv[0] == "--version":
        from importlib.metadata import version

        print(f"poseloop {version('poseloop')}")
        return 0
    name, rest = argv[0], argv[1:]
    if name not in commands:
        print(f"poseloop: unknown command {name!r}\n\n{_top_help(commands)}", file=sys.stderr)
        return 2
    module = importlib.import_module(f"stream.commands.{name.replace('-', '_')}")
    parser = _Parser(prog=f"poseloop {name}", description=module.__doc__, exit_on_error=False)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    module.add_arguments(parser)
    from stream.commands._arguments import BadPath

    try:
        args = parser.parse_args(rest)
    except argparse.ArgumentError as exc:
        if isinstance(exc.__context__, BadPath):  # wrong input, found before any work
            print(f"poseloop {name}: error: {exc}", file=sys.stderr)
            return 1
        parser.error(str(exc))
    problem = getattr(module, "check_arguments", lambda _: None)(args)
    if problem:
        parser.error(problem)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    from calib.errors import PoseloopError

    try:
        code = module.main(args)
    except PoseloopError as exc:
        print(f"poseloop {name}: error: {one_line(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"poseloop {name}: interrupted", file=sys.stderr)
        return 130
    return int(code or 0)


if __name__ == "__main__":
    sys.exit(main())
