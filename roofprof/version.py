"""roofprof's version, on its own so that every layer can stamp it without importing the
package's ``__init__``."""

__version__ = "0.1.0"
