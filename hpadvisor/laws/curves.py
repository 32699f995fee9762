"""Loss curves under any learning-rate schedule: the multi-power law and the LR-annealing law.

Both laws map a per-step learning-rate sequence ``eta[0..T]`` (index = optimizer step, as
:meth:`hpadvisor.schedules.Schedule.sequence` gives it) to the loss at any steps ``t <= T``.

Multi-power law (Luo et al. 2025, arXiv:2503.12811, eq. 1; docs/laws.md)::

    L(t) = L0 + A * S1(t)^-alpha - LD(t),     S1(t) = sum_{i<=t} eta_i
    LD(t) = B * sum_{k=1..t} (eta_{k-1} - eta_k) * G(eta_k^-gamma * S_k(t)),  S_k(t) = sum_{k<=tau<=t} eta_tau
    G(x) = 1 - (C x + 1)^-beta

Warmup conventions (an option of the law, recorded in its form):
``as-run`` (their code, and the default): the sequence starts at step 0 with the linear warmup
from 0, so S1 holds the warmup area and the warmup increments enter LD with the opposite sign;
``peak``: warmup steps are counted at the peak lr, the lr the warmup ends at (no warmup increments);
``skip`` (the paper's text): S1 holds the warmup area, LD starts after warmup.  The published
parameters are only valid with ``as-run`` (SOURCE.md: the others are 3-6% off).

LR-annealing law (Tissue et al. 2024, arXiv:2408.11029)::

    L(s) = L0 + A * S1(s)^-alpha - C * S2(s),   S2(s) = sum_{i<=s} m_i,
    m_i = lam * m_{i-1} + (eta_{i-1} - eta_i)

``m`` is a first-order recursive filter, so S2 costs O(T).  Its published convention counts warmup
steps at the peak lr [secondary]; ``as-run`` is the alternative.

Fast LD: the naive sum is O(t) per point.  :class:`DropPlan` sums the steps near each point
exactly and replaces farther steps by dyadic blocks (one pseudo-term per block and sign of the
lr change: total change, change-weighted mean log lr and mean area offset).  The block error is
second order in block width / distance, measured in lr area: a block whose own area is large
against the area between it and the point (high lr, then a long stretch at a tiny lr) keeps its
terms exact.  Blocks grow with distance, so a point costs O(near + K log T) terms on the usual
schedules.  The plan depends on the schedule only, so a fit builds it once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from hpadvisor.errors import InvalidInputError
from hpadvisor.laws.base import Law, Output, Provenance

WARMUP_MODES = ("as-run", "peak", "skip")
#: What a curve law takes (``laws show`` prints it: these laws have no run-variable inputs).
INPUT_NOTE = ("eta, the per-step lr (absolute, index = optimizer step, from a schedule, a (step, lr) trace "
              "or a trainer config), and the steps t to predict at; S1(t) = sum of eta_i for i <= t, "
              "S_k(t) = sum of eta_i for k <= i <= t")
#: Query steps per drop plan in :meth:`MultiPowerLaw.curve`: ~900 terms a step, ~150 MB a chunk.
CURVE_CHUNK = 4096
_TINY = 1e-30
LOG_BIN = 0.02  # width of a pseudo-term's log-lr bin


# -- the lr sequence -------------------------------------------------------------------------------

def check_sequence(eta: np.ndarray | list[float], where: str = "lr sequence") -> np.ndarray:
    """The per-step lr as a float array, or one clear error (empty, not finite, negative)."""
    arr = np.asarray(eta, dtype=float)
    if arr.ndim != 1 or arr.size < 2:
        raise InvalidInputError(f"{where}: needs the lr of at least two steps.")
    if not np.all(np.isfinite(arr)):
        raise InvalidInputError(f"{where}: has an lr that is not a finite number.")
    if np.any(arr < 0):
        i = int(np.flatnonzero(arr < 0)[0])
        raise InvalidInputError(f"{where}: lr at step {i} is {arr[i]:g}; a learning rate must be >= 0.")
    if not np.any(arr > 0):
        raise InvalidInputError(f"{where}: every lr is 0.")
    return arr


#: Where the warmup ends (:func:`warmup_end`).  A change of the lr within WARMUP_TOL (0.1%) of the
#: highest lr so far is rounding or jitter of a logged lr (a cosine logged at 2.99999965e-4 after
#: a peak of 3e-4), not a rise or a fall.
WARMUP_TOL = 1e-3
#: The rise is over when the lr has held (risen by no more than WARMUP_TOL) for this share of the
#: steps it took to rise, and at least WARMUP_HOLD_MIN steps: a per-step log whose lr is printed
#: with few digits rises in stairs (printed with 2 significant figures, stairs of up to 10% of the
#: steps so far; with 6 decimals, of tens of steps), and those pauses are still warmup.
WARMUP_HOLD = 0.25
WARMUP_HOLD_MIN = 100
#: The warmup ends at the first step within this share of the rise's highest lr (float32 jitter
#: of the logged lr is ~1e-7; a linear warmup's last step but one is 1/W below its peak).
WARMUP_REACH = 1e-6


def warmup_end(eta: np.ndarray) -> int:
    """The warmup length: the step where the lr's initial rise from the start of the run ends (0
    if it starts at its peak).

    The rule: the rise is over at the first step where the lr has fallen more than WARMUP_TOL
    (0.1%) below the highest lr so far, or where the highest lr so far has risen by no more than
    WARMUP_TOL over the last quarter (WARMUP_HOLD) of the steps it took to reach it, and over at
    least WARMUP_HOLD_MIN (100) steps.  The warmup ends at the first step whose lr is within
    WARMUP_REACH (1e-6) of the highest lr up to then.  So a later rise (an lr raised in the
    middle of a constant run, a WSD-S rewarm, the next peak of a cyclic schedule) is not warmup,
    even when it goes higher than the warmup did.  On a linear or cosine warmup followed by a hold
    or a decay and no later rise, this is the first step where the lr reaches its maximum.  A run
    whose lr rises to its end is all warmup (its last step).  ``eta``: the per-step lr, finite and
    >= 0 (index = step).
    """
    eta = np.asarray(eta, dtype=float).reshape(-1)
    if eta.size == 0:
        raise InvalidInputError("warmup_end: the lr sequence is empty.")
    # whether the rise is over at step t depends on the steps up to t only: look at a growing head
    # of the run (the rise is usually over within a few thousand steps of a run of a million)
    n = min(eta.size, 4096)
    while True:
        head = eta[:n]
        top = np.maximum.accumulate(head)  # the highest lr so far
        since = np.searchsorted(top, top / (1 + WARMUP_TOL), side="left")  # first step within TOL of it
        t = np.arange(n)
        fell = head < (1 - WARMUP_TOL) * top
        held = (top > 0) & (t - since >= np.maximum(WARMUP_HOLD_MIN, WARMUP_HOLD * since))
        over = fell | held
        if over.any() or n == eta.size:
            end = int(np.argmax(over)) if over.any() else n - 1
            return int(np.argmax(head[: end + 1] >= top[end] * (1 - WARMUP_REACH)))
        n = min(eta.size, 8 * n)


def lowest_lr(eta: np.ndarray, upto: int | None = None) -> float:
    """The lowest lr after the warmup, up to step ``upto`` (default: the end); the lr at ``upto``
    when the warmup has not ended by then."""
    eta = np.asarray(eta, dtype=float)
    end = eta.size - 1 if upto is None else int(upto)
    return float(eta[min(warmup_end(eta), end): end + 1].min())


def apply_warmup(eta: np.ndarray, mode: str) -> tuple[np.ndarray, np.ndarray]:
    """(sequence for S1, lr changes eta_{k-1} - eta_k for the drop sums) under a warmup mode.

    ``peak`` counts the warmup's steps at the lr its warmup ends at (:func:`warmup_end`): the
    warmup's own peak, which a later rise of the lr (a bump, a rewarm) does not change; ``skip``
    drops the lr changes up to the end of the warmup."""
    if mode not in WARMUP_MODES:
        raise InvalidInputError(f"warmup mode must be one of {', '.join(WARMUP_MODES)}, not '{mode}'.")
    eta = np.asarray(eta, dtype=float)
    if mode == "peak":  # held at the warmup's own peak, not at a later higher lr
        w = warmup_end(eta)
        eta = eta.copy()
        eta[:w] = eta[w]
    delta = np.zeros_like(eta)
    delta[1:] = eta[:-1] - eta[1:]
    if mode == "skip":
        delta[: warmup_end(eta) + 1] = 0.0
    return eta, delta


def check_steps(steps, T: int, where: str) -> np.ndarray:
    s = np.asarray(steps, dtype=float).reshape(-1)
    if s.size == 0:
        raise InvalidInputError(f"{where}: no steps to evaluate.")
    if np.any(~np.isfinite(s)) or np.any(s < 1) or np.any(s > T) or np.any(s != np.round(s)):
        bad = s[~np.isfinite(s) | (s < 1) | (s > T) | (s != np.round(s))][0]
        raise InvalidInputError(
            f"{where}: step {bad:g} is outside the schedule (whole steps 1..{T}); give a longer schedule."
        )
    return s.astype(np.int64)


# -- fast loss-drop sum ----------------------------------------------------------------------------

def _ranges(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(owner, index) for the concatenated integer ranges [lo_i, hi_i)."""
    n = np.maximum(hi - lo, 0)
    owner = np.repeat(np.arange(lo.size), n)
    offset = np.cumsum(n) - n
    idx = np.arange(int(n.sum())) - np.repeat(offset - lo, n)
    return owner, idx


