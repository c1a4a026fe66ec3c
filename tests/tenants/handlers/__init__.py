"""Functions the tenant tests run through the real pipeline."""
