"""Joint-angle trajectories for Human3.6M actions, turned into joints by forward kinematics.

Every action is a small function that shapes the degrees of freedom of
`kinematics.DOF_LIMITS` over time: smooth sums of sinusoids, smoothstep transitions
between key poses, a walking gait on a circular path. Subjects differ in tempo,
amplitude and handedness; subactions differ in facing, position, path and phase.
Frames are `FRAME_DT_S` apart, so even short sequences cover a varied slice of motion.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from pose3d.datasets.layout import ACTIONS
from pose3d.datasets.synthetic.body import Body
from pose3d.datasets.synthetic.kinematics import DOF_LIMITS, PoseSequence, forward_kinematics

FRAME_DT_S = 0.1  # seconds between synthetic frames (Human3.6M records at 50 Hz)
CAPTURE_CENTRE_MM = np.array([200.0, 700.0])  # centre of the floor area that all four cameras see whole


@dataclass(frozen=True)
class Chair:
    """A chair under a seated subject: seat centre (x, y), facing, seat top height, mm."""

    x: float
    y: float
    heading: float
    seat_height: float
    seat_depth: float
    seat_width: float


@dataclass(frozen=True)
class Motion:
    pose: PoseSequence
    chair: Chair | None


class _Shaper:
    """Time base and random building blocks shared by the action functions."""

    def __init__(self, frames: int, rng: np.random.Generator, body: Body, tempo: float, amplitude: float,
                 dominant: str):
        self.t = np.arange(frames) * FRAME_DT_S
        self.rng = rng
        self.body = body
        self.tempo = tempo
        self.amplitude = amplitude
        self.dominant = dominant
        self.other = "l" if dominant == "r" else "r"

    def wave(self, freq_hz: float, phase: float | None = None) -> np.ndarray:
        """sin at `freq_hz` scaled by the subject's tempo; random phase unless given."""
        phase = self.rng.uniform(0, 2 * np.pi) if phase is None else phase
        return np.sin(2 * np.pi * freq_hz * self.tempo * self.t + phase)

    def bump(self, period_s: float, sharpness: float = 2.0) -> np.ndarray:
        """A periodic 0..1 bump (e.g. hand to mouth), random phase."""
        return (0.5 - 0.5 * self.wave(1.0 / period_s)) ** sharpness

    def switch(self, period_s: float) -> np.ndarray:
        """A smooth 0/1 square wave: holds each state, smoothstep transitions."""
        return _smoothstep(0.5 + 0.8 * self.wave(1.0 / period_s))

    def noise(self, amplitude: float, max_freq_hz: float = 0.3) -> np.ndarray:
        """Smooth random wiggle of about +-amplitude (three random low-frequency sinusoids)."""
        freqs = self.rng.uniform(0.03, max_freq_hz, size=3)
        weights = self.rng.uniform(0.3, 1.0, size=3)
        phases = self.rng.uniform(0, 2 * np.pi, size=3)
        signal = sum(w * np.sin(2 * np.pi * f * self.t + p) for f, w, p in zip(freqs, weights, phases, strict=True))
        return amplitude * signal / weights.sum()


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


def _blend(dofs: dict[str, np.ndarray], targets: dict[str, float | np.ndarray], weight: np.ndarray) -> None:
    for name, target in targets.items():
        dofs[name] = dofs[name] * (1 - weight) + np.asarray(target) * weight


