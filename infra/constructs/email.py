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

Email authentication and delivery (docs/infrastructure.md walks through verifying each):
- `mail_from_domain` (with `sender_domain`): a custom MAIL FROM subdomain, so the envelope sender is
  the shop's domain and SPF aligns with the From domain (DMARC passes on SPF as well as DKIM; Gmail
  and Yahoo require alignment of bulk senders). Its MX and SPF records are stack outputs; while
  the MX is missing SES falls back to amazonses.com rather than refusing to send.
- `click_tracking_domain`: open and click links on that domain (a CNAME to SES's tracking domain,
  behind an HTTPS distribution) instead of SES's shared `awstrack.me`, HTTPS required.
- `vdm`: Virtual Deliverability Manager's engagement metrics and optimized shared delivery on the
  configuration set; `vdm_account` also turns VDM on for the account (an account-wide setting: one
  stack per account may own it).
- the DMARC record of the sending domain as an output, ready to paste as a DNS line.
"""

from __future__ import annotations

from aws_cdk import CfnOutput, Stack, Token
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_ses as ses
from constructs import Construct

from .nag import acknowledge, rendered_arn

SPF_RECORD = "v=spf1 include:amazonses.com ~all"


def dmarc_record(domain: str, policy: str, report_email: str | None = None) -> str:
    """The DMARC TXT record of `domain` as one DNS zone line (aggregate reports to `report_email`).

    Relaxed alignment on both: the MAIL FROM and DKIM domains are subdomains of the From domain."""
    tags = ["v=DMARC1", f"p={policy}"]
    if report_email:
        tags.append(f"rua=mailto:{report_email}")
    tags += ["adkim=r", "aspf=r"]
    return f'_dmarc.{domain} TXT "{"; ".join(tags)}"'


def _domain_of(identity_arn: str | None) -> str | None:
    """The domain of an imported identity ARN (`...:identity/news.example.com`); None for an address."""
    if not identity_arn or Token.is_unresolved(identity_arn):
        return None
    name = identity_arn.rsplit("identity/", 1)[-1]
    return None if "@" in name or name == "*" else name


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
        mail_from_domain: str | None = None,
        click_tracking_domain: str | None = None,
        vdm: bool = False,
        vdm_account: bool = False,
        dmarc_policy: str = "none",
        dmarc_report_email: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        vdm_options = (
            ses.VdmOptions(engagement_metrics=True, optimized_shared_delivery=True)
            if vdm or vdm_account
            else None
        )
        if vdm_account:
            ses.VdmAttributes(self, "Vdm", engagement_metrics=True, optimized_shared_delivery=True)
        self.configuration_set = ses.ConfigurationSet(
            self,
            "ConfigurationSet",
            configuration_set_name=configuration_set_name,
            reputation_metrics=True,
            sending_enabled=True,
            tls_policy=ses.ConfigurationSetTlsPolicy.REQUIRE,
            suppression_reasons=ses.SuppressionReasons.BOUNCES_AND_COMPLAINTS,
            custom_tracking_redirect_domain=click_tracking_domain,
            custom_tracking_https_policy=ses.HttpsPolicy.REQUIRE if click_tracking_domain else None,
            vdm_options=vdm_options,
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
                mail_from_domain=mail_from_domain,
                # a missing MX sends from amazonses.com (SPF unaligned, DKIM still aligned) rather
                # than refusing every email
                mail_from_behavior_on_mx_failure=ses.MailFromBehaviorOnMxFailure.USE_DEFAULT_VALUE
                if mail_from_domain
                else None,
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
            if mail_from_domain:
                self._output(
                    "MailFromMxRecord",
                    f"{mail_from_domain} MX 10 feedback-smtp.{stack.region}.amazonses.com",
                    f"MX record of the MAIL FROM domain {mail_from_domain}: add it to the DNS",
                )
                self._output(
                    "MailFromSpfRecord",
                    f'{mail_from_domain} TXT "{SPF_RECORD}"',
                    f"SPF record of the MAIL FROM domain {mail_from_domain}: add it to the DNS",
                )
        elif sender_identity_arn:
            self.identity_arn = sender_identity_arn
        else:
            self.identity_arn = stack.format_arn(service="ses", resource="identity", resource_name="*")
        domain = sender_domain or _domain_of(sender_identity_arn)
        if domain:
            self._output(
                "DmarcRecord",
                dmarc_record(domain, dmarc_policy, dmarc_report_email),
                f"DMARC record of {domain}: add it to the DNS (start at p=none, read the reports, tighten)",
            )

    def _output(self, name: str, value: str, description: str) -> None:
        output = CfnOutput(self, name, value=value, description=description)
        output.override_logical_id(name)  # the name the walk-through in docs/infrastructure.md uses

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
