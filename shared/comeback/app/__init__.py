"""The services the Lambda handlers call (ingest, sweep, privacy) and their wiring and settings."""
