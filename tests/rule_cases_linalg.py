"""Rule test cases for linalg and fft (see rule_cases.py for the format)."""

import numpy as np

from rule_cases import C, R, POS, UNIT  # noqa: F401


class M(R):
    """A random stack of well-conditioned square matrices of a given structure.

    kind: "gen" (near 3*I), "spd" (Hermitian positive definite), "sym"
    (Hermitian, distinct eigenvalues), "realeig" (non-symmetric with real,
    well separated eigenvalues).
    """

    def __init__(self, *shape, kind="gen", dtype=float):
        super().__init__(*shape, dtype=dtype)
        self.kind = kind

    def make(self, rng):
        n = self.shape[-1]
        x = rng.uniform(-1, 1, self.shape)
        if np.dtype(self.dtype).kind == "c":
            x = x + 1j * rng.uniform(-1, 1, self.shape)
        eye = np.eye(n)
        if self.kind == "gen":
            return x + 3 * eye
        if self.kind == "spd":
            return x @ np.conj(np.swapaxes(x, -1, -2)) + n * eye
        if self.kind == "sym":
            return (x + np.conj(np.swapaxes(x, -1, -2))) / 2 + np.diag(np.arange(n) * 1.0)
        if self.kind == "realeig":
            return 0.3 * x + np.diag(np.arange(1.0, n + 1) * 1.5)
        raise ValueError(self.kind)


Z = complex
CASES = {}

# --- numpy.linalg ----------------------------------------------------------------

CASES["linalg.inv"] = [C(M(3, 3)), C(M(2, 3, 3)), C(M(3, 3, dtype=Z))]
CASES["linalg.solve"] = [
    C(M(3, 3), R(3, 2)), C(M(3, 3), R(3)), C(M(2, 3, 3), R(2, 3, 2)), C(M(2, 3, 3), R(3, 2)),
    C(M(3, 3), R(2, 3, 2)), C(M(2, 3, 3), R(3)), C(M(3, 3, dtype=Z), R(3, 2, dtype=Z)),
]
CASES["linalg.det"] = [C(M(3, 3)), C(M(2, 3, 3)), C(M(3, 3, dtype=Z))]
CASES["linalg.slogdet"] = [C(M(3, 3)), C(-M(3, 3).make(np.random.default_rng(3))),
                           C(M(2, 3, 3)), C(M(3, 3, dtype=Z))]
CASES["linalg.cholesky"] = [C(M(3, 3, kind="spd")), C(M(2, 4, 4, kind="spd")),
                            C(M(3, 3, kind="spd", dtype=Z)), C(M(3, 3, kind="spd"), upper=True),
                            C(M(3, 3, kind="spd", dtype=Z), upper=True)]
CASES["linalg.eigh"] = [C(M(3, 3, kind="sym")), C(M(2, 4, 4, kind="sym")),
                        C(M(3, 3, kind="sym"), UPLO="U")]
CASES["linalg.eigvalsh"] = [C(M(3, 3, kind="sym")), C(M(3, 3, kind="sym", dtype=Z)),
                            C(M(2, 3, 3, kind="sym", dtype=Z), "U")]
CASES["linalg.eig"] = [C(M(3, 3, kind="realeig")), C(M(2, 3, 3, kind="realeig"))]
CASES["linalg.eigvals"] = [C(M(3, 3, kind="realeig")), C(M(3, 3)), C(M(3, 3, dtype=Z)),
                           C(M(2, 3, 3, dtype=Z))]
CASES["linalg.svd"] = [
    C(R(4, 3), full_matrices=False), C(R(3, 4), full_matrices=False), C(R(3, 3)),
    C(R(2, 4, 3), full_matrices=False), C(R(4, 3), compute_uv=False),
    C(R(2, 3, 4, dtype=Z), compute_uv=False), C(M(3, 3, kind="sym"), compute_uv=False, hermitian=True),
]
CASES["linalg.pinv"] = [C(R(4, 3)), C(R(3, 4)), C(R(2, 3, 3)), C(R(4, 3, dtype=Z)),
                        C(M(3, 3, kind="spd"), hermitian=True)]
CASES["linalg.qr"] = [C(R(4, 3)), C(R(3, 3)), C(R(2, 4, 3)), C(R(4, 3, dtype=Z)),
                      C(R(3, 5)), C(R(2, 3, 4)), C(R(2, 4, dtype=Z)), C(R(1, 3)),    # wide
                      C(R(3, 5), "reduced"), C(R(3, 3), "complete"), C(R(2, 4), mode="complete"),
                      C(R(2, 3, 5, dtype=Z), mode="complete"), C(R(4, 3), "r"), C(R(3, 3), "r"),
                      C(R(2, 5), "r"), C(R(2, 3, 4, dtype=Z), mode="r")]