def _standing(s: _Shaper, drift_mm: float = 120.0) -> dict[str, np.ndarray]:
    """Idle standing: weight shifts, looking around, relaxed arms, somewhere in the capture area."""
    frames = len(s.t)
    zero = np.zeros(frames)
    radius, angle = 700.0 * np.sqrt(s.rng.random()), s.rng.uniform(0, 2 * np.pi)
    dofs = {name: zero.copy() for name in DOF_LIMITS}
    dofs["root_x"] = CAPTURE_CENTRE_MM[0] + radius * np.cos(angle) + s.noise(drift_mm, 0.1)
    dofs["root_y"] = CAPTURE_CENTRE_MM[1] + radius * np.sin(angle) + s.noise(drift_mm, 0.1)
    dofs["heading"] = s.rng.uniform(-np.pi, np.pi) + s.noise(0.35, 0.08)
    shift = s.noise(1.0, 0.15)
    dofs["l_hip_abd"] = 0.07 + 0.05 * shift
    dofs["r_hip_abd"] = 0.07 - 0.05 * shift
    dofs["torso_side"] = -0.05 * shift
    for side in ("l", "r"):
        dofs[f"{side}_knee"] = 0.06 + np.abs(s.noise(0.08, 0.2))
        dofs[f"{side}_hip_flex"] = 0.04 + s.noise(0.04, 0.2)
        dofs[f"{side}_sh_abd"] = 0.16 + s.noise(0.05)
        dofs[f"{side}_sh_flex"] = 0.05 + s.noise(0.12)
        dofs[f"{side}_sh_twist"] = 0.25 + s.noise(0.1)
        dofs[f"{side}_elbow"] = 0.2 + np.abs(s.noise(0.15))
    dofs["torso_lean"] = 0.05 + s.noise(0.05)
    dofs["torso_twist"] = s.noise(0.12)
    dofs["neck_pitch"] = 0.1 + s.noise(0.15)
    dofs["neck_yaw"] = s.noise(0.45, 0.15)
    return dofs


def _seated(s: _Shaper) -> dict[str, np.ndarray]:
    """On a chair: hips and knees bent near 90 degrees, feet on the floor, a fixed seat."""
    dofs = _standing(s, drift_mm=0.0)
    for side in ("l", "r"):
        dofs[f"{side}_hip_flex"] = 1.45 + s.noise(0.08)
        dofs[f"{side}_knee"] = 1.45 + s.noise(0.25)
        dofs[f"{side}_hip_abd"] = 0.12 + s.noise(0.06)
        dofs[f"{side}_sh_flex"] = 0.45 + s.noise(0.12)
        dofs[f"{side}_elbow"] = 0.95 + s.noise(0.2)
    dofs["torso_lean"] = 0.08 + s.noise(0.15)
    dofs["torso_side"] = s.noise(0.05)
    dofs["heading"] = dofs["heading"][0] + 0.0 * s.t
    return dofs


def _walking(s: _Shaper, speed_mm_s: float, arm_swing: float = 1.0) -> dict[str, np.ndarray]:
    """A gait on a circle around the capture centre; stance feet barely slide."""
    dofs = _standing(s, drift_mm=0.0)
    body = s.body
    speed = speed_mm_s * (0.8 + 0.2 * s.tempo) * (1.0 + s.noise(0.08, 0.1))
    radius = s.rng.uniform(850.0, 1100.0)
    direction = s.rng.choice([-1.0, 1.0])
    start = s.rng.uniform(0, 2 * np.pi)
    distance = np.concatenate([[0.0], np.cumsum(speed[:-1] * FRAME_DT_S)])
    angle = start + direction * distance / radius
    centre = CAPTURE_CENTRE_MM + s.rng.uniform(-100, 100, size=2)
    dofs["root_x"] = centre[0] + radius * np.cos(angle)
    dofs["root_y"] = centre[1] + radius * np.sin(angle)
    dofs["heading"] = angle + direction * np.pi / 2
    leg = body.lengths["thigh"] + body.lengths["shin"]
    stride = 0.78 * body.height_mm * (0.9 + 0.1 * speed_mm_s / 1300.0)
    swing = np.arcsin(min(0.95, stride / (4 * leg)))
    phase = 2 * np.pi * distance / stride + s.rng.uniform(0, 2 * np.pi)
    for side, offset in (("r", 0.0), ("l", np.pi)):
        phi = phase + offset
        dofs[f"{side}_hip_flex"] = 0.1 + swing * np.sin(phi)
        dofs[f"{side}_knee"] = 0.1 + 1.05 * np.maximum(0, np.cos(phi + 0.3)) ** 1.5
        dofs[f"{side}_hip_abd"] = 0.05 + 0.03 * np.sin(phi)
        dofs[f"{side}_sh_flex"] = -0.05 + arm_swing * 0.35 * np.sin(phi + np.pi)
        dofs[f"{side}_elbow"] = 0.3 + arm_swing * 0.2 * (1 + np.sin(phi + np.pi))
        dofs[f"{side}_sh_abd"] = 0.14 + 0.0 * phi
    dofs["torso_twist"] = 0.08 * np.sin(phase)
    dofs["torso_lean"] = 0.07 + s.noise(0.03)
    dofs["torso_side"] = 0.03 * np.sin(phase)
    dofs["neck_yaw"] = s.noise(0.25, 0.1)
    return dofs


