"""Generated KMS v2 stubs."""
