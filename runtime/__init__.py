"""flowc runtime."""
