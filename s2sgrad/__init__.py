"""s2sgrad: source-to-source automatic differentiation for Python and NumPy."""
