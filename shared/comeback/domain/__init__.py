"""The domain: events, profiles, playbooks and messages as typed values, and the rules on them.

Nothing here imports boto3 or sees DynamoDB's wire format; the stores it needs are the small
interfaces of `comeback.domain.stores`, implemented by `comeback.aws` and by in-memory fakes.
"""
