"""`Augmenter`: the per-batch augmentation a training loop calls, built from plain keyword arguments.

    aug = Augmenter(rotation=10, shift=2, zoom=0.1)      # or Augmenter(**preset.augment)
    batch = aug(batch, rng)                              # (N, 1, 28, 28) float32 -> same

Each image independently gets, with probability `p_affine`, a random affine map (ranges as in
`random_affine`) and, with probability `p_elastic`, an elastic distortion (as in `elastic`). When
both apply they are composed into ONE set of sampling positions and ONE bilinear interpolation
(the elastic field displaces the output grid, which the affine map then carries into the input),
so an image is never blurred twice. Images that draw neither are copied bit for bit. With
`p_flip` > 0 each image is then mirrored left to right with that probability (for data whose
classes survive a mirror: clothes, objects; never digits); its draws come after all the others, so
an Augmenter without flips draws exactly what it drew before flips existed.
"""
import numpy as np

from .elastic import check_elastic_ranges, displacement_fields
from .flip import apply_flips, flip_mask
from .geometric import affine_positions, check_affine_ranges, draw_affine_params, inverse_matrices
from .sampling import centred_grid, check_images, check_number, check_rng, warp, work_dtype


class Augmenter:
    """Random affine + elastic augmentation of image batches (N, H, W) or (N, C, H, W).

    rotation: max angle in degrees (0..180); shift: max translation in pixels per axis; zoom: max
    relative scale change (0 <= zoom < 1); shear: max horizontal shear factor; elastic_alpha:
    elastic displacement scale (0 disables elastic); elastic_sigma: its smoothing width in pixels;
    p_affine, p_elastic: per-image probabilities of applying each part. p_elastic defaults to 1.0
    (like p_affine) so that setting elastic_alpha alone is never a silent no-op. p_flip: per-image
    probability of a horizontal mirror, after the rest (default 0: never).

    The batch may hold uint8 or float values in any range: floats are not clipped; integer
    results are rounded and clipped. Every random draw comes from the Generator passed per call.
    """

    def __init__(self, rotation=0.0, shift=0.0, zoom=0.0, shear=0.0, elastic_alpha=0.0,
                 elastic_sigma=4.0, p_affine=1.0, p_elastic=1.0, p_flip=0.0):
        self.rotation, self.shift, self.zoom, self.shear = check_affine_ranges(rotation, shift, zoom, shear)
        alpha, sigma = check_elastic_ranges(elastic_alpha, elastic_sigma, prefix="elastic_")
        self.elastic_alpha, self.elastic_sigma = alpha, sigma
        self.p_affine = check_number("p_affine", p_affine, low=0, high=1)
        self.p_elastic = check_number("p_elastic", p_elastic, low=0, high=1)
        self.p_flip = check_number("p_flip", p_flip, low=0, high=1)

    def get_config(self):
        """Constructor keyword arguments as a JSON-able dict: Augmenter(**a.get_config()) == a."""
        return {"rotation": self.rotation, "shift": self.shift, "zoom": self.zoom,
                "shear": self.shear, "elastic_alpha": self.elastic_alpha,
                "elastic_sigma": self.elastic_sigma, "p_affine": self.p_affine,
                "p_elastic": self.p_elastic, "p_flip": self.p_flip}

    def __eq__(self, other):
        return isinstance(other, Augmenter) and self.get_config() == other.get_config()

    def __hash__(self):
        return hash(tuple(self.get_config().items()))

    def __repr__(self):
        args = ", ".join(f"{key}={value!r}" for key, value in self.get_config().items())
        return f"Augmenter({args})"

    @property
    def uses_affine(self):
        return self.p_affine > 0 and any((self.rotation, self.shift, self.zoom, self.shear))

    @property
    def uses_elastic(self):
        return self.p_elastic > 0 and self.elastic_alpha > 0

    @property
    def uses_flip(self):
        return self.p_flip > 0

    @property
    def is_identity(self):
        """True when every call returns a plain copy of the batch."""
        return not (self.uses_affine or self.uses_elastic or self.uses_flip)

    def __call__(self, images, rng):
        """Augment one batch: (N, H, W) or (N, C, H, W) -> new array of the same shape and dtype."""
        images = check_images(images)
        check_rng(rng)
        warped = self._warp(images, rng)
        if not self.uses_flip:
            return warped
        return apply_flips(warped, flip_mask(rng, len(images), self.p_flip))

    def _warp(self, images, rng):
        """The affine and elastic part of a call (a copy of `images` when neither is used)."""
        if not (self.uses_affine or self.uses_elastic):
            return images.copy()
        n, (h, w) = len(images), images.shape[-2:]
        # Draws happen in a fixed order and for the whole batch, so a seed fixes the output.
        with_affine = self._coin(rng, n, self.p_affine, self.uses_affine)
        params = draw_affine_params(rng, n, self.rotation, self.shift, self.zoom, self.shear)
        with_elastic = self._coin(rng, n, self.p_elastic, self.uses_elastic)
        chosen = np.flatnonzero(with_affine | with_elastic)
        if chosen.size == 0:
            return images.copy()
        subset = images if chosen.size == n else images[chosen]
        result = warp(subset, self._positions(rng, params, with_affine, with_elastic, chosen, h, w,
                                              work_dtype(images.dtype)))
        if chosen.size == n:
            return result
        out = images.copy()
        out[chosen] = result
        return out

    @staticmethod
    def _coin(rng, n, p, active):
        if not active:
            return np.zeros(n, dtype=bool)
        return rng.random(n) < p

    def _positions(self, rng, params, with_affine, with_elastic, chosen, h, w, dtype):
        """positions(start, stop) for `warp` over the chosen images: elastic, then affine."""
        angles, shifts, zooms, shears = (p[chosen] for p in params)
        # Images that only draw elastic get the identity map.
        skip = ~with_affine[chosen]
        angles[skip], shifts[skip], zooms[skip], shears[skip] = 0.0, 0.0, 1.0, 0.0
        matrices = inverse_matrices(angles, zooms, shears)
        gy, gx = centred_grid(h, w, dtype)
        elastic_rows = np.flatnonzero(with_elastic[chosen])
        if elastic_rows.size == 0:
            return lambda start, stop: affine_positions(
                matrices[start:stop], shifts[start:stop], gy, gx, h, w)
        dy, dx = displacement_fields(rng, elastic_rows.size, h, w, self.elastic_alpha,
                                     self.elastic_sigma, dtype)
        # The field displaces the output grid; the affine map then carries it into the input.
        grid_y = np.repeat(gy[None], chosen.size, axis=0)
        grid_x = np.repeat(gx[None], chosen.size, axis=0)
        grid_y[elastic_rows] += dy
        grid_x[elastic_rows] += dx
        return lambda start, stop: affine_positions(
            matrices[start:stop], shifts[start:stop], grid_y[start:stop], grid_x[start:stop], h, w)
