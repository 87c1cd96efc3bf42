"""Shops: who may send events (signing secrets) and how each shop is tuned (config and playbook).

Signing secrets live in SSM Parameter Store, one SecureString parameter per shop
(`{prefix}{shop_id}`, e.g. `/comeback/shops/demo`, encrypted with the stack's KMS key), a JSON
document `{"secrets": ["whsec_new", "whsec_old"]}` so a rotation can overlap, readable only by the
ingest function. Standard parameters cost nothing a month (a Secrets Manager secret costs $0.40: $400
a month at 1,000 shops) and hold 4 KB, which a shop's document stays well under. The shop's config
(name, status, playbook YAML) is an item of the table, read by the other functions. Both are read
through Powertools Parameters, which caches them per container. The same code runs against AWS and
against the local runtime's embedded emulator.

An id that cannot be a shop's (the shape `comeback shops create` allows) is refused before any
lookup, and "no such shop" (`ParameterNotFound`) is remembered for `secret_cache_seconds`
(Powertools caches only what it found): a flood of requests for shops that do not exist costs one
GetParameter call per id and container, not one per request. Any other failure of the parameter
store (throttled, access denied, a KMS error) is `SecretsUnavailable`, so ingest answers 503 (an
outage pages) instead of 401 (a shop's mistake).
"""

from __future__ import annotations

import json
import re
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime
from functools import cached_property, lru_cache
from typing import TYPE_CHECKING, Annotated, Any, Literal, cast

from pydantic import BaseModel, ConfigDict, Field

from comeback.app.settings import Settings
from comeback.app.signing import new_secret
from comeback.aws import clients as aws
from comeback.aws import keys
from comeback.aws.pauses import PAUSE, SENDING, Pause
from comeback.domain import playbook
from comeback.domain.clock import isoformat
from comeback.domain.events import Id
from comeback.domain.prediction_model import FittedModel
from comeback.domain.segments import Segmentation

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

# What `comeback shops create` accepts (ShopConfig.shop_id): lower-case letters, digits and dashes.
SHOP_ID_PATTERN = r"^[a-z0-9][a-z0-9-]{0,62}$"
_SHOP_ID = re.compile(SHOP_ID_PATTERN)
# Ids remembered as "no such shop": enough for a scan of random ids, bounded so it cannot grow a
# container's memory without limit (the oldest is forgotten first).
UNKNOWN_SHOPS_KEPT = 4096
# Parameter Store's answer when there is no such parameter: the only failure that means "no shop".
NOT_FOUND = "ParameterNotFound"
SECURE_STRING = "SecureString"
MAX_SECRETS = 2  # the current secret and the one it replaced, during a rotation
VALUE = "value"  # the attribute Powertools' DynamoDBProvider reads


class ShopConfig(BaseModel):
    model_config = ConfigDict(extra="ignore")

    shop_id: Annotated[Id, Field(pattern=SHOP_ID_PATTERN)]
    name: str
    status: Literal["active", "disabled"] = "active"
    created_at: str
    playbook_yaml: str = ""

    @cached_property
    def playbook(self) -> playbook.Playbook:
        return playbook.load(self.playbook_yaml or None)


def valid_shop_id(shop_id: str) -> bool:
    """Whether `shop_id` has the shape of a shop's id (`comeback shops create` refuses any other)."""
    return _SHOP_ID.fullmatch(shop_id) is not None


class SecretsUnavailable(Exception):
    """The secret store failed for a reason other than "no such shop" (throttled, timed out, access
    denied, KMS ...): nobody can tell whether the request is the shop's; try again later."""


