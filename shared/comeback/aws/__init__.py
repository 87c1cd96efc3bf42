"""AWS adapters: DynamoDB stores, the SQS outbox, the EventBridge bus and SES, behind the
interfaces the domain and the services use."""
