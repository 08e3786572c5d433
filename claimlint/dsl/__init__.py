"""The rule language: text -> checked rule model (parser, syntax tree, resolution, lint)."""
