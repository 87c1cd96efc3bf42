"""Loading the functions' handler modules and the event shapes Lambda would hand them."""

from __future__ import annotations

import importlib.util
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from comeback.app.topology import Function
from comeback.local.recording import running

REPO_ROOT = Path(__file__).resolve().parents[3]


def load_handler(function: Function, root: Path = REPO_ROOT) -> ModuleType:
    path = root / function.handler_path
    spec = importlib.util.spec_from_file_location(f"comeback_functions.{function.name}.handler", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass
class LambdaContext:
    """What the Lambda runtime passes as `context` (the fields Powertools reads)."""

    function_name: str
    timeout_seconds: int
    memory_limit_in_mb: int = 512
    function_version: str = "$LATEST"
    aws_request_id: str = ""
    invoked_function_arn: str = ""

    def __post_init__(self) -> None:
        self.aws_request_id = self.aws_request_id or str(uuid.uuid4())
        self.invoked_function_arn = (
            f"arn:aws:lambda:us-east-1:123456789012:function:comeback-{self.function_name}"
        )
        self._deadline = time.monotonic() + self.timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class Invoker:
    """Calls a function's `lambda_handler` the way Lambda would, one fresh context per call."""

    def __init__(self, function: Function, module: ModuleType) -> None:
        self.function = function
        self._handler = module.lambda_handler

    def __call__(self, event: dict[str, Any]) -> Any:
        context = LambdaContext(self.function.name, self.function.timeout_seconds, self.function.memory_mb)
        with running(self.function.name):  # the AWS calls made now are this function's (recording.py)
            return self._handler(event, context)
