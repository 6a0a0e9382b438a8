"""CoopHash ablation: what the cooperative part buys.

Trains the full model, the model without Langevin revision (T = 0), the
model without generator pairs (real in-batch triplets only; the generator,
energy and VAE step still train the trunk) and the descriptor alone (no
generator, energy or VAE: a plain supervised hasher), all from the
same config, data and epochs, once per seed, and prints mAP@all (mean ±
sample std over seeds, each run's epoch chosen on the validation split) and
P@100 on the config's query/database split. The tables in docs/coophash.md
are this script's output.

    python bench/coophash_ablation.py --config coophash_digits --bits 32 --seeds 0 1 2 --out runs/ablation-digits-32
    python bench/coophash_ablation.py --config coophash_cifar10 --bits 32 --epochs 10

`--out` keeps every run (`<out>/<variant>-s<seed>`, readable by
`bench/seed_table.py`): finished runs are read back and killed ones resume,
so a long ablation can be stopped and restarted.
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from hashzoo.training.ablation import ablation_main  # noqa: E402

VARIANTS = {
    "full": {},
    "no Langevin (T=0)": {"langevin_steps": 0},
    "no generator pairs (real triplets)": {"pair_source": "real"},
    # A plain supervised hasher on the same trunk: no generator, Langevin, energy or VAE step.
    "descriptor only": {"cooperative": False, "pair_source": "real"},
}


if __name__ == "__main__":
    ablation_main(VARIANTS, default_config="coophash_digits", description=__doc__, command="bench/coophash_ablation.py")
