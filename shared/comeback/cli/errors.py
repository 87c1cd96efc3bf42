"""What the `comeback` command says when something goes wrong: one clear line, exit status 2.

An operator reads the line, not a traceback: a missing file names the file, a playbook typo names
the key path, a local runtime that does not answer names its URL, missing AWS credentials say how
to give them (or to use `--local`). An error nobody foresaw is one line too, naming its type and
how to see the traceback (`COMEBACK_DEBUG=1`), which is what a bug report needs.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any, TextIO

EXIT_ERROR = 2


class CliError(Exception):
    """An error already worded for the operator."""


def describe_validation(exc: Any, what: str = "playbook") -> str:
    """A pydantic ValidationError as `what: key.path: message; ...` (the first three)."""
    parts = []
    errors = exc.errors(include_url=False)
    for error in errors[:3]:
        path = ".".join(str(p) for p in error["loc"]) or "(top level)"
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown key (a typo?)"
        parts.append(f"{path}: {message}")
    if len(errors) > 3:
        parts.append(f"and {len(errors) - 3} more")
    return f"{what}: " + "; ".join(parts)


def explain(exc: BaseException) -> str | None:
    """The one line for an error we expect operators to meet; None for a bug."""
    from pydantic import ValidationError

    if isinstance(exc, CliError):
        return str(exc)
    if isinstance(exc, FileNotFoundError):
        return f"no such file: {exc.filename}"
    if isinstance(exc, IsADirectoryError | PermissionError):
        return f"cannot read {exc.filename}: {exc.strerror}"
    if isinstance(exc, ValidationError):
        return describe_validation(exc, exc.title.lower() if exc.title != "Playbook" else "playbook")
    try:
        import yaml

        if isinstance(exc, yaml.YAMLError):
            mark = getattr(exc, "problem_mark", None)
            where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
            return f"playbook is not valid YAML{where}: {getattr(exc, 'problem', None) or exc}"
    except ImportError:  # pragma: no cover - yaml is a runtime dependency
        pass
    from urllib.error import URLError

    if isinstance(exc, URLError):
        return f"cannot reach {getattr(exc, 'url', None) or 'the local runtime'}: {exc.reason}"
    try:
        from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError

        if isinstance(exc, NoCredentialsError):
            return "no AWS credentials found: configure them (aws configure, AWS_PROFILE) or use --local URL"
        if isinstance(exc, NoRegionError):
            return "no AWS region set: set AWS_REGION (or AWS_DEFAULT_REGION) or use --local URL"
        if isinstance(exc, ClientError):
            error = exc.response.get("Error", {})
            message = error.get("Message", "")
            return f"AWS refused {exc.operation_name}: {error.get('Code')}: {message}".strip()
        if isinstance(exc, BotoCoreError):
            return f"AWS: {_first_line(exc)}"
    except ImportError:  # pragma: no cover - boto3 is a runtime dependency
        pass
    if isinstance(exc, ConnectionError | TimeoutError):
        return f"cannot connect: {_first_line(exc)}"
    if isinstance(exc, LookupError | ValueError):
        return _first_line(exc)
    return None


def _first_line(exc: BaseException) -> str:
    # a KeyError's str() is the repr of its key: say the message itself
    text = str(exc.args[0] if isinstance(exc, KeyError) and exc.args else exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def run(command: Callable[[], int], prog: str = "comeback", err: TextIO | None = None) -> int:
    """Run a command; an error an operator can act on becomes one line on stderr and status 2."""
    err = err or sys.stderr
    try:
        return command()
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        if os.environ.get("COMEBACK_DEBUG"):
            raise
        line = explain(exc)
        if line is None:
            line = f"{type(exc).__name__}: {_first_line(exc)} (COMEBACK_DEBUG=1 shows the traceback)"
        err.write(f"{prog}: error: {line}\n")
        return EXIT_ERROR
