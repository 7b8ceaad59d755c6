"""Reporters: views over rows computed once (rows.py). A reporter renders; the CLI
decides where its output goes."""
