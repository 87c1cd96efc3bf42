"""Email: the SES configuration set, its event publishing to EventBridge, the sending identity.

Every message is sent with the configuration set, which publishes bounces, complaints,
deliveries, opens, clicks (and delays and rejects) to the account's default event bus, where the
`ses-events` rule routes them to the SES events queue. The identity is the sending domain:

- context `sender_domain`: created here with Easy DKIM (2048-bit) and the configuration set as its
  default; the three DKIM CNAME records are stack outputs to add to the domain's DNS;
- context `sender_identity_arn`: an identity verified elsewhere, imported (only used to scope the
  sender's permission);
- neither: no identity is created; the sender may send from any identity verified in the account
  and region (its permission names `identity/*`), for accounts that verify domains by hand.
"""

from __future__ import annotations

from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_ses as ses
from constructs import Construct

from .nag import acknowledge, rendered_arn

PUBLISHED_EVENTS = (
    ses.EmailSendingEvent.BOUNCE,
    ses.EmailSendingEvent.COMPLAINT,
    ses.EmailSendingEvent.DELIVERY,
    ses.EmailSendingEvent.OPEN,
    ses.EmailSendingEvent.CLICK,
    ses.EmailSendingEvent.DELIVERY_DELAY,
    ses.EmailSendingEvent.REJECT,
)


class Email(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        configuration_set_name: str,
        default_bus: events.IEventBus,
        sender_domain: str | None = None,
        sender_identity_arn: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.configuration_set = ses.ConfigurationSet(
            self,
            "ConfigurationSet",
            configuration_set_name=configuration_set_name,
            reputation_metrics=True,
            sending_enabled=True,
            tls_policy=ses.ConfigurationSetTlsPolicy.REQUIRE,
            suppression_reasons=ses.SuppressionReasons.BOUNCES_AND_COMPLAINTS,
        )
        self.configuration_set.add_event_destination(
            "ToEventBridge",
            configuration_set_event_destination_name="eventbridge",
            destination=ses.EventDestination.event_bus(default_bus),
            events=list(PUBLISHED_EVENTS),
        )
        self.configuration_set_arn = stack.format_arn(
            service="ses", resource="configuration-set", resource_name=configuration_set_name
        )
        self.identity: ses.EmailIdentity | None = None
        if sender_domain:
            self.identity = ses.EmailIdentity(
                self,
                "Identity",
                identity=ses.Identity.domain(sender_domain),
                configuration_set=self.configuration_set,
                dkim_identity=ses.DkimIdentity.easy_dkim(ses.EasyDkimSigningKeyLength.RSA_2048_BIT),
                dkim_signing=True,
            )
            self.identity_arn = stack.format_arn(
                service="ses", resource="identity", resource_name=sender_domain
            )
            for n in (1, 2, 3):
                record = CfnOutput(
                    self,
                    f"DkimRecord{n}",
                    description=f"DKIM CNAME record {n} of {sender_domain}: add it to the domain's DNS",
                    value=f"{getattr(self.identity, f'dkim_dns_token_name{n}')} CNAME "
                    f"{getattr(self.identity, f'dkim_dns_token_value{n}')}",
                )
                record.override_logical_id(f"DkimRecord{n}")
        elif sender_identity_arn:
            self.identity_arn = sender_identity_arn
        else:
            self.identity_arn = stack.format_arn(service="ses", resource="identity", resource_name="*")

    def grant_send(self, role: iam.IRole) -> None:
        """SES v2 SendEmail (raw content) from the identity, with the configuration set only."""
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["ses:SendEmail", "ses:SendRawEmail"],
                resources=[self.identity_arn, self.configuration_set_arn],
            )
        )
        if self.identity_arn.endswith(":identity/*"):
            acknowledge(
                role,
                f"AwsSolutions-IAM5[Resource::{rendered_arn(self, 'ses', 'identity/*')}]",
                "No sender identity was given (context sender_domain or sender_identity_arn): "
                "the sender may use any identity verified in this account and region.",
            )
