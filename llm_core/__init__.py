"""The small shared Transformer package behind every page: no UI code, plain data out."""
