"""Copy shop secrets and the unsubscribe token key from Secrets Manager to SSM Parameter Store.

Stacks deployed before shop secrets moved to Parameter Store kept each shop's signing document
in a Secrets Manager secret `<stack>/shops/<shop_id>` and the token key in `<stack>/unsubscribe-key`
(both retained by CloudFormation, both under the stack's one KMS key, which the stack keeps). The
functions now read `/<stack>/shops/<shop_id>` and `/<stack>/unsubscribe-key`. `comeback shops
migrate-secrets` copies each value unchanged, so a shop's signers and every unsubscribe link
already mailed keep working:

- a parameter that does not exist yet is created (a SecureString under the stack's key);
- one that holds the same value is left alone, so running it twice changes nothing;
- one that holds another value is kept: a shop's document written since the upgrade (`shops
  create`, `rotate-secret`) is the newer one. The token key is the exception an operator may
  override (`overwrite_token_key`): links mailed before the upgrade were signed with the old key,
  links mailed since with the new one, and only one of them can verify.

Nothing is deleted: the Secrets Manager secrets are left for the operator to delete once the
stack runs on the parameters. No value is ever returned or logged, only names and outcomes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from comeback.aws.shops import put_secure_string, valid_shop_id


class Outcome(StrEnum):
    COPIED = "copied"
    WOULD_COPY = "would copy"
    ALREADY = "already there"
    KEPT = "differs: kept the parameter"
    OVERWRITTEN = "differs: overwritten"
    WOULD_OVERWRITE = "differs: would overwrite"
    NOT_A_SHOP = "not a shop document: skipped"


@dataclass(frozen=True)
class Copy:
    source: str  # the Secrets Manager secret
    target: str  # the SSM parameter
    outcome: Outcome


@dataclass(frozen=True)
class Names:
    """Where the values are (Secrets Manager) and where they go (Parameter Store)."""

    source_prefix: str
    target_prefix: str
    source_token_key: str
    target_token_key: str

    @classmethod
    def of(cls, shop_secret_prefix: str, token_key: str) -> Names:
        """From the stack's outputs, before or after the upgrade: Secrets Manager names have no
        leading slash (`comeback/shops/`), parameter paths have one (`/comeback/shops/`)."""
        bare_prefix, bare_token = shop_secret_prefix.lstrip("/"), token_key.lstrip("/")
        return cls(bare_prefix, f"/{bare_prefix}", bare_token, f"/{bare_token}")


def is_shop_document(value: str) -> bool:
    """A shop's signing document: {"secrets": [at least one non-empty string], ...}."""
    try:
        document = json.loads(value)
    except ValueError:
        return False
    found = document.get("secrets") if isinstance(document, dict) else None
    return isinstance(found, list) and bool(found) and all(isinstance(s, str) and s for s in found)


class SecretMigration:
    def __init__(self, secretsmanager: Any, ssm: Any, kms_key_id: str | None) -> None:
        self._sm = secretsmanager
        self._ssm = ssm
        self._kms_key_id = kms_key_id

    def run(self, names: Names, *, apply: bool, overwrite_token_key: bool = False) -> list[Copy]:
        """Every shop secret under the source prefix, then the token key (if it exists)."""
        copies = []
        for source in self._shop_secret_names(names.source_prefix):
            shop_id = source[len(names.source_prefix) :]
            value = self._secret_value(source)
            target = names.target_prefix + shop_id
            if value is None or not valid_shop_id(shop_id) or not is_shop_document(value):
                copies.append(Copy(source, target, Outcome.NOT_A_SHOP))
                continue
            copies.append(self._copy(source, target, value, apply=apply, overwrite=False))
        token = self._secret_value(names.source_token_key)
        if token is not None:
            copies.append(
                self._copy(
                    names.source_token_key,
                    names.target_token_key,
                    token,
                    apply=apply,
                    overwrite=overwrite_token_key,
                )
            )
        return copies

    def _shop_secret_names(self, prefix: str) -> Iterator[str]:
        # Secrets Manager's name filter matches a prefix; the check below keeps it exact
        for page in self._sm.get_paginator("list_secrets").paginate(
            Filters=[{"Key": "name", "Values": [prefix]}]
        ):
            for secret in page.get("SecretList", []):
                name = secret["Name"]
                if name.startswith(prefix) and len(name) > len(prefix) and not secret.get("DeletedDate"):
                    yield name

    def _secret_value(self, name: str) -> str | None:
        try:
            answer = self._sm.get_secret_value(SecretId=name)
        except self._sm.exceptions.ResourceNotFoundException:
            return None
        value = answer.get("SecretString")
        return value if isinstance(value, str) else None

    def _parameter(self, name: str) -> str | None:
        try:
            answer = self._ssm.get_parameter(Name=name, WithDecryption=True)
        except self._ssm.exceptions.ParameterNotFound:
            return None
        return str(answer["Parameter"]["Value"])

    def _copy(self, source: str, target: str, value: str, *, apply: bool, overwrite: bool) -> Copy:
        current = self._parameter(target)
        if current == value:
            return Copy(source, target, Outcome.ALREADY)
        if current is not None and not overwrite:
            return Copy(source, target, Outcome.KEPT)
        if not apply:
            return Copy(source, target, Outcome.WOULD_COPY if current is None else Outcome.WOULD_OVERWRITE)
        put_secure_string(
            self._ssm,
            target,
            value,
            self._kms_key_id,
            description=f"comeback: copied from the Secrets Manager secret {source}",
            overwrite=current is not None,
        )
        return Copy(source, target, Outcome.COPIED if current is None else Outcome.OVERWRITTEN)
