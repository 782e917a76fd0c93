"""flowc compiler."""
