"""The package version, in a module of its own so that emitters can stamp it without importing the package API."""

__version__ = "0.1.0"
