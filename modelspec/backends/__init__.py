"""Code generators: checked IR -> framework source.

Each backend lives in its own subpackage and is imported only when a command
needs it (the front end never imports torch or jax).  ``modelspec.build`` maps
backend names to them.
"""