def _directions(s: _Shaper) -> dict[str, np.ndarray]:
    dofs = _standing(s, drift_mm=250.0)
    pointing = s.switch(4.0 / s.amplitude)
    side = s.dominant if s.rng.random() < 0.7 else s.other
    aim = s.rng.uniform(-0.2, 0.9) + s.noise(0.3, 0.1)
    _blend(dofs, {f"{side}_sh_flex": 1.35 + s.noise(0.2), f"{side}_sh_abd": 0.2 + aim, f"{side}_elbow": 0.12,
                  "torso_twist": 0.25 * (aim - 0.3) * (1 if side == "l" else -1),
                  "neck_yaw": 0.6 * (aim - 0.2) * (1 if side == "l" else -1)}, pointing)
    return dofs


def _discussion(s: _Shaper) -> dict[str, np.ndarray]:
    dofs = _standing(s, drift_mm=150.0)
    for side in ("l", "r"):
        gesture = 0.5 + 0.5 * s.wave(0.45)
        dofs[f"{side}_sh_flex"] = 0.25 + 0.55 * s.amplitude * gesture
        dofs[f"{side}_sh_abd"] = 0.25 + 0.2 * gesture
        dofs[f"{side}_elbow"] = 1.15 + 0.45 * s.wave(0.7)
        dofs[f"{side}_sh_twist"] = 0.45 + s.noise(0.2)
    dofs["torso_twist"] = s.noise(0.25, 0.2)
    dofs["neck_pitch"] = 0.05 + 0.12 * s.wave(0.6)
    return dofs


def _hand_to_mouth(dofs: dict[str, np.ndarray], side: str, weight: np.ndarray) -> None:
    _blend(dofs, {f"{side}_sh_flex": 0.75, f"{side}_sh_abd": 0.3, f"{side}_sh_twist": 0.55,
                  f"{side}_elbow": 2.3}, weight)


def _eating(s: _Shaper) -> dict[str, np.ndarray]:
    dofs = _seated(s)
    bite = s.bump(3.0 / s.amplitude, 1.5)
    _blend(dofs, {f"{s.other}_sh_flex": 0.55, f"{s.other}_elbow": 1.35, f"{s.other}_sh_twist": 0.3}, np.ones_like(bite))
    _blend(dofs, {f"{s.dominant}_sh_flex": 0.5, f"{s.dominant}_elbow": 1.3}, np.ones_like(bite))
    _hand_to_mouth(dofs, s.dominant, bite)
    dofs["torso_lean"] = 0.2 + 0.12 * bite + s.noise(0.05)
    dofs["neck_pitch"] = 0.3 - 0.25 * bite
    return dofs


def _greeting(s: _Shaper) -> dict[str, np.ndarray]:
    dofs = _standing(s, drift_mm=200.0)
    waving = s.switch(4.0)
    side = s.dominant
    _blend(dofs, {f"{side}_sh_abd": 0.6, f"{side}_sh_flex": 2.1 * s.amplitude ** 0.3,
                  f"{side}_elbow": 0.6 + 0.35 * s.wave(1.0), f"{side}_sh_twist": -0.3}, waving)
    handshake = (1 - waving) * s.switch(3.0)
    _blend(dofs, {f"{side}_sh_flex": 0.75, f"{side}_elbow": 0.6, "torso_lean": 0.25}, handshake)
    return dofs


