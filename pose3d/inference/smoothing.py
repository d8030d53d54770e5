"""Temporal smoothing of 3D joints over video frames: the One Euro filter (Casiez et al., CHI 2012).

A low-pass filter whose cutoff rises with speed: still poses lose their jitter, fast motion keeps
little lag. Causal, so it runs while frames stream in. `mean_acceleration` is the jitter figure.
"""

from __future__ import annotations

import math

import numpy as np

# Defaults for joints in millimetres: 1 Hz cutoff at rest, +1 Hz per 200 mm/s of joint speed.
MIN_CUTOFF_HZ = 1.0
BETA = 0.005
DERIVATIVE_CUTOFF_HZ = 1.0


def _alpha(cutoff_hz: np.ndarray | float, dt: float) -> np.ndarray | float:
    """Smoothing factor of an exponential low-pass at `cutoff_hz` for a sample every `dt` seconds."""
    tau = 1.0 / (2.0 * math.pi * cutoff_hz)
    return 1.0 / (1.0 + tau / dt)


class OneEuroFilter:
    """One Euro filter of arrays of any fixed shape (e.g. (17, 3) joints in mm), elementwise.

    Call with one sample per frame; `reset()` starts over (a track that was lost and found again).
    """

    def __init__(
        self, fps: float, min_cutoff: float = MIN_CUTOFF_HZ, beta: float = BETA, d_cutoff: float = DERIVATIVE_CUTOFF_HZ,
    ) -> None:
        if fps <= 0 or min_cutoff <= 0 or d_cutoff <= 0 or beta < 0:
            raise ValueError(f"One Euro filter needs fps, min_cutoff, d_cutoff > 0 and beta >= 0; got "
                             f"fps={fps}, min_cutoff={min_cutoff}, beta={beta}, d_cutoff={d_cutoff}")
        self.dt = 1.0 / fps
        self.min_cutoff, self.beta, self.d_cutoff = min_cutoff, beta, d_cutoff
        self.reset()

    def reset(self) -> None:
        self._value: np.ndarray | None = None
        self._speed: np.ndarray | None = None

    def __call__(self, sample: np.ndarray, dt: float | None = None) -> np.ndarray:
        """Filter the next sample, `dt` seconds after the previous one (default 1 / fps): a phone's
        video has a variable frame rate, and the filter's cutoffs are in Hz."""
        sample = np.asarray(sample, np.float64)
        if self._value is None or not np.all(np.isfinite(self._value)):
            self._value, self._speed = sample.copy(), np.zeros_like(sample)
            return sample.copy()
        dt = self.dt if dt is None or not dt > 0 else float(dt)
        speed = (sample - self._value) / dt
        self._speed = self._speed + _alpha(self.d_cutoff, dt) * (speed - self._speed)
        cutoff = self.min_cutoff + self.beta * np.abs(self._speed)
        self._value = self._value + _alpha(cutoff, dt) * (sample - self._value)
        return self._value.copy()


def smooth_sequence(
    sequence: np.ndarray, fps: float, min_cutoff: float = MIN_CUTOFF_HZ, beta: float = BETA,
    d_cutoff: float = DERIVATIVE_CUTOFF_HZ,
) -> np.ndarray:
    """(T, ...) samples filtered along time; a frame with any NaN (person absent) passes through and restarts the filter."""
    smoother = OneEuroFilter(fps, min_cutoff, beta, d_cutoff)
    out = np.array(sequence, np.float64, copy=True)
    for index, sample in enumerate(out):
        if not np.all(np.isfinite(sample)):
            smoother.reset()
            continue
        out[index] = smoother(sample)
    return out


def mean_acceleration(sequence: np.ndarray) -> float:
    """Jitter: mean norm of the second difference over frames of (T, J, 3) joints (mm/frame^2); NaN frames skipped."""
    sequence = np.asarray(sequence, np.float64)
    assert sequence.ndim == 3 and sequence.shape[-1] == 3, sequence.shape
    acceleration = sequence[2:] - 2.0 * sequence[1:-1] + sequence[:-2]
    norms = np.linalg.norm(acceleration, axis=-1)
    norms = norms[np.all(np.isfinite(norms), axis=-1)]
    return float(norms.mean()) if norms.size else float("nan")