CASES["linalg.lstsq"] = [C(R(5, 3), R(5)), C(R(5, 3), R(5, 2)), C(R(3, 3), R(3, 2)),
                         C(R(3, 5), R(3))]
CASES["linalg.matrix_power"] = [C(M(3, 3), 2, nondiff={"n"}), C(M(3, 3), 5, nondiff={"n"}),
                                C(M(2, 3, 3), 3, nondiff={"n"}), C(M(3, 3), -2, nondiff={"n"}),
                                C(M(3, 3), 0, nondiff={"n"}), C(M(3, 3, dtype=Z), 3, nondiff={"n"})]
CASES["linalg.multi_dot"] = [C([R(2, 3), R(3, 4)]), C([R(3), R(3, 4), R(4, 2), R(2)]),
                             C([R(2, 3), R(3, 3), R(3, 5)])]
CASES["linalg.norm"] = [
    C(R(5)), C(R(3, 4)), C(R(5), 2), C(R(5), 1), C(R(5), 3), C(R(5), 0.5 * 3), C(R(5), np.inf),
    C(R(5), -np.inf), C(R(5), 0), C(R(3, 4), axis=1), C(R(3, 4), 3, axis=0, keepdims=True),
    C(R(3, 4), "fro"), C(R(3, 4), "nuc"), C(R(3, 4), 2), C(R(3, 4), -2),
    C(R(2, 3, 4), "nuc", axis=(1, 2)), C(R(3, 2, 4), 2, axis=(0, 2), keepdims=True),
    C(R(2, 3, 4), axis=(0, 2)), C(R(4, dtype=Z)), C(R(4, dtype=Z), 3), C(R(3, 3, dtype=Z), "nuc"),
    C(R(4, dtype=Z), np.inf),
]

# --- runtime helpers -------------------------------------------------------------

RT = "s2sgrad.runtime"
CASES[f"{RT}.mT"] = [C(R(2, 3)), C(R(2, 3, 4))]
CASES[f"{RT}.as_matrix"] = [C(R(3), np.zeros((3, 3)), nondiff={"a"}),
                            C(R(3, 2), np.zeros((3, 3)), nondiff={"a"})]
CASES[f"{RT}.diag_part"] = [C(R(3, 3)), C(R(2, 3, 3, dtype=Z))]
CASES[f"{RT}.diag_matrix"] = [C(R(3)), C(R(2, 3, dtype=Z))]
CASES[f"{RT}.expand_mat"] = [C(R()), C(R(3))]
for _name in ("from_triangle", "to_triangle", "half_triangle"):
    CASES[f"{RT}.{_name}"] = [C(R(3, 3)), C(R(2, 3, 3), False), C(R(3, 3, dtype=Z)),
                              C(R(3, 3, dtype=Z), False)]
CASES[f"{RT}.inv_gaps"] = [C(np.array([0.3, 1.1, 2.0])), C(R(2, 3))]
CASES[f"{RT}.block_upper"] = [C(R(2, 2), R(2, 2)), C(R(3, 2, 2), R(2, 2))]
CASES[f"{RT}.fft_pad"] = [C(R(5), (3,), (0,), nondiff={"sizes", "axes"}),
                          C(R(2, 3), (4, 2), (1, 0), nondiff={"sizes", "axes"})]
CASES[f"{RT}.fft_unpad"] = [C(R(2, 3), np.zeros((2, 5)), (1,), nondiff={"like", "axes"}),
                            C(R(4, 3), np.zeros((2, 3)), (0,), nondiff={"like", "axes"})]
CASES[f"{RT}.halfspec_weight"] = [C(R(4, dtype=Z), 6, nondiff={"n", "axis"}),
                                  C(R(4, 3), 7, 0, nondiff={"n", "axis"})]
CASES[f"{RT}.multi_dot_vjp"] = [C(R(2, 5), [R(2, 3), R(3, 4), R(4, 5)], nondiff={"arrays"}),
                                C(R(), [R(3), R(3, 4), R(4)], nondiff={"arrays"})]
CASES[f"{RT}.multi_dot_jvp"] = [C([R(2, 3), R(3, 4), R(4, 5)], [R(2, 3), R(3, 4), R(4, 5)],
                                  nondiff={"arrays"})]
CASES[f"{RT}.multi_dot_hvp"] = [
    C([R(2, 3), R(3, 4), R(4, 5)], [R(2, 3), R(3, 4), R(4, 5)], [R(2, 3), R(3, 4), R(4, 5)],
      nondiff={"arrays"}),
    C([R(3), R(3, 4), R(4)], [R(3), R(3, 4), R(4)], [R(3), R(3, 4), R(4)], nondiff={"arrays"})]
