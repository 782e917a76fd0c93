"""flowc dsl."""
