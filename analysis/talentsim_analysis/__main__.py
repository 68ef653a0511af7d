"""Command line of talentsim_analysis: ``python3 -m talentsim_analysis report FILE``.

Exit codes follow the talentsim command: 0 success, 2 a usage or input
error (a missing file, a file that is not a talentsim results file, or an
output that would replace it; nothing is written), 1 a failure while
writing the report.
"""

import argparse
import sys
from pathlib import Path

from .report import default_report_path, write_report

PROG = "python3 -m talentsim_analysis"


def _parser():
    """The argument parser, with one subcommand per action."""
    parser = argparse.ArgumentParser(
        prog=PROG, description="Tools for talentsim results files (run with Debian's "
                               "/usr/bin/python3 and PYTHONPATH=analysis).")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")
    report = commands.add_parser(
        "report", help="write a self-contained HTML report of a results file",
        description="Write a self-contained HTML report (figures embedded, no external "
                    "links) of a run, comparison or sweep file written by talentsim.")
    report.add_argument("file", metavar="FILE", help="results file (.h5) from talentsim run, "
                                                     "compare or sweep")
    report.add_argument("-o", "--output", metavar="OUT.html",
                        help="where to write the report (default: FILE with suffix .html, "
                             "beside it); an existing file is replaced")
    report.set_defaults(action=_report)
    return parser


def _report(args):
    """The report subcommand; returns the exit code."""
    prefix = f"{PROG} report: error:"
    if not Path(args.file).exists():
        print(f"{prefix} {args.file}: no such file", file=sys.stderr)
        return 2
    output = args.output if args.output is not None else default_report_path(args.file)
    try:
        written = write_report(args.file, output)
    except ValueError as e:  # FormatError, or the output would replace FILE
        print(f"{prefix} {e}", file=sys.stderr)
        return 2
    except OSError as e:
        if e.filename is not None and Path(e.filename) == Path(args.file):
            print(f"{prefix} {e.strerror or e}", file=sys.stderr)  # cannot read FILE
            return 2
        print(f"{prefix} cannot write {output}: {e.strerror or e}", file=sys.stderr)
        return 1
    print(f"report: {written} ({written.stat().st_size / 1024:.0f} KB)")
    return 0


def main(argv=None):
    """Run the command line with ``argv`` (default sys.argv[1:]); returns the exit code."""
    args = _parser().parse_args(argv)
    return args.action(args)


if __name__ == "__main__":
    sys.exit(main())
