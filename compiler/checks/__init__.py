"""The IR's validation passes, one concept a module."""