CASES[f"{RT}.multi_dot_hvp_vjp"] = [
    C(R(2, 5), [R(2, 3), R(3, 4), R(4, 5)], [R(2, 3), R(3, 4), R(4, 5)], nondiff={"arrays"}),
    C(R(), [R(3), R(3, 4), R(4)], [R(3), R(3, 4), R(4)], nondiff={"arrays"})]

# --- numpy.fft -------------------------------------------------------------------

for _name in ("fft", "ifft"):
    CASES[f"fft.{_name}"] = [
        C(R(6, dtype=Z)), C(R(2, 5, dtype=Z), axis=0), C(R(6, dtype=Z), 4), C(R(5, dtype=Z), 8),
        C(R(3, 4, dtype=Z), norm="ortho"), C(R(4, dtype=Z), 6, norm="forward"), C(R(5)),
    ]
for _name in ("fft2", "ifft2"):
    CASES[f"fft.{_name}"] = [
        C(R(3, 4, dtype=Z)), C(R(2, 3, 4, dtype=Z), axes=(0, 2)), C(R(3, 4, dtype=Z), (4, 3)),
        C(R(3, 4, dtype=Z), norm="ortho"), C(R(3, 4)),
    ]
for _name in ("fftn", "ifftn"):
    CASES[f"fft.{_name}"] = [
        C(R(2, 3, 4, dtype=Z)), C(R(2, 3, 4, dtype=Z), axes=(0, 2)),
        C(R(3, 4, dtype=Z), (2, 5), (0, 1)), C(R(2, 3, 4, dtype=Z), norm="forward"),
    ]
CASES["fft.rfft"] = [C(R(6)), C(R(7)), C(R(2, 5), axis=0), C(R(6), 4), C(R(5), 8, norm="ortho"),
                     C(R(3, 6), norm="forward")]
CASES["fft.rfft2"] = [C(R(3, 4)), C(R(3, 5), (4, 6)), C(R(2, 3, 4), axes=(0, 1), norm="ortho")]
CASES["fft.rfftn"] = [C(R(2, 3, 4)), C(R(2, 3, 5), axes=(0, 2)), C(R(3, 4), (2, 7), (0, 1))]
CASES["fft.irfft"] = [C(R(4, dtype=Z)), C(R(4, dtype=Z), 7), C(R(5, dtype=Z), 4),
                      C(R(4, dtype=Z), 10), C(R(3, 4, dtype=Z), axis=0, norm="ortho"),
                      C(R(2, 4, dtype=Z), norm="forward")]
CASES["fft.irfft2"] = [C(R(3, 4, dtype=Z)), C(R(3, 4, dtype=Z), (4, 5)),
                       C(R(4, 3, 2, dtype=Z), axes=(0, 1), norm="ortho")]
CASES["fft.irfftn"] = [C(R(2, 3, 4, dtype=Z)), C(R(3, 4, dtype=Z), (2, 7), (0, 1)),
                       C(R(2, 3, 4, dtype=Z), axes=(0, 2), norm="forward")]
CASES["fft.hfft"] = [C(R(4, dtype=Z)), C(R(4, dtype=Z), 7), C(R(3, 4, dtype=Z), axis=0, norm="ortho"),
                     C(R(5, dtype=Z), 6, norm="forward")]
CASES["fft.fftshift"] = [C(R(5)), C(R(4, 5), axes=0), C(R(3, 4, dtype=Z), axes=(0, 1))]
CASES["fft.ifftshift"] = CASES["fft.fftshift"]

# --- scipy.linalg and scipy.signal -------------------------------------------------

import scipy.linalg  # noqa: E402
import scipy.signal  # noqa: E402

SL = "scipy.linalg"
CASES[f"{SL}.solve_triangular"] = [
    C(M(3, 3), R(3)), C(M(3, 3), R(3, 2), lower=True), C(M(3, 3), R(3, 2), trans=1),
    C(M(3, 3), R(3), trans="T", lower=True), C(M(3, 3, dtype=Z), R(3, 2, dtype=Z), trans=2),
    C(M(3, 3), R(3, 2), lower=True, unit_diagonal=True), C(M(3, 3, dtype=Z), R(3, dtype=Z), trans="C", lower=True),
]


def _band(l, u, n, seed):
    ab = np.random.default_rng(seed).uniform(-0.5, 0.5, (l + u + 1, n))
    ab[u] += 3.0  # a dominant diagonal
    return ab


CASES[f"{SL}.solve_banded"] = [C((1, 1), _band(1, 1, 5, 0), R(5)), C((2, 1), _band(2, 1, 5, 1), R(5, 2)),
                               C((0, 2), _band(0, 2, 4, 2), R(4))]
CASES[f"{SL}.solve_sylvester"] = [C(M(3, 3), M(2, 2), R(3, 2)), C(M(3, 3, dtype=Z), M(3, 3, dtype=Z), R(3, 3, dtype=Z)),
                                  C(M(2, 3, 3), M(2, 2, 2), R(2, 3, 2))]
