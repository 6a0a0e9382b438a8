"""SPAH's semantic similarity: the shared three-valued S from frozen features, with SPAH's defaults.

SPAH builds S once, before training, from features of a frozen network
(`extract_features`, chosen by `SPAH(feature_extractor=...)`): the feature
rule (distance histogram, thresholds at the mode -/+ 2 sigma of each side),
the neighbour rule (k nearest neighbours and their overlap), and their
union. 0 entries are unknown pairs. The generic pieces live in
`hashzoo.similarity.semantic`; this module fixes SPAH's use of them. See
docs/spah.md, "The semantic similarity matrix".

Example:

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> features = rng.normal(size=(200, 16))
>>> features[:100, 0] += 2.0  # two loose groups
>>> s = spah_similarity(features, k=5)
>>> facts = s.summary(labels=np.repeat([0, 1], 100))
>>> round(facts["positive_fraction"], 3), round(facts["negative_fraction"], 3)
(0.035, 0.021)
>>> facts["positive_label_agreement"] > 0.6 and facts["negative_label_agreement"] > 0.6
True
"""

import warnings

from hashzoo.similarity import check_extractor, extract_features
from hashzoo.similarity.semantic import (
    COMBINATIONS,
    NEIGHBOUR_ABSENT,
    NEIGHBOUR_RULES,
    SemanticSimilarity,
    distance_thresholds,
    feature_thresholds,
    semantic_similarity,
)

# Below this share of off-diagonal +1 pairs the feature rule is warned about.
FEW_POSITIVES = 1e-3


def spah_similarity(features, k=20, tau=0.5, neighbour_rule="overlap", k2=30, combine="union", bin_width=0.01,
                    positive_sigmas=2.0, negative_sigmas=2.0, neighbour_absent="unknown"):
    """SPAH's S from features (`hashzoo.similarity.semantic_similarity` with SPAH's defaults)."""
    return semantic_similarity(features, k=k, tau=tau, neighbour_rule=neighbour_rule, k2=k2, combine=combine,
                               bin_width=bin_width, positive_sigmas=positive_sigmas, negative_sigmas=negative_sigmas,
                               neighbour_absent=neighbour_absent)


def warn_if_few_positives(facts):
    """Warns when the feature rule marks under 0.1 % of the pairs +1 (its left tail can be empty)."""
    share = facts.get("feature_positive_fraction", 1.0)
    if share < FEW_POSITIVES:
        warnings.warn(
            f"the feature-similarity rule marks only {share:.3%} of the pairs +1 (threshold "
            f"{facts.get('threshold_low', float('nan')):.4f}); the distance histogram's left tail is nearly empty, "
            "so the neighbour rule supplies the positives. Try other features (`feature_extractor`).",
            stacklevel=2,
        )


__all__ = [
    "COMBINATIONS", "NEIGHBOUR_ABSENT", "NEIGHBOUR_RULES", "SemanticSimilarity", "check_extractor",
    "distance_thresholds", "extract_features", "feature_thresholds", "spah_similarity", "warn_if_few_positives",
]
