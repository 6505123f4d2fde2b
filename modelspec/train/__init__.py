"""Training and evaluation of compiled specs (`modelspec train`, `modelspec eval`).

Nothing here imports torch or jax at package import: `config` is used by the
front end's validation, and each backend's loop is imported only when a run
asks for it.
"""