def _unique_inverse(key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(key, return_inverse=True)`` for a nearly sorted key (block index x small label):
    a stable sort (timsort for int64) runs in near-linear time on it, where unique's sort does not."""
    order = np.argsort(key, kind="stable")
    ks = key[order]
    new = np.empty(ks.size, dtype=bool)
    new[:1] = True
    np.not_equal(ks[1:], ks[:-1], out=new[1:])
    inv = np.empty(ks.size, dtype=np.int64)
    inv[order] = np.cumsum(new) - 1
    return ks[new], inv


@dataclass(frozen=True)
class DropPlan:
    """Terms of LD at each query step: LD_q = B * sum_{owner == q} delta * G(exp(-gamma*logeta) * D)."""

    owner: np.ndarray
    D: np.ndarray
    logeta: np.ndarray
    delta: np.ndarray
    n: int

    @classmethod
    def build(cls, eta: np.ndarray, delta: np.ndarray, steps: np.ndarray, *, exact: bool = False,
              near: int = 512, blocks: int = 32, base: int = 16, log_bin: float | None = None) -> DropPlan:
        """Terms for ``steps`` (ints in 1..T).  ``exact`` keeps every term (O(T) per step)."""
        S = np.cumsum(eta)
        P = np.concatenate([[0.0], S[:-1]])  # P[k] = S[k-1]: area before step k
        logeta = np.log(np.maximum(eta, _TINY))
        nz = np.flatnonzero(delta)
        nz = nz[nz >= 1]
        t = np.asarray(steps, dtype=np.int64)
        St = S[t]
        if exact:
            b0 = np.zeros_like(t)
        else:
            b0 = np.maximum(0, (t - near) // base * base)
        # steps b0 < k <= t exactly
        lo = np.searchsorted(nz, b0, side="right")
        hi = np.searchsorted(nz, t, side="right")
        q, i = _ranges(lo, hi)
        k = nz[i]
        parts = [(q, St[q] - P[k], logeta[k], delta[k])]
        if not exact and nz.size:
            w = np.abs(delta[nz])
            b = b0.copy()
            size = base
            # A pseudo-term never mixes lr levels more than LOG_BIN apart in log lr (a warmup from 0
            # spans many e-folds in one block) nor increases with decreases.
            lbin = np.floor((logeta[nz] - logeta[nz].min()) / (log_bin or LOG_BIN)).astype(np.int64)
            nb = 2 * (int(lbin.max()) + 1)
            sub = 2 * lbin + (delta[nz] < 0)
            last = eta.size - 1
            # Nor does one spread over more lr area than `spread` x the least area between its terms
            # and a query that uses it (a step at high lr between two drops to the same tiny lr, say:
            # their distances D differ by a large factor).  Such a pseudo-term is cut into sub-blocks
            # of g steps, g the largest power of two with g x (the block's highest lr) within
            # `spread` x the area between block and query (g = 1: its terms stay exact).
            spread = 2.0 * max(base / near, 2.0 / blocks)
            while np.any(b > 0):
                chunk = (nz - 1) // size
                dist = near if size == base else near + blocks * size // 2
                c = np.arange(last // size + 1)
                end = np.minimum((c + 1) * size, last)
                after = S[np.minimum(end + dist, last)] - S[end]  # least area between block and query
                span = nb * size  # key: chunk, then (log-lr bin, sign), then the sub-block
                key = chunk * span + sub * size
                # a block's pseudo-terms spread over no more than the block's own area: most pass here
                # (a block within `dist` of the last step serves no query: not looked at)
                wide = (S[end] - S[c * size] > spread * after) & (end + dist <= last)
                inside = np.flatnonzero(wide[chunk]) if wide.any() else np.empty(0, dtype=np.int64)
                if inside.size:
                    _, grp = _unique_inverse(key[inside])
                    lo_p, hi_p = np.full(grp.max() + 1, np.inf), np.full(grp.max() + 1, -np.inf)
                    np.minimum.at(lo_p, grp, P[nz[inside]])
                    np.maximum.at(hi_p, grp, P[nz[inside]])
                    ci = chunk[inside]
                    least = S[end[ci]] - hi_p[grp] + after[ci]  # after the group's last term, to the query
                    cut = (hi_p - lo_p)[grp] > spread * least
                    if cut.any():
                        cut, ci = inside[cut], ci[cut]
                        top = np.maximum.reduceat(eta, np.minimum(c * size + 1, last))  # each block's highest lr
                        g = np.clip(spread * after[ci] / np.maximum(top[ci], _TINY), 1.0, size)
                        g = np.exp2(np.floor(np.log2(g))).astype(np.int64)
                        key[cut] += (nz[cut] - 1) % size // g * g
                used, inv = _unique_inverse(key)
                W = np.bincount(inv, w)
                Wd = np.bincount(inv, delta[nz])
                Lb = np.bincount(inv, w * logeta[nz]) / W
                Pb = np.bincount(inv, w * P[nz]) / W
                c_hi = b // size
                b_next = np.maximum(0, (b - blocks * size) // (2 * size) * (2 * size))
                c_lo = b_next // size
                lo = np.searchsorted(used, span * c_lo)
                hi = np.searchsorted(used, span * c_hi)
                q, j = _ranges(lo, hi)
                parts.append((q, St[q] - Pb[j], Lb[j], Wd[j]))
                b = b_next
                size *= 2
        owner, D, L, d = (np.concatenate(x) for x in zip(*parts, strict=True))
        return cls(owner=owner, D=np.maximum(D, 0.0), logeta=L, delta=d, n=int(t.size))

    def drop(self, B: float, C: float, beta: float, gamma: float) -> np.ndarray:
        a = np.exp(-gamma * self.logeta)
        u = 1.0 + C * a * self.D
        return B * np.bincount(self.owner, self.delta * (1.0 - u ** -beta), self.n)

    def drop_and_grad(self, B: float, C: float, beta: float, gamma: float) -> tuple[np.ndarray, np.ndarray]:
        """LD and its derivatives by (B, C, beta, gamma), shape (n,) and (n, 4)."""
        a = np.exp(-gamma * self.logeta)
        aD = a * self.D
        u = 1.0 + C * aD
        ub = u ** -beta
        g = self.delta * (1.0 - ub)
        common = self.delta * beta * ub / u  # d/dx of -(1+x)^-beta, times delta
        cols = [g, common * aD, self.delta * ub * np.log(u), -common * C * aD * self.logeta]
        sums = np.stack([np.bincount(self.owner, c, self.n) for c in cols], axis=1)
        ld = B * sums[:, 0]
        grad = np.column_stack([sums[:, 0], B * sums[:, 1], B * sums[:, 2], B * sums[:, 3]])
        return ld, grad


# -- the laws --------------------------------------------------------------------------------------

_CURVE_OUTPUT = {"loss_floor": Output("loss_floor", "nats/token", "L0: the loss as the lr area grows without bound")}


class _CurveLaw:
    """What both curve laws share: the floor output and the warmup convention applied to eta."""

    kinds: ClassVar[frozenset[str]] = frozenset({"curve"})
    warmup: ClassVar[str]  # each law's warmup convention (see the module docstring)

    def loss_floor(self):
        return np.float64(self.L0)

    def prepare(self, eta) -> tuple[np.ndarray, np.ndarray]:
        return apply_warmup(check_sequence(eta), self.warmup)


@dataclass(frozen=True)
class MultiPowerLaw(_CurveLaw, Law):
    """Luo et al. 2025: power law in the lr area minus a multi-power loss drop from each lr decrease."""

    key: ClassVar[str] = "multipower"
    title: ClassVar[str] = "Multi-power law: loss curve under any lr schedule (Luo et al. 2025)"
    formula: ClassVar[str] = (
        "L(t) = L0 + A*S1(t)^-alpha - B*sum_k (eta_{k-1}-eta_k)*(1-(C*eta_k^-gamma*S_k(t)+1)^-beta); warmup as run"
    )
    inputs: ClassVar[dict] = {}
    outputs: ClassVar[dict] = _CURVE_OUTPUT
    warmup: ClassVar[str] = "as-run"
    input_note: ClassVar[str] = INPUT_NOTE
    params: ClassVar[tuple[str, ...]] = ("L0", "A", "alpha", "B", "C", "beta", "gamma")

    L0: float = 2.3747
    A: float = 0.6542
    alpha: float = 0.4288
    B: float = 523.42
    C: float = 2.0246
    beta: float = 0.5935
    gamma: float = 0.6347

    def curve(self, eta, steps, *, exact: bool = False) -> np.ndarray:
        """Predicted loss at ``steps`` (whole steps 1..T) of the per-step lr sequence ``eta``.

        Steps are taken :data:`CURVE_CHUNK` at a time (exact: fewer), so the plan's terms stay
        within a few hundred MB however many steps are asked for (a log with the loss at every step).
        """
        seq, delta = self.prepare(eta)
        t = check_steps(steps, seq.size - 1, self.registry_key)
        S1 = np.cumsum(seq)
        chunk = CURVE_CHUNK if not exact else max(1, CURVE_CHUNK * 1024 // max(seq.size, 1))
        return np.concatenate([self.from_plan(S1[part], DropPlan.build(seq, delta, part, exact=exact))
                               for part in np.array_split(t, -(-t.size // chunk))])

    def from_plan(self, S1: np.ndarray, plan: DropPlan) -> np.ndarray:
        return self.L0 + self.A * S1 ** -self.alpha - plan.drop(self.B, self.C, self.beta, self.gamma)


@dataclass(frozen=True)
class MultiPowerPeakWarmup(MultiPowerLaw):
    """The multi-power law with warmup steps counted at the peak lr."""

    key: ClassVar[str] = "multipower-peak-warmup"
    title: ClassVar[str] = "Multi-power law, warmup counted at peak lr"
    formula: ClassVar[str] = MultiPowerLaw.formula.replace("warmup as run", "warmup steps at peak lr")
    warmup: ClassVar[str] = "peak"


@dataclass(frozen=True)
class MultiPowerSkipWarmup(MultiPowerLaw):
    """The multi-power law as the paper's text writes it: warmup area in S1, no warmup terms in LD."""

    key: ClassVar[str] = "multipower-paper-warmup"
    title: ClassVar[str] = "Multi-power law, paper-text warmup convention"
    formula: ClassVar[str] = MultiPowerLaw.formula.replace("warmup as run", "LD from the end of warmup")
    warmup: ClassVar[str] = "skip"


@dataclass(frozen=True)
class AnnealingLaw(_CurveLaw, Law):
    """Tissue et al. 2024: power law in the forward area minus C times the annealing area S2."""

    key: ClassVar[str] = "annealing"
    title: ClassVar[str] = "LR-annealing law: loss curve under any lr schedule (Tissue et al. 2024)"
    formula: ClassVar[str] = (
        "L(s) = L0 + A*S1(s)^-alpha - C*S2(s), S2 = sum m_i, m_i = lam*m_{i-1} + (eta_{i-1}-eta_i); warmup at peak lr"
    )
    inputs: ClassVar[dict] = {}
    outputs: ClassVar[dict] = _CURVE_OUTPUT
    warmup: ClassVar[str] = "peak"
    input_note: ClassVar[str] = INPUT_NOTE
    params: ClassVar[tuple[str, ...]] = ("L0", "A", "alpha", "C", "lam")

    L0: float = 2.5
    A: float = 0.5
    alpha: float = 0.5
    C: float = 300.0
    lam: float = 0.999

    def curve(self, eta, steps, *, exact: bool = False) -> np.ndarray:
        """Predicted loss at ``steps`` (whole steps 1..T) of the per-step lr sequence ``eta``."""
        seq, delta = self.prepare(eta)
        t = check_steps(steps, seq.size - 1, self.registry_key)
        S2 = annealing_area(delta, self.lam)
        return self.L0 + self.A * np.cumsum(seq)[t] ** -self.alpha - self.C * S2[t]


@dataclass(frozen=True)
class AnnealingAsRunWarmup(AnnealingLaw):
    key: ClassVar[str] = "annealing-as-run-warmup"
    title: ClassVar[str] = "LR-annealing law, warmup as run"
    formula: ClassVar[str] = AnnealingLaw.formula.replace("warmup at peak lr", "warmup as run")
    warmup: ClassVar[str] = "as-run"


def annealing_area(delta: np.ndarray, lam: float, *, grad: bool = False):
    """S2 = cumsum(m), m_i = lam m_{i-1} + delta_i: a first-order filter, O(T).  With ``grad``, also dS2/dlam."""
    from scipy.signal import lfilter

    if not 0 <= lam < 1:
        raise InvalidInputError(f"the annealing law's lambda must be in [0, 1), not {lam:g}.")
    m = lfilter([1.0], [1.0, -lam], delta)
    S2 = np.cumsum(m)
    if not grad:
        return S2
    # dm_i/dlam = lam dm_{i-1}/dlam + m_{i-1}
    shifted = np.concatenate([[0.0], m[:-1]])
    return S2, np.cumsum(lfilter([1.0], [1.0, -lam], shifted))


# -- the noise-convolution law ---------------------------------------------------------------------

#: The convolution plan: steps less than CONV_RATIO * 4 before a query are summed exactly; farther
#: steps in aligned blocks of s = 4, 16, 64, ... steps, each block size used from CONV_RATIO * s to
#: 4 * CONV_RATIO * s steps back (so a block is at most 1/CONV_RATIO of its distance in steps).
CONV_RATIO = 32
#: ... and a block whose weighted clock spread (standard deviation) exceeds CONV_SPREAD x its
#: distance to the query (clock units, plus c) is summed exactly at evaluation time.
CONV_SPREAD = 0.03


@dataclass(frozen=True)
class ConvPlan:
    """The steps summed for each query step (``owner``): single steps near it, then aligned blocks
    of 4, 16, 64, ... steps farther back (``levels``: each size's terms; ``index`` = first step // size).
    Each block size's span ends on a multiple of the next size, so every block is whole and its
    moments come from a reshape of the sequence (never from differences of running sums, which
    lose the weights of steps at a tiny lr).  Depends on the query steps only: a fit builds it once."""

    owner: np.ndarray
    index: np.ndarray
    levels: tuple[tuple[int, int, int], ...]  # (block size, first term, end) in order
    n: int

    @classmethod
    def build(cls, steps: np.ndarray, *, exact: bool = False) -> ConvPlan:
        t = np.asarray(steps, dtype=np.int64)
        top = t + 1  # the current level covers steps [bottom, top)
        parts = []
        size = 1
        while True:
            if exact:
                bottom = np.zeros_like(t)
            else:  # the next level (blocks of 4 x size) starts CONV_RATIO * 4 * size steps back
                nxt = 4 * size
                bottom = np.maximum((t + 1 - CONV_RATIO * nxt) // nxt * nxt, 0)
            n = (top - bottom) // size
            q = np.flatnonzero(n > 0)
            if q.size:
                cnt = n[q]
                owner = np.repeat(q, cnt)
                first = np.repeat(bottom[q] // size, cnt)
                idx = first + np.arange(int(cnt.sum())) - np.repeat(np.cumsum(cnt) - cnt, cnt)
                parts.append((owner, idx, size))
            if exact or not np.any(bottom > 0):
                break
            top, size = bottom, 4 * size
        ends = np.cumsum([o.size for o, _, _ in parts])
        levels = tuple((int(sz), int(e - o.size), int(e)) for (o, _, sz), e in zip(parts, ends, strict=True))
        return cls(owner=np.concatenate([o for o, _, _ in parts]), index=np.concatenate([i for _, i, _ in parts]),
                   levels=levels, n=int(t.size))

    def moments(self, w: np.ndarray, clock: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Each term's block: its total weight W, weighted mean clock m and weighted clock variance V
        (they depend on the weights and clocks only, not on c or gamma: a fit that moves only c or
        gamma reuses them)."""
        W = np.empty(self.owner.size)
        m = np.empty(self.owner.size)
        V = np.zeros(self.owner.size)
        for size, a, b in self.levels:
            j = self.index[a:b]
            if size == 1:
                W[a:b], m[a:b] = w[j], clock[j]
                continue
            nb = int(j.max()) + 1
            wb = w[: nb * size].reshape(nb, size)
            cb = clock[: nb * size].reshape(nb, size)
            Wb = wb.sum(axis=1)
            safe = np.where(Wb > 0, Wb, 1.0)
            mb = np.where(Wb > 0, (wb * cb).sum(axis=1) / safe, cb[:, 0])
            vb = (wb * (cb - mb[:, None]) ** 2).sum(axis=1) / safe
            W[a:b], m[a:b], V[a:b] = Wb[j], mb[j], vb[j]
        return W, m, V

    def sum(self, w: np.ndarray, clock: np.ndarray, at: np.ndarray, c: float, gamma: float,
            moments: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None) -> np.ndarray:
        """sum over k <= t of w_k (clock_t - clock_k + c)^-gamma at each query t (``at`` = clock_t):
        a block counts its total weight at its weighted mean clock, with the second-order term
        0.5 f''(D) x (the weighted variance of the clock inside it).  ``moments``: :meth:`moments`
        of these ``w`` and ``clock``, when the caller has them."""
        W, m, V = self.moments(w, clock) if moments is None else moments
        Dc = np.maximum(at[self.owner] - m, 0.0) + c
        term = W * (1.0 + 0.5 * gamma * (gamma + 1.0) * V / (Dc * Dc)) * Dc ** -gamma
        out = np.bincount(self.owner, term, self.n)
        # A block whose clock spread is not small against its distance (after a drop to a tiny lr,
        # with a fast clock q or a steep kernel) is summed step by step instead.
        wide = V > CONV_SPREAD ** 2 * Dc * Dc
        if wide.any():
            for size, a, b in self.levels:
                f = a + np.flatnonzero(wide[a:b])
                if not f.size:
                    continue
                o, k = _ranges(self.index[f] * size, self.index[f] * size + size)
                own = self.owner[f][o]
                exact = w[k] * (np.maximum(at[own] - clock[k], 0.0) + c) ** -gamma
                out += np.bincount(own, exact, self.n) - np.bincount(self.owner[f], term[f], self.n)
        return out


@dataclass(frozen=True)
class NoiseConvolutionLaw(_CurveLaw, Law):
    """The SGD-noise convolution form of the functional scaling law (Li et al. 2025), with a noise
    weight that falls with the lr area (b2: noise in proportion to the loss above the floor) and an
    lr-power clock (q): hpadvisor's own extension, chosen on training curves only (benchmarks/)."""

    key: ClassVar[str] = "noise-convolution"
    title: ClassVar[str] = ("Noise-convolution law: loss curve under any lr schedule (the functional scaling law's "
                            "form, Li et al. 2025, extended by hpadvisor)")
    formula: ClassVar[str] = (
        "L(t) = L0 + A*S1(t)^-alpha + sum_{k<=t} eta_k^2*(b1 + b2*S1(k)^-alpha)*(Sq(t)-Sq(k)+c)^-gamma, "
        "Sq(t) = eta_ref^(1-q)*sum_{i<=t} eta_i^q; warmup as run"
    )
    inputs: ClassVar[dict] = {}
    outputs: ClassVar[dict] = _CURVE_OUTPUT
    warmup: ClassVar[str] = "as-run"
    input_note: ClassVar[str] = INPUT_NOTE + "; Sq(t) = eta_ref^(1-q) * sum of eta_i^q for i <= t"
    params: ClassVar[tuple[str, ...]] = ("L0", "A", "alpha", "b1", "b2", "c", "gamma", "q", "eta_ref")
    #: Lower bounds a law file's constants must exceed (what the fit searches within).
    domain: ClassVar[dict] = {"gamma": (1.0, "at or below 1 the noise of a constant lr grows without bound"),
                              "eta_ref": (0.0, "the clock's reference lr")}

    # Defaults: hpadvisor's fit on Luo et al.'s 400M training curves (cosine_24000, constant_24000,
    # wsdcon_9; benchmarks/curves_mpl.py).  Valid for that lr scale only: refit for your runs.
    L0: float = 2.37629
    A: float = 0.43657
    alpha: float = 0.47018
    b1: float = 42.982
    b2: float = 75.988
    c: float = 1.57e-3
    gamma: float = 1.11614
    q: float = 1.4494
    eta_ref: float = 3e-4

    def curve(self, eta, steps, *, exact: bool = False) -> np.ndarray:
        """Predicted loss at ``steps`` (whole steps 1..T) of the per-step lr sequence ``eta``."""
        seq, _ = self.prepare(eta)
        t = check_steps(steps, seq.size - 1, self.registry_key)
        chunk = CURVE_CHUNK if not exact else max(1, CURVE_CHUNK * 1024 // max(seq.size, 1))
        S1 = np.cumsum(seq)
        w, clock = self.weights(seq, S1, self.b1, self.b2)
        return np.concatenate([self.L0 + self.A * S1[part] ** -self.alpha
                               + ConvPlan.build(part, exact=exact).sum(w, clock, clock[part], self.c, self.gamma)
                               for part in np.array_split(t, -(-t.size // chunk))])

    def weights(self, seq: np.ndarray, S1: np.ndarray, b1: float, b2: float, *, fall: np.ndarray | None = None,
                clock: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(noise weight eta_k^2 (b1 + b2 S1(k)^-alpha) of each step, the clock Sq); S1 = cumsum(seq).
        ``fall``/``clock``: :meth:`fall` and :meth:`clock` of these steps, when the caller has them."""
        fall = self.fall(S1) if fall is None else fall
        w = seq * seq * (b1 + b2 * fall)
        return w, self.clock(seq) if clock is None else clock

    def fall(self, S1: np.ndarray) -> np.ndarray:
        """S1(k)^-alpha (0 where S1 = 0): how the noise weight falls with the lr area."""
        return np.where(S1 > 0, np.where(S1 > 0, S1, 1.0) ** -self.alpha, 0.0)

    def clock(self, seq: np.ndarray) -> np.ndarray:
        """The clock Sq(t) = eta_ref^(1-q) sum_{i<=t} eta_i^q."""
        return np.cumsum(seq ** self.q) * self.eta_ref ** (1.0 - self.q)


FORMS = (MultiPowerLaw, MultiPowerPeakWarmup, MultiPowerSkipWarmup, AnnealingLaw, AnnealingAsRunWarmup, NoiseConvolutionLaw)
BY_NAME = {"multipower": MultiPowerLaw, "annealing": AnnealingLaw, "noise-convolution": NoiseConvolutionLaw}
WARMUP_FORMS = {
    ("multipower", "as-run"): MultiPowerLaw, ("multipower", "peak"): MultiPowerPeakWarmup,
    ("multipower", "skip"): MultiPowerSkipWarmup, ("annealing", "peak"): AnnealingLaw,
    ("annealing", "as-run"): AnnealingAsRunWarmup, ("noise-convolution", "as-run"): NoiseConvolutionLaw,
}


def _luo(size: str, values: tuple[float, ...], reported: str) -> MultiPowerLaw:
    return MultiPowerLaw(
        **dict(zip(MultiPowerLaw.params, values, strict=True)),
        name=f"mpl-{size.lower()}",
        provenance=Provenance(
            citation="Luo et al. 2025, A Multi-Power Law for Loss Curve Prediction Across Learning Rate "
            f"Schedules (arXiv:2503.12811): fitted parameters for the {size} model",
            source="thu-yao-01-luo/MultiPowerLaw @8da9f19 (README and src/)",
            fitted_range=(("steps", 2160.0, 24000.0), ("peak_lr", 3e-4, 3e-4), ("warmup_steps", 2160.0, 2160.0),
                          ("min_lr", 3e-5, 3e-4)),
            notes="Fitted on cosine_24000, constant_24000, wsdcon_9 with warmup 2160 steps from 0 to 3e-4, "
            "lr sequence as run (warmup increments in the drop sum). Valid for that lr scale only.",
            checked_against="The authors' reported mean relative error on their six held-out "
            f"schedules, {reported}% at {size}, reproduced to 0.001 points on their data "
            "(data/mpl_schedules); hpadvisor fit curves --method luo on their three training runs "
            "returns these parameters within 0.1%.",
        ),
    )


MPL_25M = _luo("25M", (3.04045, 0.52469, 0.50787, 363.788, 2.06561, 0.58279, 0.64142), "0.110")
MPL_100M = _luo("100M", (2.65145, 0.60115, 0.45296, 437.946, 2.13246, 0.59785, 0.65524), "0.142")
MPL_400M = _luo("400M", (2.37474, 0.65421, 0.42879, 523.425, 2.02463, 0.59350, 0.63472), "0.168")


# -- ranking schedules -----------------------------------------------------------------------------

def rank_schedules(law: MultiPowerLaw | AnnealingLaw, schedules: dict) -> list[dict]:
    """Predicted final loss of each named schedule (objects with ``sequence()``), best first,
    with the gap to the best (absolute, nats, and relative)."""
    rows = []
    for label, sched in schedules.items():
        eta = sched.sequence()
        rows.append({"schedule": label, "final_loss": float(law.curve(eta, [eta.size - 1])[0])})
    rows.sort(key=lambda r: r["final_loss"])
    best = rows[0]["final_loss"]
    for r in rows:
        r["gap"] = r["final_loss"] - best
        r["gap_percent"] = 100.0 * (r["final_loss"] / best - 1.0)
    return rows


def cooldown_search(law, make, fractions, shapes) -> list[dict]:
    """Every (cooldown fraction, shape) WSD candidate ranked by predicted final loss.

    ``make(fraction, shape)`` returns the schedule (so the caller fixes peak, steps, warmup, floor).
    """
    cands = {f"wsd {shape} {frac:.0%}": make(frac, shape) for shape in shapes for frac in fractions}
    rows = rank_schedules(law, cands)
    for r in rows:
        _, shape, frac = r["schedule"].split(" ")
        r["decay_shape"], r["decay_fraction"] = shape, float(frac.rstrip("%")) / 100
    return rows
