def main() -> None:
    """Entry point placeholder replaced by the real CLI."""
