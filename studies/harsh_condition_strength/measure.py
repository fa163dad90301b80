"""How strong each harsh condition of the campaign is on the data it runs on: the share of
pixels it changes, the mean absolute change, and the change of the mean pixel (the
background of USPS and COIL-20 sits at the low end of the range, so salt and pepper and
the occluding block, which writes the low end, leave much of it as it was, and clipped
Gaussian noise brightens it). Noise seed 0, as the campaign draws it.

    python -m studies.harsh_condition_strength.measure --data_dir=../shared/data > studies/harsh_condition_strength/measure.log
"""

from __future__ import annotations

import numpy as np
from absl import app

from dssec_jax.cli.campaign import HARSH_CONDITIONS
from dssec_jax.cli.common import FLAGS  # --data_dir
from dssec_jax.data import load_dataset
from dssec_jax.data.corrupt import corrupt_dataset


def main(_):
    print("| dataset | condition | pixels changed | mean abs change | mean pixel, change |")
    print("|---|---|---|---|---|")
    for name in ("usps", "coil20"):
        ds = load_dataset(name, data_dir=FLAGS.data_dir)
        x = np.asarray(ds.x, np.float32)
        at_low = np.mean(x == x.min())
        print(f"| {name} | (clean: {at_low:.0%} of pixels at the low end) | | | |")
        for spec in HARSH_CONDITIONS:
            if spec.startswith("noise_features"):
                continue  # appends inputs; the pixels are unchanged
            y = np.asarray(corrupt_dataset(ds, spec).x, np.float32)
            d = np.abs(y - x)
            print(
                f"| {name} | {spec} | {np.mean(d > 1e-6):.1%} | {d.mean():.3f} "
                f"| {y.mean() - x.mean():+.3f} |"
            )


if __name__ == "__main__":
    app.run(main)
