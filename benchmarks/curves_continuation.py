"""Continuation study (a measurement, not in the product): a noise-convolution fit that stops at
least_squares' evaluation limit, continued from its end point in the timescale parametrisation
(c = gamma tau, b = B c^gamma: the same law, in which the exponential-kernel limit is gamma alone
going to its bound). Prints each continued fit's objective before / after and the protocol's
held-out final error.

Run: python benchmarks/curves_continuation.py "b25M,e210m,f0.0001->0.0001"
(a protocol letter + a substring of its group; needs the development data beside the project).
Results: benchmarks/curves_crosslab.md, "where the noise-convolution fit's evaluations go".
"""

import dataclasses
import importlib.util
import sys
import time
from pathlib import Path

import numpy as np

from hpadvisor.fitting import core
from hpadvisor.fitting import curves as fc

_spec = importlib.util.spec_from_file_location("curves_crosslab_bench", Path(__file__).with_name("curves_crosslab.py"))
assert _spec is not None and _spec.loader is not None
cl = importlib.util.module_from_spec(_spec)
sys.modules["curves_crosslab_bench"] = cl
_spec.loader.exec_module(cl)

#: The timescale parametrisation's bounds: (L0, A, alpha, B1, B2, ln tau, gamma, q).
LOWER = [0.0, 1e-9, 1e-3, 0.0, 0.0, float(np.log(1e-12)), 1.001, 0.0]
UPPER_REST = [np.inf, 5.0, np.inf, np.inf, float(np.log(1e6)), 6.0, 2.0]


def to_law(p: np.ndarray) -> np.ndarray:
    L0, A, alpha, B1, B2, ln_tau, gamma, q = p
    c = gamma * np.exp(ln_tau)
    return np.array([L0, A, alpha, B1 * c ** gamma, B2 * c ** gamma, c, gamma, q])


def from_law(p: np.ndarray) -> np.ndarray:
    L0, A, alpha, b1, b2, c, gamma, q = p
    return np.array([L0, A, alpha, b1 * c ** -gamma, b2 * c ** -gamma, np.log(c / gamma), gamma, q])


_solve = fc._solve


def continued_solve(model, loss, method, n_boot, seed):
    """fit_curves' solve, then, for an unconverged noise-convolution fit, the continuation."""
    res, intervals, samples, bounds = _solve(model, loss, method, n_boot, seed)
    if not isinstance(model, fc._Convolution) or res.converged:
        return res, intervals, samples, bounds
    t0 = time.process_time()
    more = core.huber_log_fit(lambda p: model.predict(to_law(p)), loss, [from_law(res.params)],
                              bounds=(LOWER, [float(loss.min()), *UPPER_REST]), screen=None)
    print(f"  objective {res.objective:.6e} (stopped unconverged) -> {more.objective:.6e} "
          f"(converged: {more.converged}) in {time.process_time() - t0:.1f} s CPU; gamma {to_law(more.params)[6]:.3f}",
          flush=True)
    if more.objective < res.objective:
        res = dataclasses.replace(res, params=to_law(more.params), objective=more.objective, converged=more.converged)
    return res, intervals, samples, bounds


def main(keys: str) -> None:
    fc._solve = continued_solve
    for key in keys.split(","):
        for p in cl.protocols(key[0]):
            if key[1:] in p.group:
                r = cl.run(p, "noise-convolution")
                print(f"{p.key} {p.group}: held-out final error mean {r['final_mean'] * 100:.3f}%, "
                      f"worst {r['final_worst'] * 100:.3f}%", flush=True)
                break


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "b25M,e210m,f0.0001->0.0001")
