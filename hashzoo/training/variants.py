"""Picking a named variant of a zoo config."""


def select_variant(variants, variant):
    """`variants[variant]`, or a ValueError listing the variants."""
    if variant not in variants:
        raise ValueError(f"unknown config variant {variant!r}; available: {sorted(variants)}.")
    return variants[variant]