def _phoning(s: _Shaper) -> dict[str, np.ndarray]:
    dofs = _standing(s, drift_mm=350.0)
    side = s.dominant if s.rng.random() < 0.8 else s.other
    _blend(dofs, {f"{side}_sh_flex": 0.55, f"{side}_sh_abd": 0.5, f"{side}_sh_twist": 0.45,
                  f"{side}_elbow": 2.35}, np.ones_like(s.t))
    other = "l" if side == "r" else "r"
    gesture = 0.5 + 0.5 * s.wave(0.3)
    dofs[f"{other}_sh_flex"] = 0.1 + 0.45 * gesture * s.amplitude
    dofs[f"{other}_elbow"] = 0.4 + 0.9 * gesture
    dofs["torso_side"] = dofs["torso_side"] + (0.08 if side == "l" else -0.08)
    dofs["neck_pitch"] = 0.2 + s.noise(0.15)
    return dofs


_KEY_POSES: list[dict[str, float]] = [
    {"l_sh_abd": 0.75, "r_sh_abd": 0.75, "l_sh_flex": -0.25, "r_sh_flex": -0.25, "l_elbow": 1.9,  # hands on hips
     "r_elbow": 1.9, "l_sh_twist": 1.0, "r_sh_twist": 1.0},
    {"l_sh_abd": 2.5, "r_sh_abd": 2.5, "l_sh_flex": 0.3, "r_sh_flex": 0.3, "l_elbow": 0.1, "r_elbow": 0.1},  # V
    {"l_sh_abd": 1.5, "r_sh_abd": 1.5, "l_elbow": 1.8, "r_elbow": 1.8, "l_sh_twist": -0.9,  # biceps
     "r_sh_twist": -0.9},
    {"r_hip_flex": 0.9, "r_knee": 1.0, "l_hip_flex": -0.35, "l_knee": 0.25, "torso_lean": 0.15,  # lunge
     "l_sh_flex": 1.4, "r_sh_flex": 1.4, "l_elbow": 0.1, "r_elbow": 0.1},
    {"l_sh_abd": 1.55, "r_sh_abd": 1.55, "l_elbow": 0.05, "r_elbow": 0.05, "torso_side": 0.2,  # T, leaning
     "l_hip_abd": 0.35},
    {"r_sh_flex": 2.8, "r_elbow": 0.2, "l_sh_abd": 0.7, "l_elbow": 1.9, "l_sh_twist": 1.0,  # reach up
     "torso_side": -0.15, "neck_pitch": -0.35},
]


def _posing(s: _Shaper) -> dict[str, np.ndarray]:
    dofs = _standing(s, drift_mm=80.0)
    order = s.rng.permutation(len(_KEY_POSES))
    hold_s = 2.2 / s.tempo
    position = s.t / hold_s + s.rng.uniform(0, 1)
    for k, pose_index in enumerate(order):
        # Each key pose fades in around its slot and out at the next: smoothstep windows.
        cycle = (position - k) % len(order)
        weight = np.where(cycle < 1.0, _smoothstep(cycle / 0.5), _smoothstep((1.5 - cycle) / 0.5))
        pose = {name: value * (s.amplitude if name.endswith(("abd", "flex")) else 1.0)
                for name, value in _KEY_POSES[pose_index].items()}
        _blend(dofs, pose, weight)
    return dofs


def _purchases(s: _Shaper) -> dict[str, np.ndarray]:
    dofs = _standing(s, drift_mm=300.0)
    bend = s.bump(4.5 / s.tempo, 1.5) * s.amplitude
    dofs["torso_lean"] = 0.1 + 0.75 * bend
    for side in ("l", "r"):
        dofs[f"{side}_hip_flex"] = 0.05 + 0.35 * bend
        dofs[f"{side}_knee"] = 0.1 + 0.45 * bend
        dofs[f"{side}_sh_flex"] = 0.35 + 0.7 * bend + s.noise(0.1)
        dofs[f"{side}_elbow"] = 0.9 - 0.5 * bend
        dofs[f"{side}_sh_twist"] = 0.5
    dofs["neck_pitch"] = 0.15 + 0.3 * bend
    return dofs


def _sitting(s: _Shaper) -> dict[str, np.ndarray]:
    dofs = _seated(s)
    forward = s.switch(5.0)
    dofs["torso_lean"] = dofs["torso_lean"] * (1 - forward) + 0.45 * forward
    side = s.dominant
    gesture = 0.5 + 0.5 * s.wave(0.35)
    dofs[f"{side}_sh_flex"] = 0.5 + 0.5 * gesture * s.amplitude
    dofs[f"{side}_elbow"] = 0.8 + 0.6 * gesture
    return dofs


