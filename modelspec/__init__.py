"""modelspec: a declarative model-spec compiler for deep learning."""

__version__ = "0.1.0"
