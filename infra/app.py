"""The CDK app: `python -m infra.app` (cdk.json runs it for `npx cdk synth|deploy`; `make synth` too).

Reads the deployment's settings from the context (cdk.json, `-c key=value`), builds the stack
from the topology declared in the package and checks it with cdk-nag (AWS Solutions rules): any
finding that is not acknowledged with a reason stops the synthesis.

Run as the app, it first brings the dependency layer (`layer_dir`) up to date with uv.lock and the
package sources (infra/packaging.py: a no-op when its stamp matches, offline when uv's cache has the
wheels), so `npx cdk synth` and `cdk deploy` need no other step. `build()`, which tests call, never
builds a layer: they pass a stand-in.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `python infra/app.py` works too
    sys.path.insert(0, str(ROOT))

from aws_cdk import App, Environment, Tags, Validations  # noqa: E402
from cdk_nag import AwsSolutionsChecks  # noqa: E402

from comeback.app.topology import TOPOLOGY  # noqa: E402
from infra.config import DeployConfig  # noqa: E402
from infra.packaging import LayerBuildError, ensure_layer  # noqa: E402
from infra.stack import ComebackStack  # noqa: E402


def _say(line: str) -> None:
    sys.stderr.write(f"comeback: {line}\n")  # stderr: the CDK CLI shows it, stdout is not ours


def build(
    context: dict[str, Any] | None = None, outdir: str | None = None, *, prepare_layer: bool = False
) -> tuple[App, ComebackStack]:
    """The app and its one stack, unsynthesized (tests pass their own context and outdir).

    `prepare_layer` builds the layer first when it is missing or stale (what the app does)."""
    app = App(context=context, outdir=outdir)
    config = DeployConfig.from_context(app.node)
    if prepare_layer:
        ensure_layer(ROOT / config.layer_dir, log=_say)
    stack = ComebackStack(
        app,
        "Comeback",
        stack_name=config.stack_name,
        description="comeback: serverless customer retention (profiles, loyalty, win-back, SES)",
        config=config,
        topology=TOPOLOGY,
        root=ROOT,
        env=Environment(
            account=os.environ.get("CDK_DEFAULT_ACCOUNT"), region=os.environ.get("CDK_DEFAULT_REGION")
        ),
    )
    Tags.of(stack).add("app", "comeback")
    Tags.of(stack).add("stage", config.stage)
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app, stack


def main() -> int:
    """Under the CDK CLI, which passes cdk.json's context and the output folder in the environment;
    run on its own (`make synth`), with cdk.json's context into cdk.out/."""
    try:
        if "CDK_OUTDIR" in os.environ:
            app, _ = build(prepare_layer=True)
        else:
            context = json.loads((ROOT / "cdk.json").read_text(encoding="utf-8"))["context"]
            app, _ = build(context, outdir=str(ROOT / "cdk.out"), prepare_layer=True)
    except LayerBuildError as error:
        sys.stderr.write(f"comeback: cannot build the Lambda layer: {error}\n")
        return 2
    app.synth()
    return 0


if __name__ == "__main__":
    sys.exit(main())
