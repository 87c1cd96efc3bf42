"""comeback: serverless customer-retention automation on AWS."""

__version__ = "0.1.0"