def _sitting_down(s: _Shaper) -> dict[str, np.ndarray]:
    dofs = _standing(s, drift_mm=0.0)
    # seated weight: standing 0 <-> seated 1, a slow cycle started at a random phase
    seated = _smoothstep(0.5 + 0.9 * s.wave(1.0 / 9.0))
    moving = 4 * seated * (1 - seated)
    dofs["heading"] = dofs["heading"][0] + 0.0 * s.t
    for side in ("l", "r"):
        dofs[f"{side}_hip_flex"] = 0.05 + 1.4 * seated + 0.35 * moving
        dofs[f"{side}_knee"] = 0.06 + 1.45 * seated
        dofs[f"{side}_hip_abd"] = 0.08 + 0.06 * seated
        dofs[f"{side}_sh_flex"] = 0.1 + 0.5 * moving + 0.3 * seated
        dofs[f"{side}_elbow"] = 0.25 + 0.7 * seated
    dofs["torso_lean"] = 0.05 + 0.6 * moving + 0.05 * seated
    dofs["neck_pitch"] = 0.1 + 0.2 * moving
    # The pelvis moves back onto the seat as the subject sits.
    forward = np.array([np.cos(dofs["heading"][0]), np.sin(dofs["heading"][0])])
    step = 0.55 * s.body.lengths["thigh"] * (1 - seated)
    dofs["root_x"] = dofs["root_x"] + forward[0] * step
    dofs["root_y"] = dofs["root_y"] + forward[1] * step
    return dofs


def _smoking(s: _Shaper) -> dict[str, np.ndarray]:
    dofs = _standing(s, drift_mm=200.0)
    _blend(dofs, {f"{s.other}_sh_flex": 0.3, f"{s.other}_elbow": 1.6, f"{s.other}_sh_twist": 0.9},
           np.ones_like(s.t))
    puff = s.bump(5.0 / s.tempo, 3.0)
    _blend(dofs, {f"{s.dominant}_sh_flex": 0.25, f"{s.dominant}_elbow": 1.2}, np.ones_like(s.t))
    _hand_to_mouth(dofs, s.dominant, puff)
    dofs["neck_pitch"] = dofs["neck_pitch"] - 0.25 * puff
    return dofs


def _photo(s: _Shaper) -> dict[str, np.ndarray]:
    dofs = _standing(s, drift_mm=300.0)
    shooting = s.switch(3.5)
    crouch = s.bump(7.0, 2.0) * s.amplitude
    _blend(dofs, {"l_sh_flex": 1.05, "r_sh_flex": 1.05, "l_sh_abd": 0.35, "r_sh_abd": 0.35, "l_elbow": 2.05,
                  "r_elbow": 2.05, "l_sh_twist": 0.6, "r_sh_twist": 0.6, "neck_pitch": 0.0}, shooting)
    for side in ("l", "r"):
        dofs[f"{side}_hip_flex"] = dofs[f"{side}_hip_flex"] + 0.7 * crouch
        dofs[f"{side}_knee"] = dofs[f"{side}_knee"] + 1.1 * crouch
    dofs["torso_lean"] = dofs["torso_lean"] + 0.25 * crouch
    dofs["torso_twist"] = s.noise(0.3, 0.15)
    return dofs


def _waiting(s: _Shaper) -> dict[str, np.ndarray]:
    dofs = _standing(s, drift_mm=200.0)
    crossed = s.switch(6.0)
    _blend(dofs, {"l_sh_flex": 0.5, "r_sh_flex": 0.5, "l_sh_abd": 0.1, "r_sh_abd": 0.1, "l_elbow": 1.95,
                  "r_elbow": 1.95, "l_sh_twist": 1.2, "r_sh_twist": 1.2}, crossed)
    _blend(dofs, _KEY_POSES[0], (1 - crossed) * (s.rng.random() < 0.5))
    dofs["neck_yaw"] = s.noise(0.8, 0.12)
    shift = s.noise(1.0, 0.1)
    dofs["l_hip_abd"] = 0.08 + 0.12 * shift
    dofs["r_hip_abd"] = 0.08 - 0.12 * shift
    dofs["torso_side"] = -0.1 * shift
    return dofs


