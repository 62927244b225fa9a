"""How a palette looks to colour-blind viewers: Machado et al.'s simulation and CIELAB distances.

``simulate(rgb, kind)`` maps sRGB colours (floats in [0, 1]) to what a viewer with complete
protanopia, deuteranopia or tritanopia sees, by the matrices of Machado, Oliveira & Fernandes
(2009, severity 1.0) applied in linear RGB. ``delta_e`` is the CIE 1976 distance in L*a*b*
(D65): about 2.3 is a just-noticeable difference. ``min_distance`` is the smallest distance
between two colours of a palette, for normal vision and each simulated deficiency.
"""

from __future__ import annotations

import itertools

import numpy as np

# Machado, Oliveira & Fernandes (2009), IEEE TVCG 15(6), table of severity 1.0
MACHADO = {
    "protanopia": [[0.152286, 1.052583, -0.204868],
                   [0.114503, 0.786281, 0.099216],
                   [-0.003882, -0.048116, 1.051998]],
    "deuteranopia": [[0.367322, 0.860646, -0.227968],
                     [0.280085, 0.672501, 0.047413],
                     [-0.011820, 0.042940, 0.968881]],
    "tritanopia": [[1.255528, -0.076749, -0.178779],
                   [-0.078411, 0.930809, 0.147602],
                   [0.004733, 0.691367, 0.303900]],
}
VISIONS = ("normal", *MACHADO)
SRGB_TO_XYZ = np.array([[0.4124564, 0.3575761, 0.1804375],
                        [0.2126729, 0.7151522, 0.0721750],
                        [0.0193339, 0.1191920, 0.9503041]])
WHITE_D65 = np.array([0.95047, 1.0, 1.08883])


def to_linear(rgb: np.ndarray) -> np.ndarray:
    rgb = np.asarray(rgb, dtype=float)
    return np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)


def to_srgb(linear: np.ndarray) -> np.ndarray:
    linear = np.clip(linear, 0.0, 1.0)
    return np.where(linear <= 0.0031308, 12.92 * linear, 1.055 * linear ** (1 / 2.4) - 0.055)


def simulate(rgb: np.ndarray, kind: str) -> np.ndarray:
    """The sRGB colours (N, 3) as a viewer of ``kind`` sees them."""
    rgb = np.asarray(rgb, dtype=float)[..., :3]
    if kind == "normal":
        return rgb
    return to_srgb(to_linear(rgb) @ np.array(MACHADO[kind]).T)


def to_lab(rgb: np.ndarray) -> np.ndarray:
    xyz = to_linear(np.asarray(rgb, dtype=float)[..., :3]) @ SRGB_TO_XYZ.T / WHITE_D65
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]),
                     200 * (f[..., 1] - f[..., 2])], axis=-1)


def delta_e(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(to_lab(a) - to_lab(b)))


def min_distance(palette: np.ndarray) -> dict[str, float]:
    """Vision -> the smallest CIELAB distance between two colours of ``palette``."""
    out = {}
    for kind in VISIONS:
        seen = simulate(palette, kind)
        out[kind] = min(delta_e(seen[i], seen[j])
                        for i, j in itertools.combinations(range(len(seen)), 2))
    return out
