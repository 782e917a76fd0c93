"""flowc.dsl: the .flow and YAML front ends (text -> AST), diagnostics and the formatter.

Kept import-free on purpose: ``flowc.dsl.errors`` is imported by every layer, and must not
pull in lark or PyYAML. Entry points, by module:

- ``flowc.dsl.parser``: ``parse``, ``parse_with_diagnostics``, ``parse_value``, ``ParseError``
- ``flowc.dsl.yaml_loader``: ``load_yaml``, ``load_yaml_with_diagnostics``
- ``flowc.dsl.formatter``: ``format_module``; ``flowc.dsl.yaml_dumper``: ``to_yaml``
- ``flowc.dsl.diagnostics``: ``Diagnostic``, ``render``, ``render_all``, ``did_you_mean``
- ``flowc.dsl.codes``: ``CODES`` registry; ``flowc.dsl.schema``: ``json_schema``
- ``flowc.dsl.ast``: the nodes (overview in its docstring)
"""
