"""Generated KMS stubs (scripts/gen_kms_stubs.py)."""
