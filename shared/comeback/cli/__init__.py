"""The `comeback` command: operator and developer tools, never imported by a Lambda function."""
