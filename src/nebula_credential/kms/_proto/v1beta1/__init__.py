"""Generated KMS v1beta1 stubs."""
