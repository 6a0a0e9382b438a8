"""Losses that fit code inner products to a target similarity matrix."""

from keras import ops


def pairwise_similarity_loss(codes, other_codes, similarity, normalize=True):
    """`mean_ij (u_i . v_j / L - S_ij)^2`: inner products of codes fitted to S.

    BGAN's neighbourhood term (docs/bgan.md, "Losses and the training step";
    `normalize=True` is the 1/L of hashzoo's default, `False` the released
    code's raw inner product).
    Under `tf.distribute`, pass this replica's codes as `codes`, the gathered
    codes of the global batch as `other_codes` (`hashzoo.distribute.gather_replicas`)
    and this replica's rows of the batch block as `similarity`.

    Args:
        codes: `[m, L]` continuous codes (the rows).
        other_codes: `[M, L]` continuous codes (the columns).
        similarity: `[m, M]` target values, e.g. +/-1.
        normalize: divide inner products by L.
    """
    inner = ops.matmul(codes, ops.transpose(other_codes))
    if normalize:
        inner = inner / ops.cast(ops.shape(codes)[-1], inner.dtype)
    return ops.mean(ops.square(inner - ops.cast(similarity, inner.dtype)))


NORMALIZATIONS = ("known", "all")


def masked_pairwise_similarity_loss(codes, other_codes, similarity, weights=None, normalize=True,
                                    normalization="known", denominator=None):
    """`sum_ij w_ij (u_i . v_j / L - S_ij)^2 / Z`: the pairwise fit over known pairs only.

    For a three-valued S in {-1, 0, +1} whose 0 entries are unknown, the
    weights are `|S|` (the default), so an unknown pair adds nothing and
    passes no gradient (docs/spah.md, "Losses and the training step").

    Args:
        codes: `[m, L]` continuous codes (the rows).
        other_codes: `[M, L]` continuous codes (the columns).
        similarity: `[m, M]` target values.
        weights: `[m, M]` non-negative pair weights; None means `|similarity|`.
        normalize: divide inner products by L.
        normalization: `"known"` divides by Z = sum of the weights (the
            known pairs); `"all"` divides by Z = m M, every entry (the form
            of SSDH's loss). With weights all 1 both equal
            `pairwise_similarity_loss`.
        denominator: a Z to use instead. Under `tf.distribute`, where this
            replica sees its own rows against the gathered columns, pass the
            global batch's sum of weights divided by the replica count, so
            that the replicas' losses, divided by the replica count, add up
            to the one-device loss.

    A zero Z (no known pair) gives 0.
    """
    if normalization not in NORMALIZATIONS:
        raise ValueError(f"`normalization` must be one of {list(NORMALIZATIONS)}, got {normalization!r}.")
    inner = ops.matmul(codes, ops.transpose(other_codes))
    if normalize:
        inner = inner / ops.cast(ops.shape(codes)[-1], inner.dtype)
    target = ops.cast(similarity, inner.dtype)
    weights = ops.abs(target) if weights is None else ops.cast(weights, inner.dtype)
    total = ops.sum(weights * ops.square(inner - target))
    if denominator is not None:
        z = ops.cast(denominator, inner.dtype)
    elif normalization == "known":
        z = ops.sum(weights)
    else:
        z = ops.cast(ops.shape(inner)[0] * ops.shape(inner)[1], inner.dtype)
    return ops.where(z > 0, total / ops.where(z > 0, z, ops.ones_like(z)), ops.zeros_like(total))


BALANCES = ("none", "balanced")


def neighbourhood_loss(codes, other_codes, similarity, balance="none", normalize=True, counts=None):
    """BGAN's neighbourhood term for a ±1 S, plain or with its two kinds of pair balanced.

    `balance="none"` is `pairwise_similarity_loss`, the mean over every pair.
    On a K-NN graph most pairs are -1 (about 91 % with the CIFAR-10 config's `kmeans` features), and an
    L-bit code cannot be the opposite of most other codes, so that mean is
    ruled by targets no code can meet. `balance="balanced"` gives the
    positive and the negative pairs half the loss each,
    `0.5 mean_{S=+1} (u.v/L - 1)^2 + 0.5 mean_{S=-1} (u.v/L + 1)^2`
    (docs/bgan.md, "Losses and the training step"). A batch without pairs of
    one kind gets the other kind's mean alone, halved.

    Args:
        codes: `[m, L]` continuous codes (the rows).
        other_codes: `[M, L]` continuous codes (the columns).
        similarity: `[m, M]` ±1 targets.
        balance: `"none"` or `"balanced"`.
        normalize: divide inner products by L.
        counts: `(positives, negatives)` to divide by instead of this
            block's own counts. Under `tf.distribute`, where a replica sees
            its rows against the gathered columns, pass the global batch's
            counts divided by the replica count, so that the replicas'
            losses, divided by the replica count, add up to the one-device loss.
    """
    if balance not in BALANCES:
        raise ValueError(f"`balance` must be one of {list(BALANCES)}, got {balance!r}.")
    if balance == "none":
        return pairwise_similarity_loss(codes, other_codes, similarity, normalize=normalize)
    target = ops.cast(similarity, "float32")
    positive = ops.cast(target > 0, "float32")
    negative = ops.cast(target < 0, "float32")
    positives, negatives = (None, None) if counts is None else counts
    return 0.5 * (
        masked_pairwise_similarity_loss(codes, other_codes, target, weights=positive, normalize=normalize,
                                        denominator=positives)
        + masked_pairwise_similarity_loss(codes, other_codes, target, weights=negative, normalize=normalize,
                                          denominator=negatives)
    )
