"""flowc flowc."""