def _walk_dog(s: _Shaper) -> dict[str, np.ndarray]:
    dofs = _walking(s, 900.0, arm_swing=0.6)
    _blend(dofs, {f"{s.dominant}_sh_flex": 0.7, f"{s.dominant}_elbow": 0.35, f"{s.dominant}_sh_abd": 0.2},
           np.ones_like(s.t))
    dofs["torso_lean"] = dofs["torso_lean"] + 0.1
    dofs["neck_pitch"] = 0.35 + s.noise(0.1)
    return dofs


def _walk_together(s: _Shaper) -> dict[str, np.ndarray]:
    dofs = _walking(s, 1000.0, arm_swing=0.7)
    dofs["neck_yaw"] = s.rng.choice([-1, 1]) * (0.4 + s.noise(0.2))
    return dofs


def _walking_action(s: _Shaper) -> dict[str, np.ndarray]:
    return _walking(s, 1250.0)


ACTION_FUNCTIONS: dict[int, Callable[[_Shaper], dict[str, np.ndarray]]] = {
    2: _directions, 3: _discussion, 4: _eating, 5: _greeting, 6: _phoning, 7: _posing, 8: _purchases,
    9: _sitting, 10: _sitting_down, 11: _smoking, 12: _photo, 13: _waiting, 14: _walking_action,
    15: _walk_dog, 16: _walk_together,
}
SUPPORTED_ACTIONS: tuple[int, ...] = tuple(sorted(ACTION_FUNCTIONS))
SEATED_ACTIONS = (4, 9, 10)  # a chair is drawn under these


def check_actions(actions: list[int]) -> list[int]:
    """The actions to synthesize (empty = all supported); a clear error for an unsupported one."""
    actions = sorted(actions) or list(SUPPORTED_ACTIONS)
    unsupported = [a for a in actions if a not in ACTION_FUNCTIONS]
    if unsupported:
        names = {a: ACTIONS.get(a, "?") for a in unsupported}
        raise ValueError(f"synthetic data cannot render actions {names}; supported: "
                         f"{ {a: ACTIONS[a] for a in SUPPORTED_ACTIONS} }")
    return actions


def make_motion(action: int, subaction: int, frames: int, body: Body, seed: int) -> Motion:
    """The motion of `body` doing `action` (subaction) for `frames` frames, deterministic in seed."""
    check_actions([action])
    style = np.random.default_rng([seed, body.subject, 202])
    tempo = float(style.uniform(0.8, 1.25))
    amplitude = float(style.uniform(0.8, 1.15))
    dominant = "r" if style.random() < 0.8 else "l"
    rng = np.random.default_rng([seed, body.subject, action, subaction, 303])
    shaper = _Shaper(frames, rng, body, tempo * rng.uniform(0.9, 1.1), amplitude * rng.uniform(0.9, 1.1), dominant)
    dofs = ACTION_FUNCTIONS[action](shaper)
    pose = forward_kinematics(dofs, body)
    chair = _chair_under(pose, dofs, body) if action in SEATED_ACTIONS else None
    return Motion(pose=pose, chair=chair)


def _chair_under(pose: PoseSequence, dofs: dict[str, np.ndarray], body: Body) -> Chair:
    """A chair whose seat meets the pelvis at its lowest (seated) point."""
    lowest = int(np.argmin(pose.joints[:, 0, 2]))
    heading = float(dofs["heading"][lowest])
    forward = np.array([np.cos(heading), np.sin(heading)])
    seat_depth = 0.75 * body.lengths["thigh"] + 180.0
    centre = pose.joints[lowest, 0, :2] + forward * (0.75 * body.lengths["thigh"] - 180.0) / 2
    return Chair(
        x=float(centre[0]), y=float(centre[1]), heading=heading,
        seat_height=float(pose.joints[lowest, 0, 2] - 0.8 * body.radii["thigh"]),
        seat_depth=float(seat_depth), seat_width=float(2 * body.lengths["hip_half_width"] + 2.4 * body.radii["thigh"]),
    )
