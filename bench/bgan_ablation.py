"""BGAN ablation: what the neighbourhood structure, the GAN and the slope schedule buy.

Trains the full model and three variants from the same config, seed, data
and epochs, and prints mAP@all and P@100 on the config's protocol:

- no neighbourhood loss (lambda_N = 0: codes learn from the content loss only);
- no adversarial loss (lambda_A = 0: G learns from the content loss only, D
  still trains as a feature extractor for the content loss);
- fixed slope (k = 1 throughout, the authors' final release).

The digits tables in docs/bgan.md ("Ablation") are this script's output on
the config of the time, before batch-norm recalibration (the page says how
to rerun them).

    python bench/bgan_ablation.py --config bgan_digits --bits 32
    python bench/bgan_ablation.py --config bgan_cifar10 --bits 32 --epochs 4
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from hashzoo.training.ablation import ablation_main  # noqa: E402

VARIANTS = {
    "full": {},
    "no neighbourhood loss (lambda_N = 0)": {"neighbourhood_weight": 0.0},
    "no adversarial loss (lambda_A = 0)": {"adversarial_weight": 0.0},
    "fixed slope (k = 1)": {"slope_schedule": "constant"},
}


if __name__ == "__main__":
    ablation_main(VARIANTS, default_config="bgan_digits", description=__doc__, command="bench/bgan_ablation.py")