CASES[f"{SL}.cholesky"] = [C(M(3, 3, kind="spd")), C(M(3, 3, kind="spd"), lower=True),
                           C(M(3, 3, kind="spd", dtype=Z)), C(M(2, 3, 3, kind="spd"), True)]
CASES[f"{SL}.cho_factor"] = [
    C(M(3, 3, kind="spd"), fn=lambda a: (scipy.linalg.cho_factor(a)[0], 0.0)),
    C(M(3, 3, kind="spd"), True, fn=lambda a, lower: (scipy.linalg.cho_factor(a, lower)[0], 1.0)),
    C(M(3, 3, kind="spd", dtype=Z), fn=lambda a: (scipy.linalg.cho_factor(a)[0], 0.0)),
]


def _cho_solve(c_and_lower, b):
    # the rule tests perturb every argument, the flag too: keep it a flag
    return scipy.linalg.cho_solve((c_and_lower[0], bool(round(c_and_lower[1]))), b)


_fac = scipy.linalg.cho_factor(M(3, 3, kind="spd").make(np.random.default_rng(5)))
_fac_l = scipy.linalg.cho_factor(M(3, 3, kind="spd").make(np.random.default_rng(6)), lower=True)
_fac_z = scipy.linalg.cho_factor(M(3, 3, kind="spd", dtype=Z).make(np.random.default_rng(7)))
CASES[f"{SL}.cho_solve"] = [C(_fac, R(3), fn=_cho_solve), C(_fac_l, R(3, 2), fn=_cho_solve),
                            C(_fac_z, R(3, 2, dtype=Z), fn=_cho_solve)]
CASES[f"{SL}.expm"] = [C(R(3, 3)), C(R(2, 3, 3, lo=-1.0, hi=1.0)), C(R(3, 3, dtype=Z))]
CASES[f"{SL}.sqrtm"] = [C(M(3, 3, kind="spd")), C(M(3, 3)), C(M(3, 3, kind="spd", dtype=Z))]

SG = "scipy.signal"
CASES[f"{SG}.convolve"] = [
    C(R(6), R(3)), C(R(3), R(6)), C(R(6), R(3), mode="same"), C(R(3), R(6), "same"),
    C(R(6), R(3), "valid"), C(R(3), R(6), "valid"), C(R(4, 5), R(2, 3), "same"),
    C(R(4, 5), R(2, 3), "valid", "direct"), C(R(5, dtype=Z), R(3, dtype=Z), "full", "fft"),
    C(R(2, 6), R(3, 2)),
]

CASES[f"{RT}.tri_mask"] = [C(R(3, 3)), C(R(2, 3, 3), False, True)]
CASES[f"{RT}.band_matmul"] = [C(R(3, 5), R(5), 1, 1), C(R(4, 5), R(5, 2), 2, 1)]
CASES[f"{RT}.band_outer"] = [C(R(5), R(5), 1, 1), C(R(5, 2), R(5, 2), 0, 2)]
CASES[f"{RT}.band_transpose"] = [C(R(3, 5), 1, 1), C(R(4, 5), 2, 1)]
CASES[f"{RT}.conv_crop"] = [C(R(8), np.zeros(6), np.zeros(3), "same", nondiff={"in1", "in2"}),
                            C(R(5, 7), np.zeros((4, 5)), np.zeros((2, 3)), "valid", nondiff={"in1", "in2"})]
CASES[f"{RT}.conv_embed"] = [C(R(6), np.zeros(6), np.zeros(3), "same", nondiff={"in1", "in2"}),
                             C(R(3, 3), np.zeros((4, 5)), np.zeros((2, 3)), "valid", nondiff={"in1", "in2"})]
CASES[f"{RT}.solve_tri"] = [C(M(3, 3), R(3, 2)), C(M(3, 3), R(3, 3), False, True),
                            C(M(2, 3, 3), R(3, 2), True, True), C(M(3, 3), R(2, 3, 1), False)]

CASES[f"{RT}.factor_triangle"] = [C(R(3, 3)), C(R(2, 3, 3), False), C(R(3, 3, dtype=Z)),
                                  C(R(3, 3, dtype=Z), False)]
# any triangle with a dominant diagonal serves as a factor; the helpers read its real part
for _name in ("cholesky_vjp", "cholesky_jvp"):
    CASES[f"{RT}.{_name}"] = [
        C(R(3, 3), M(3, 3)), C(R(4, 4), M(4, 4), True), C(R(3, 3, dtype=Z), M(3, 3, dtype=Z)),
        C(R(3, 3, dtype=Z), M(3, 3, dtype=Z), True), C(R(2, 3, 3), M(2, 3, 3)),
        C(R(2, 3, 3, dtype=Z), M(2, 3, 3, dtype=Z), True),
    ]
