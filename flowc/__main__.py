"""``python -m flowc`` is the ``flowc`` command."""

from flowc.cli import main

main()
