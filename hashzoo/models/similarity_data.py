"""The training-data hooks shared by methods that learn from a pairwise similarity matrix.

BGAN and SPAH both build a similarity matrix over the whole training split
once per run (`build_similarity(images, labels) -> Prepared`, each method its
own rule) and train on `(images, S_B)` batches, S_B the block of the batch's
rows and columns. `SimilarityData` holds the two hooks they share, so each
method writes only its rule.
"""

from hashzoo.data.pipeline import make_similarity_dataset


class SimilarityData:
    """Mixin for a `HashingModel` that defines `build_similarity(images, labels) -> Prepared`.

    List it before `HashingModel` in the bases: `class BGAN(SimilarityData, HashingModel)`.
    """

    def prepare(self, train_split):
        """Builds the similarity matrix of the training split, once per run (`build_similarity`)."""
        return self.build_similarity(train_split.images, train_split.labels)

    def make_train_dataset(self, images, labels=None, prepared=None, batch_size=32, seed=None, epoch=None, steps=None):
        """`(images, S_B)` batches over the training images, S from `prepared` (built here when None).

        `epoch` and `steps` as in `HashingModel.make_train_dataset`.
        """
        if prepared is None:
            prepared = self.build_similarity(images, labels)
        return make_similarity_dataset(images, prepared.value, batch_size=batch_size, shuffle=True, seed=seed,
                                       epoch=epoch, steps=steps)


__all__ = ["SimilarityData"]
