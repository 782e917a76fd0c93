"""flowc.dsl: the .flow and YAML front ends (text -> AST), diagnostics and the formatter.

Kept import-free on purpose: ``flowc.dsl`` is the base layer as well as the front end. Its base
modules are imported by every layer above and load only the standard library (a test checks
it): ``errors`` (``FlowcError``), ``gc_pause``, ``cron`` (the cron grammar of ``flowc check``
and beat) and ``diagnostics`` (``Diagnostic``, ``did_you_mean``). They live here rather than in
a package of their own because ``flowc`` is the top layer and nothing below may import it.
Entry points, by module:

- ``flowc.dsl.parser``: ``parse``, ``parse_with_diagnostics``, ``parse_value``, ``ParseError``
- ``flowc.dsl.yaml_loader``: ``load_yaml``, ``load_yaml_with_diagnostics``
- ``flowc.dsl.formatter``: ``format_module``; ``flowc.dsl.yaml_dumper``: ``to_yaml``
- ``flowc.dsl.diagnostics``: ``Diagnostic``, ``render``, ``render_all``, ``did_you_mean``
- ``flowc.dsl.cron``: ``parse_field``, ``expression_problems`` (the cron grammar)
- ``flowc.dsl.codes``: ``CODES`` registry; ``flowc.dsl.schema``: ``json_schema``
- ``flowc.dsl.ast``: the nodes (overview in its docstring)
"""
