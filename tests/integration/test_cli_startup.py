"""What `minwon` loads to start: only the module of the command given (cli.main).

Structural checks, no timing (bench/cli_startup.py times the whole process): the console
script's entry running `show` imports none of the domain, the store, Temporal, the web
stack nor httpx's unused extras; each command main names is registered by its module
alone exactly as in the parser of every command.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from cli.main import SUBCOMMAND_MODULES, build_parser
from domain.commands import STAFF_ACTIONS

# What `minwon show` has no use for: the domain's models and its store, Temporal, the
# web stack, and the optional extras of httpx and httpcore (cli.main.entry).
NOT_FOR_SHOW = {
    "activities",
    "click",
    "cryptography",
    "domain",
    "eventsourcing",
    "fastapi",
    "holidays",
    "jinja2",
    "projections",
    "pydantic",
    "pydantic_core",
    "pygments",
    "rich",
    "starlette",
    "structlog",
    "temporalio",
    "trio",
    "web",
    "workflows",
}


def commands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    [group] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(group.choices)


def test_show_imports_neither_the_domain_nor_temporal_nor_the_web(tmp_path: Path) -> None:
    """The console script's entry as `minwon show CODE` runs it; what it had loaded is
    printed at exit."""
    probe = (
        "import atexit, json, sys\n"
        "atexit.register(lambda: print(json.dumps(sorted(\n"
        "    name for name, module in sys.modules.items() if module is not None))))\n"
        "sys.argv = ['minwon', 'show', 'MW-AAAAA-AAAAA']\n"
        "from cli.main import entry\n"
        "entry()\n"
    )
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "MINWON_URL": "http://127.0.0.1:9",
           "MINWON_TOKEN": "mwt_000000000000_" + "x" * 40}  # fmt: skip
    run = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=60,
        check=False,
    )  # fmt: skip
    # The whole path was taken: parsed, the token read, the request tried (httpcore).
    assert run.returncode == 3, run
    assert run.stderr.startswith("minwon: cannot reach the minwon server"), run.stderr
    loaded = set(json.loads(run.stdout))
    assert "httpcore" in loaded
    assert {name.split(".")[0] for name in loaded} & NOT_FOR_SHOW == set()


def test_each_command_main_names_is_built_by_its_module_alone_as_in_the_full_parser() -> None:
    everything = commands(build_parser())
    named = [command for _, names in SUBCOMMAND_MODULES for command in names]
    assert len(named) == len(set(named))
    # Any other command is an action of the registry, which cases adds (and `--help`).
    assert set(everything) - set(named) == set(STAFF_ACTIONS) - set(named)
    for command in named:
        alone = commands(build_parser(command))
        assert command in alone, command
        assert alone[command].format_help() == everything[command].format_help(), command


def test_a_command_main_does_not_name_builds_every_command() -> None:
    everything = commands(build_parser())
    for word in ("answer", "shwo", None):
        assert commands(build_parser(word)).keys() == everything.keys()