class UnknownShops:
    """Shop ids recently found not to exist, each forgotten after `seconds` (in-process, bounded)."""

    def __init__(
        self, seconds: float, size: int = UNKNOWN_SHOPS_KEPT, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self._seconds = seconds
        self._size = size
        self._now = monotonic
        self._until: OrderedDict[str, float] = OrderedDict()

    def __contains__(self, shop_id: str) -> bool:
        until = self._until.get(shop_id)
        if until is None:
            return False
        if until <= self._now():
            del self._until[shop_id]
            return False
        return True

    def add(self, shop_id: str) -> None:
        self._until.pop(shop_id, None)
        self._until[shop_id] = self._now() + self._seconds
        while len(self._until) > self._size:
            self._until.popitem(last=False)


def _error_code(exc: BaseException) -> str:
    """The AWS error code behind a Powertools GetParameterError (it re-raises with the message only,
    so the ClientError is its implicit context)."""
    cause = exc.__cause__ or exc.__context__
    response = getattr(cause, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    return NOT_FOUND if NOT_FOUND in str(exc) else ""


class ShopDirectory:
    """The read side, used by the functions (cached; a change is seen within `secret_cache_seconds`)."""

    def __init__(self, settings: Settings, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._settings = settings
        self._unknown = UnknownShops(settings.secret_cache_seconds, monotonic=monotonic)

    @cached_property
    def _secrets(self) -> Any:
        from aws_lambda_powertools.utilities.parameters import SSMProvider

        return SSMProvider(boto3_client=cast("Any", aws.client("ssm", self._settings)))

    @cached_property
    def _configs(self) -> Any:
        from aws_lambda_powertools.utilities.parameters import DynamoDBProvider

        return DynamoDBProvider(
            table_name=self._settings.table_name,
            key_attr=keys.PK,
            sort_attr=keys.SK,
            value_attr=VALUE,
            boto3_client=aws.resource("dynamodb", self._settings),
        )

    def _document(self, shop_id: str) -> dict[str, Any] | None:
        """The shop's secret document, or None for an unknown or disabled shop (or an id no shop
        can have); SecretsUnavailable when the store cannot say."""
        from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

        if not valid_shop_id(shop_id) or shop_id in self._unknown:
            return None
        try:
            document = self._secrets.get(
                self._settings.shop_secret_prefix + shop_id,
                max_age=self._settings.secret_cache_seconds,
                transform="json",
                decrypt=True,
            )
        except GetParameterError as exc:
            code = _error_code(exc)
            if code != NOT_FOUND:
                # the message names the secret and the error, never its value (there is none)
                raise SecretsUnavailable(code or "unknown error") from exc
            self._unknown.add(shop_id)
            return None
        if not isinstance(document, dict) or document.get("status", "active") != "active":
            return None
        return document

    def signing_secrets(self, shop_id: str) -> list[str]:
        """The shop's current Standard Webhooks secrets; empty for an unknown or disabled shop."""
        document = self._document(shop_id) or {}
        return [s for s in document.get("secrets", []) if isinstance(s, str)]

    def platform_secret(self, shop_id: str, platform: str) -> str | None:
        """The secret a platform (Shopify, WooCommerce, Segment) signs this shop's webhooks with."""
        document = self._document(shop_id) or {}
        secret = (document.get("platforms") or {}).get(platform)
        return secret if isinstance(secret, str) and secret else None

    def config(self, shop_id: str) -> ShopConfig | None:
        raw = self._values(shop_id).get(keys.CONFIG)
        return ShopConfig.model_validate_json(raw) if raw else None

    def playbook(self, shop_id: str) -> playbook.Playbook:
        """The shop's playbook, with the RFM cut points and the prediction model its daily
        segmentation last stored."""
        values = self._values(shop_id)
        raw_config, raw_segments = values.get(keys.CONFIG), values.get(keys.SEGMENTS)
        return _playbook_of(raw_config, raw_segments, values.get(keys.PREDICTIONS))

    def sending_pauses(self, shop_id: str) -> list[Pause]:
        """The account's pause and the shop's, as stored (ended ones too; the caller compares
        `until` with its clock). The shop's comes with the config's cached Query, the account's is
        one more Query per cache time: nothing per message."""
        raw = (self._values(shop_id).get(PAUSE), self._partition(SENDING).get(PAUSE))
        return [Pause.model_validate_json(r) for r in raw if r]

    def _values(self, shop_id: str) -> dict[str, str]:
        return self._partition(keys.shop(shop_id))

    def _partition(self, pk: str) -> dict[str, str]:
        values = self._configs.get_multiple(
            pk, max_age=self._settings.secret_cache_seconds, raise_on_transform_error=True
        )
        return cast("dict[str, str]", values)


@lru_cache(maxsize=256)
def _playbook_of(
    raw_config: str | None, raw_segments: str | None, raw_predictions: str | None = None
) -> playbook.Playbook:
    # the provider caches the raw values: the same ones give the same playbook, parsed once
    base = ShopConfig.model_validate_json(raw_config).playbook if raw_config else playbook.default()
    segmented = base.with_segmentation(
        Segmentation.model_validate_json(raw_segments) if raw_segments else None
    )
    return segmented.with_predictions(
        FittedModel.model_validate_json(raw_predictions) if raw_predictions else None
    )


def put_secure_string(
    ssm: Any,
    name: str,
    value: str,
    kms_key_id: str | None,
    *,
    description: str | None = None,
    overwrite: bool = True,
) -> None:
    """A standard-tier SecureString parameter encrypted with `kms_key_id` (the stack's key).
    Parameter Store refuses an empty KeyId; None leaves it out: the account's `alias/aws/ssm`."""
    extra: dict[str, Any] = {"Description": description} if description else {}
    if kms_key_id:
        extra["KeyId"] = kms_key_id
    ssm.put_parameter(
        Name=name, Value=value, Type=SECURE_STRING, Overwrite=overwrite, Tier="Standard", **extra
    )


class ShopAdmin:
    """The operator side: create shops, list them, rotate their signing secrets.

    `kms_key_id` is the stack's secrets key in AWS (a stack output); None: the account's
    `alias/aws/ssm` key (the local runtime). Every write of a secret document uses it."""

    def __init__(self, settings: Settings, kms_key_id: str | None = None) -> None:
        self._settings = settings
        self._kms_key_id = kms_key_id
        # mypy_boto3_ssm is not a dependency: the client is used through botocore's dynamic methods
        self._ssm: Any = aws.client("ssm", settings)
        self._ddb = cast("DynamoDBClient", aws.client("dynamodb", settings))

    def _secret_name(self, shop_id: str) -> str:
        return self._settings.shop_secret_prefix + shop_id

    def _put(self, name: str, value: str, description: str | None = None, overwrite: bool = True) -> None:
        put_secure_string(
            self._ssm, name, value, self._kms_key_id, description=description, overwrite=overwrite
        )

    def ensure_token_key(self) -> bool:
        """Create the key that signs unsubscribe tokens unless it exists (True: created now).

        CloudFormation cannot create a SecureString parameter, and a key generated in a template
        would be readable in it: the first `comeback shops create` makes it (no email can be sent,
        so no token checked, before a shop exists), and it is never replaced (every link in an
        email already sent would stop working)."""
        try:
            self._put(
                self._settings.token_key_secret,
                secrets.token_urlsafe(48),
                "comeback: HMAC key that signs unsubscribe tokens",
                overwrite=False,
            )
        except self._ssm.exceptions.ParameterAlreadyExists:
            return False
        return True

    def create(
        self,
        shop_id: str,
        name: str,
        now: datetime,
        secret: str | None = None,
        playbook_yaml: str = "",
    ) -> str:
        """A new shop (refused if its parameter exists: `rotate-secret` replaces a secret)."""
        config = ShopConfig(
            shop_id=shop_id, name=name, created_at=isoformat(now), playbook_yaml=playbook_yaml
        )
        config.playbook  # noqa: B018 - a broken playbook must fail before anything is written
        self.ensure_token_key()
        secret = secret or new_secret()
        document = json.dumps({"secrets": [secret], "status": "active"})
        self._put(
            self._secret_name(shop_id),
            document,
            f"comeback signing secrets of shop {shop_id}",
            overwrite=False,
        )
        self.save_config(config)
        return secret

    def save_config(self, config: ShopConfig) -> None:
        config.playbook  # noqa: B018 - validate before writing
        table = self._settings.table_name
        self._ddb.put_item(
            TableName=table,
            Item={
                keys.PK: {"S": keys.shop(config.shop_id)},
                keys.SK: {"S": keys.CONFIG},
                VALUE: {"S": config.model_dump_json()},
            },
        )
        # the list the daily jobs go through (one partition: a Query, never a Scan of the table)
        self._ddb.put_item(TableName=table, Item={keys.PK: {"S": keys.SHOPS}, keys.SK: {"S": config.shop_id}})

    def get(self, shop_id: str) -> ShopConfig | None:
        answer = self._ddb.get_item(
            TableName=self._settings.table_name,
            Key={keys.PK: {"S": keys.shop(shop_id)}, keys.SK: {"S": keys.CONFIG}},
            ConsistentRead=True,
        )
        item = answer.get("Item")
        return ShopConfig.model_validate_json(item[VALUE]["S"]) if item else None

    def list(self) -> list[ShopConfig]:
        """Every shop, from the table's list of shops (what the daily jobs go through): listing
        never reads, nor needs the right to read, a secret."""
        shops = []
        paginator = self._ddb.get_paginator("query")
        for page in paginator.paginate(
            TableName=self._settings.table_name,
            KeyConditionExpression="#pk = :shops",
            ExpressionAttributeNames={"#pk": keys.PK},
            ExpressionAttributeValues={":shops": {"S": keys.SHOPS}},
            ConsistentRead=True,
        ):
            for entry in page.get("Items", []):
                config = self.get(entry[keys.SK]["S"])
                if config:
                    shops.append(config)
        return sorted(shops, key=lambda s: s.shop_id)

    def rotate_secret(self, shop_id: str, drop_previous: bool = False) -> str:
        """A new secret; the previous one stays valid (overlap) unless `drop_previous`."""
        document = self._document(shop_id)
        secret = new_secret()
        kept = [] if drop_previous else document.get("secrets", [])[: MAX_SECRETS - 1]
        document["secrets"] = [secret, *kept]
        self._put(self._secret_name(shop_id), json.dumps(document))
        return secret

    def set_platform_secret(self, shop_id: str, platform: str, secret: str) -> None:
        """Store the secret a platform signs this shop's webhooks with (replaces the previous one)."""
        from comeback.platforms import PLATFORMS

        if platform not in PLATFORMS:
            raise ValueError(f"platform is one of {', '.join(PLATFORMS)}")
        if not secret.strip():
            raise ValueError("a platform secret cannot be empty")
        document = self._document(shop_id)
        document.setdefault("platforms", {})[platform] = secret.strip()
        self._put(self._secret_name(shop_id), json.dumps(document))

    def set_status(self, shop_id: str, status: Literal["active", "disabled"]) -> None:
        document = self._document(shop_id)
        document["status"] = status
        self._put(self._secret_name(shop_id), json.dumps(document))
        config = self.get(shop_id)
        if config:
            self.save_config(config.model_copy(update={"status": status}))

    def _document(self, shop_id: str) -> dict[str, Any]:
        try:
            answer = self._ssm.get_parameter(Name=self._secret_name(shop_id), WithDecryption=True)
        except self._ssm.exceptions.ParameterNotFound:
            raise LookupError(f"no shop {shop_id!r}") from None
        document: dict[str, Any] = json.loads(answer["Parameter"]["Value"])
        return document
