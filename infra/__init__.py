"""The CDK app of comeback (`python -m infra.app`), its constructs and the layer packaging."""
