"""The generated message classes of condense.v1 (made when the package is built; see setup.py)."""
