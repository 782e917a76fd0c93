"""The root of flowc's exception tree.

It lives in the lowest layer (``flowc.dsl``) so every package above can subclass it without
importing upward; ``flowc.exceptions`` re-exports the whole tree for users.
"""


class FlowcError(Exception):
    """Raised for any error flowc itself detects; every flowc exception derives from it."""
