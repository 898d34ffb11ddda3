"""Stability (ICH Q1E): regression per batch, poolability by ANCOVA, shelf life from the confidence bound.

1. Three nested least-squares models of value on time: separate (an intercept and a slope per batch),
   common slope (an intercept per batch, one slope), pooled (one line).
2. Poolability at α = 0.25 (ICH Q1E Appendix B): first the slopes, F = ΔSSE/(k − 1) over the separate
   model's MSE; p < α → separate. Otherwise the intercepts, F = ΔSSE/(k − 1) over the common-slope model's
   MSE (the interaction dropped, as Minitab's stability study does); p < α → common slope, else pooled.
3. Shelf life: the first time at which the one-sided 95% confidence bound of the mean regression line of the
   chosen model (its own residual MSE) meets the acceptance limit: the lower bound against a lower limit,
   the upper against an upper one, and the two-sided 95% limits against both when the attribute can move
   either way. With separate or common-slope models each batch gets its time and the worst batch governs.
4. No extrapolation beyond the last time point unless ``extrapolate_to`` is given (ICH Q5C: cell and gene
   products are normally not extrapolated); when asked, the result says so. When the bound stays inside the
   limit up to the last time point, the shelf life is that time and ``limited_by_data`` is true.
5. ``log=True`` fits ln(value) (titers: first-order loss); the limit is transformed with it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy import optimize, stats

from cgtqc.errors import InputError

MODELS = ("pooled", "common_slope", "separate")
SIDES = ("lower", "upper", "both")


@dataclass
class BatchFit:
    batch: str
    n: int
    intercept: float
    slope: float
    shelf_life: float
    limited_by_data: bool

    def to_dict(self) -> dict:
        return {
            "batch": self.batch,
            "n": self.n,
            "intercept": self.intercept,
            "slope": self.slope,
            "shelf_life": self.shelf_life,
            "limited_by_data": self.limited_by_data,
        }


@dataclass
class StabilityResult:
    model: str
    p_slopes: float | None
    p_intercepts: float | None
    shelf_life: float
    governing_batch: str | None
    limited_by_data: bool
    extrapolated: bool
    side: str
    limits: tuple[float | None, float | None]
    confidence: float
    alpha_pool: float
    log: bool
    last_time: float
    batches: list[BatchFit]
    residual_sd: float
    df: int
    notes: list[str] = field(default_factory=list)
    _bound: object = None  # callable(batch index, times) -> (mean, lower, upper) for plotting

    def to_dict(self) -> dict:
        return {
            "model": self.model,
            "p_values": {"slopes": self.p_slopes, "intercepts": self.p_intercepts},
            "alpha_poolability": self.alpha_pool,
            "shelf_life": self.shelf_life,
            "governing_batch": self.governing_batch,
            "limited_by_data": self.limited_by_data,
            "extrapolated": self.extrapolated,
            "last_time_point": self.last_time,
            "side": self.side,
            "lower_limit": self.limits[0],
            "upper_limit": self.limits[1],
            "confidence": self.confidence,
            "log_transform": self.log,
            "residual_sd": self.residual_sd,
            "df": self.df,
            "batches": [b.to_dict() for b in self.batches],
            "notes": self.notes,
        }


def _design(model: str, t: np.ndarray, g: np.ndarray, k: int) -> np.ndarray:
    onehot = np.eye(k)[g]
    if model == "separate":
        return np.hstack([onehot, onehot * t[:, None]])
    if model == "common_slope":
        return np.hstack([onehot, t[:, None]])
    return np.column_stack([np.ones_like(t), t])


def _row(model: str, b: int, k: int, t: np.ndarray) -> np.ndarray:
    return _design(model, t, np.full(t.size, b), k)


def _fit(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float, int, np.ndarray]:
    beta, *_ = np.linalg.lstsq(X, y, rcond=None)
    resid = y - X @ beta
    sse = float(resid @ resid)
    df = X.shape[0] - np.linalg.matrix_rank(X)
    return beta, sse, int(df), np.linalg.pinv(X.T @ X)


def poolability(t: np.ndarray, y: np.ndarray, g: np.ndarray, k: int) -> tuple[float | None, float | None]:
    """ANCOVA p-values: equality of slopes, then of intercepts (common-slope model's MSE)."""
    if k < 2:
        return None, None
    _, sse_sep, df_sep, _ = _fit(_design("separate", t, g, k), y)
    _, sse_cs, df_cs, _ = _fit(_design("common_slope", t, g, k), y)
    _, sse_pool, _, _ = _fit(_design("pooled", t, g, k), y)
    if df_sep < 1 or df_cs < 1:
        raise InputError("too few stability points to test poolability (need more points than parameters)")
    f_slope = ((sse_cs - sse_sep) / (k - 1)) / (sse_sep / df_sep) if sse_sep > 0 else math.inf
    f_int = ((sse_pool - sse_cs) / (k - 1)) / (sse_cs / df_cs) if sse_cs > 0 else math.inf
    return float(stats.f.sf(f_slope, k - 1, df_sep)), float(stats.f.sf(f_int, k - 1, df_cs))


def shelf_life(
    batch: list[str] | np.ndarray,
    time: np.ndarray,
    value: np.ndarray,
    lower: float | None = None,
    upper: float | None = None,
    side: str = "lower",
    alpha_pool: float = 0.25,
    confidence: float = 0.95,
    extrapolate_to: float | None = None,
    log: bool = False,
    model: str | None = None,
) -> StabilityResult:
    """ICH Q1E shelf life of one attribute over its stability batches (``model`` forces a model)."""
    if side not in SIDES:
        raise InputError(f"unknown side {side!r} ({', '.join(SIDES)})")
    if side in ("lower", "both") and lower is None:
        raise InputError("side lower/both needs a lower limit")
    if side in ("upper", "both") and upper is None:
        raise InputError("side upper/both needs an upper limit")
    if side == "lower":
        upper = None
    if side == "upper":
        lower = None
    t = np.asarray(time, dtype=np.float64)
    y = np.asarray(value, dtype=np.float64)
    if np.any(t < 0):
        raise InputError("stability times must be >= 0")
    lo_l, hi_l = lower, upper
    if log:
        if np.any(y <= 0) or (lower is not None and lower <= 0) or (upper is not None and upper <= 0):
            raise InputError("the log transform needs positive values and limits")
        y = np.log(y)
        lo_l = math.log(lower) if lower is not None else None
        hi_l = math.log(upper) if upper is not None else None
    names, g = np.unique(np.asarray(batch).astype(str), return_inverse=True)
    k = names.size
    if t.size < 3 or np.unique(t).size < 2:
        raise InputError(f"too few stability points: {t.size} at {np.unique(t).size} time(s) (need 3 at 2+)")
    for b in range(k):
        if np.unique(t[g == b]).size < 2:
            raise InputError(f"batch {names[b]!r} has fewer than 2 time points")
    p_s, p_i = poolability(t, y, g, k)
    if model is None:
        if k == 1:
            model = "pooled"
        elif p_s is not None and p_s < alpha_pool:
            model = "separate"
        elif p_i is not None and p_i < alpha_pool:
            model = "common_slope"
        else:
            model = "pooled"
    elif model not in MODELS:
        raise InputError(f"unknown model {model!r} ({', '.join(MODELS)})")
    X = _design(model, t, g, k)
    beta, sse, df, xtx_inv = _fit(X, y)
    if df < 1:
        raise InputError("too few stability points for the confidence bound (no residual degrees of freedom)")
    s2 = sse / df
    two = side == "both"
    tq = stats.t.ppf(confidence if not two else 1 - (1 - confidence) / 2, df)
    last = float(t.max())
    end = last if extrapolate_to is None else float(extrapolate_to)
    if end < last:
        raise InputError(f"extrapolate_to {end} is before the last time point {last}")

    def band(b: int, times: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        R = _row(model, b, k, np.asarray(times, dtype=np.float64))
        mean = R @ beta
        se = np.sqrt(np.einsum("ij,jk,ik->i", R, xtx_inv, R) * s2)
        return mean, mean - tq * se, mean + tq * se

    def margin(b: int, times: np.ndarray) -> np.ndarray:
        """Distance of the bound inside the limit(s); negative once it is outside."""
        _, lo, hi = band(b, times)
        m = np.full(np.shape(times), np.inf)
        if lo_l is not None:
            m = np.minimum(m, lo - lo_l)
        if hi_l is not None:
            m = np.minimum(m, hi_l - hi)
        return m

    grid = np.linspace(0.0, end, 2001)
    fits: list[BatchFit] = []
    batches = [0] if model == "pooled" else list(range(k))
    for b in batches:
        m = margin(b, grid)
        out = np.flatnonzero(m < 0)
        if out.size == 0:
            life, limited = end, True
        elif out[0] == 0:
            life, limited = 0.0, False
        else:
            j = out[0]
            life = float(
                optimize.brentq(
                    lambda s, b=b: float(margin(b, np.array([s]))[0]), grid[j - 1], grid[j], xtol=1e-10
                )
            )
            limited = False
        idx = g == b if model != "pooled" else np.ones_like(g, dtype=bool)
        R0 = _row(model, b, k, np.array([0.0, 1.0]))
        a0, a1 = (R0 @ beta).tolist()
        fits.append(
            BatchFit(
                str(names[b]) if model != "pooled" else "pooled", int(idx.sum()), a0, a1 - a0, life, limited
            )
        )
    worst = min(fits, key=lambda f: f.shelf_life)
    notes = []
    if extrapolate_to is not None and worst.shelf_life > last:
        notes.append(
            f"EXTRAPOLATED beyond the last time point ({last:g}) up to {end:g}, as asked: ICH Q1E limits "
            "extrapolation and cell and gene products (ICH Q5C) are normally not extrapolated"
        )
    elif extrapolate_to is None:
        notes.append(f"not extrapolated beyond the last time point ({last:g})")
    if worst.limited_by_data:
        notes.append(
            f"the confidence bound stays within the limit up to {end:g}: shelf life limited by the data"
        )
    res = StabilityResult(
        model=model,
        p_slopes=p_s,
        p_intercepts=p_i,
        shelf_life=worst.shelf_life,
        governing_batch=None if model == "pooled" else worst.batch,
        limited_by_data=worst.limited_by_data,
        extrapolated=extrapolate_to is not None and worst.shelf_life > last,
        side=side,
        limits=(lower, upper),
        confidence=confidence,
        alpha_pool=alpha_pool,
        log=log,
        last_time=last,
        batches=fits,
        residual_sd=math.sqrt(s2),
        df=df,
        notes=notes,
    )
    res._bound = (band, list(names), batches)
    return res
