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
