"""Compiling ``.flow`` modules: checks, values, types, options and lowering to the IR."""
