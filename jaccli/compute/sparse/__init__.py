"""Sparse Jacobians and Hessians (SPEC §9): the pattern found from the jaxpr (pattern.py), coloured
(colour.py), computed with a few JVPs or HVPs and decompressed into CSR (evaluate.py)."""
