"""Where does a sample set's excess ⟨φ²⟩ sit? Its energy per wavelet scale against the data's.

The DWT is orthonormal, so ⟨φ²⟩ = (E|x_J|² + Σ_j E|x̄_j|²) / (H·W): the mean square of the
coarsest low-pass and of each scale's details add up to the field's. Printing each term of
the samples next to the data's tells which network of a WSGM (the coarse one, or scale j's)
adds the excess (docs/results/recipes).

    python benchmarks/energy_per_scale.py S.npz --against runs/phi4_scaling/L32/data/train.npz
"""

from __future__ import annotations

import argparse

from wsgm.data.io import load_fields
from wsgm.metrics.spectrum import scale_energies


def energies(path: str, *, levels: int, wavelet: str) -> dict[str, float]:
    """Mean square per pixel of the field, its coarsest low-pass and each scale's details."""
    e = scale_energies(load_fields(path).fields, wavelet=wavelet, levels=levels)
    out = {f"low-pass x_{levels}": e["lowpass"]}
    out.update({f"details, scale {j}": e[f"scale {j}"] for j in range(levels, 0, -1)})
    out["<phi^2>"] = e["total"]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("files", nargs="+", help="sample files (.npz)")
    ap.add_argument("--against", required=True, help="the data file")
    ap.add_argument("--levels", type=int, default=2)
    ap.add_argument("--wavelet", default="db4")
    args = ap.parse_args()
    ref = energies(args.against, levels=args.levels, wavelet=args.wavelet)
    for f in args.files:
        got = energies(f, levels=args.levels, wavelet=args.wavelet)
        print(f"{f} against {args.against} ({args.wavelet}, J = {args.levels})")
        for k, v in ref.items():
            print(f"  {k:18s} {got[k]:.4f}  data {v:.4f}  ({100 * (got[k] / v - 1):+.1f} %)")


if __name__ == "__main__":
    main()
