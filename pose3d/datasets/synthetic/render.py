"""A vectorised numpy ray caster: capsules, ellipsoids and boxes with a z-buffer, over a room.

The camera is an ideal pinhole with the annotation's (R, t, f, c). Each pixel's ray is
intersected analytically with every primitive inside the primitive's screen bounding
box, the nearest hit wins (so self-occlusion is right), and the surface is shaded from its
normal. The room (floor, walls, ceiling with procedural textures) is static per subject
and camera and is cast once. Depth is the camera-space z of the visible surface, in mm.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from pose3d.datasets.synthetic.cameras import SyntheticCamera

ROOM_HALF_X_MM = 4300.0
ROOM_HALF_Y_MM = 6300.0
ROOM_HEIGHT_MM = 3300.0

# Part ids of the label buffer: 0 = room, 1..PERSON_PARTS = the person, above that props.
SKIN, SHIRT, TROUSERS, SHOES, HAIR, CHAIR_SEAT, CHAIR_FRAME = range(1, 8)
PERSON_PARTS = HAIR


@dataclass(frozen=True)
class Capsule:
    a: np.ndarray  # (3,) camera mm
    b: np.ndarray
    radius: float
    part: int


@dataclass(frozen=True)
class Ellipsoid:
    centre: np.ndarray  # (3,) camera mm
    axes: np.ndarray  # (3, 3) columns = unit semi-axis directions in camera space
    radii: np.ndarray  # (3,) mm
    part: int


@dataclass(frozen=True)
class Box:
    centre: np.ndarray  # (3,) camera mm
    axes: np.ndarray  # (3, 3) columns = unit box axes in camera space
    half_size: np.ndarray  # (3,) mm
    part: int


Primitive = Capsule | Ellipsoid | Box


@dataclass
class RoomView:
    """What one camera sees of the empty room: colour, depth and where the floor is."""

    rays: np.ndarray  # (H, W, 3) unit ray directions, camera space
    rgb: np.ndarray  # (H, W, 3) float32 in [0, 1]
    depth_mm: np.ndarray  # (H, W) float32 camera z
    floor_xy: np.ndarray  # (H, W, 2) float32 world x, y of floor pixels (NaN elsewhere)
    light_cam: np.ndarray  # (3,) unit direction towards the light, camera space
    gain: np.ndarray  # (3,) per-camera white balance / exposure


def pixel_rays(camera: SyntheticCamera) -> np.ndarray:
    """Unit camera-space ray through each pixel centre (pixel (u, v) sits at coordinate u, v)."""
    u = (np.arange(camera.width) - camera.center[0]) / camera.focal[0]
    v = (np.arange(camera.height) - camera.center[1]) / camera.focal[1]
    rays = np.stack(np.broadcast_arrays(u[None, :], v[:, None], np.ones((1, 1))), axis=-1)
    return (rays / np.linalg.norm(rays, axis=-1, keepdims=True)).astype(np.float64)


def render_room(camera: SyntheticCamera, subject: int, seed: int) -> RoomView:
    """Cast the room once for this camera: textured floor, walls and ceiling."""
    rng = np.random.default_rng([seed, subject, 404])
    cam_rng = np.random.default_rng([seed, subject, camera.cam_idx, 505])
    rays = pixel_rays(camera)
    origin = camera.position_mm
    directions = rays @ camera.rotation  # world directions (rows times R = R.T @ columns)
    best_t = np.full(rays.shape[:2], np.inf)
    surface = np.zeros(rays.shape[:2], dtype=np.int8)
    planes = [(2, 0.0, 1), (2, ROOM_HEIGHT_MM, 2), (0, -ROOM_HALF_X_MM, 3), (0, ROOM_HALF_X_MM, 4),
              (1, -ROOM_HALF_Y_MM, 5), (1, ROOM_HALF_Y_MM, 6)]
    with np.errstate(divide="ignore", invalid="ignore"):
        for axis, offset, label in planes:
            t = (offset - origin[axis]) / directions[..., axis]
            closer = (t > 0) & (t < best_t)
            best_t = np.where(closer, t, best_t)
            surface = np.where(closer, label, surface)
    points = origin + directions * best_t[..., None]
    x, y, z = points[..., 0], points[..., 1], points[..., 2]

    floor_base = _muted(rng, 0.35, 0.7)
    floor_a, floor_b = floor_base, floor_base * rng.uniform(0.75, 0.92)
    tile = rng.uniform(450, 900)
    checker = ((np.floor(x / tile) + np.floor(y / tile)) % 2)[..., None]
    floor = floor_a * checker + floor_b * (1 - checker)
    floor = floor * (0.9 + 0.1 * _value_noise(x, y, rng, 300.0)[..., None])
    wall_colours = np.stack([_muted(rng, 0.3, 0.85) for _ in range(4)])
    wall = np.zeros(points.shape)
    along = np.where(np.isin(surface, (3, 4)), y, x)  # horizontal coordinate on the wall
    for k, label in enumerate((3, 4, 5, 6)):
        wall[surface == label] = wall_colours[k]
    panels = 0.85 + 0.15 * (np.floor(along / rng.uniform(700, 1500)) % 2)
    wall = wall * panels[..., None] * (0.85 + 0.15 * _value_noise(along, z, rng, 400.0)[..., None])
    for _ in range(12):  # doors, posters, equipment racks
        cx, cz = rng.uniform(-5500, 5500), rng.uniform(300, 2200)
        w, h = rng.uniform(300, 1400), rng.uniform(300, 1600)
        inside = (np.abs(along - cx) < w / 2) & (np.abs(z - cz) < h / 2) & (surface >= 3)
        wall[inside] = _muted(rng, 0.05, 0.95, saturation=0.6)
    wall[(z < 120) & (surface >= 3)] *= 0.4  # skirting board
    rgb = np.where((surface == 1)[..., None], floor, wall)
    rgb[surface == 2] = rng.uniform(0.7, 0.9)
    distance = np.linalg.norm(points - origin, axis=-1)
    rgb = rgb * np.clip(1.15 - distance / 16000.0, 0.4, 1.0)[..., None]

    light_world = np.array([rng.uniform(-0.4, 0.4), rng.uniform(-0.4, 0.4), 1.0])
    light_world /= np.linalg.norm(light_world)
    depth = points @ camera.rotation.T + camera.translation_mm
    floor_xy = np.where((surface == 1)[..., None], points[..., :2], np.nan)
    return RoomView(
        rays=rays,
        rgb=rgb.astype(np.float32),
        depth_mm=depth[..., 2].astype(np.float32),
        floor_xy=floor_xy.astype(np.float32),
        light_cam=camera.rotation @ light_world,
        gain=cam_rng.uniform(0.85, 1.12, 3) * cam_rng.uniform(0.85, 1.1),
    )


def _muted(rng: np.random.Generator, low: float, high: float, saturation: float = 0.25) -> np.ndarray:
    """A random colour of brightness in [low, high] and limited saturation (rooms are not neon)."""
    grey = rng.uniform(low, high)
    return np.clip(grey * (1 + rng.uniform(-saturation, saturation, 3)), 0, 1)


def _value_noise(u: np.ndarray, v: np.ndarray, rng: np.random.Generator, scale_mm: float) -> np.ndarray:
    """A cheap smooth texture in [-1, 1] from a few random plane waves over (u, v) in mm."""
    out = np.zeros(u.shape)
    for _ in range(4):
        angle, phase = rng.uniform(0, np.pi), rng.uniform(0, 2 * np.pi)
        freq = rng.uniform(0.5, 2.0) / scale_mm
        out += np.sin(freq * (np.cos(angle) * u + np.sin(angle) * v) + phase)
    return out / 4


def _screen_box(centre: np.ndarray, radius: float, camera: SyntheticCamera) -> tuple[int, int, int, int] | None:
    """Pixel rectangle (x0, x1, y0, y1) covering a sphere, or None when off screen / behind."""
    if centre[2] - radius <= 1.0:
        return None
    near = centre[2] - radius
    u = camera.focal[0] * centre[0] / centre[2] + camera.center[0]
    v = camera.focal[1] * centre[1] / centre[2] + camera.center[1]
    pad_u = camera.focal[0] * radius / near + 2
    pad_v = camera.focal[1] * radius / near + 2
    x0, x1 = max(int(u - pad_u), 0), min(int(u + pad_u) + 1, camera.width)
    y0, y1 = max(int(v - pad_v), 0), min(int(v + pad_v) + 1, camera.height)
    if x0 >= x1 or y0 >= y1:
        return None
    return x0, x1, y0, y1


def _hit_capsule(rays: np.ndarray, cap: Capsule) -> tuple[np.ndarray, np.ndarray]:
    """Ray parameter t of the first hit (inf = miss) and the unit normals, rays from the origin."""
    a, b, r = cap.a, cap.b, cap.radius
    ba, oa = b - a, -a
    baba, baoa, oaoa = ba @ ba, ba @ oa, oa @ oa
    bard, rdoa = rays @ ba, rays @ oa
    qa = baba - bard * bard
    qb = baba * rdoa - baoa * bard
    qc = baba * oaoa - baoa * baoa - r * r * baba
    h = qb * qb - qa * qc
    with np.errstate(divide="ignore", invalid="ignore"):
        t = (-qb - np.sqrt(np.maximum(h, 0))) / qa
    y = baoa + t * bard
    t = np.where((h >= 0) & (y > 0) & (y < baba) & (qa > 1e-9), t, np.inf)
    for end, use in ((a, y <= 0), (b, y >= baba)):  # the spherical caps
        oc = -end
        cb = rays @ oc
        hh = cb * cb - (oc @ oc - r * r)
        tc = -cb - np.sqrt(np.maximum(hh, 0))
        t = np.where(use & (hh >= 0) & np.isinf(t) & (tc > 0), tc, t)
    points = rays * np.where(np.isfinite(t), t, 0)[..., None]
    along = np.clip(((points - a) @ ba) / baba, 0, 1)
    normals = (points - a - along[..., None] * ba) / r
    return t, normals


def _hit_ellipsoid(rays: np.ndarray, ell: Ellipsoid) -> tuple[np.ndarray, np.ndarray]:
    origin_local = (ell.axes.T @ -ell.centre) / ell.radii
    rays_local = (rays @ ell.axes) / ell.radii
    qa = (rays_local * rays_local).sum(-1)
    qb = rays_local @ origin_local
    qc = origin_local @ origin_local - 1.0
    h = qb * qb - qa * qc
    t = np.where(h >= 0, (-qb - np.sqrt(np.maximum(h, 0))) / qa, np.inf)
    local = origin_local + rays_local * np.where(np.isfinite(t), t, 0)[..., None]
    normals = (local / ell.radii) @ ell.axes.T
    normals /= np.linalg.norm(normals, axis=-1, keepdims=True) + 1e-12
    return t, normals


def _hit_box(rays: np.ndarray, box: Box) -> tuple[np.ndarray, np.ndarray]:
    origin_local = box.axes.T @ -box.centre
    rays_local = rays @ box.axes
    with np.errstate(divide="ignore", invalid="ignore"):
        t1 = (-box.half_size - origin_local) / rays_local
        t2 = (box.half_size - origin_local) / rays_local
    t_near_axes = np.nan_to_num(np.minimum(t1, t2), nan=-np.inf)
    t_far = np.nan_to_num(np.maximum(t1, t2), nan=np.inf).min(-1)
    t_near = t_near_axes.max(-1)
    t = np.where((t_near <= t_far) & (t_near > 0), t_near, np.inf)
    face = t_near_axes.argmax(-1)
    normals_local = np.zeros(rays.shape)
    np.put_along_axis(normals_local, face[..., None], -np.sign(np.take_along_axis(rays_local, face[..., None], -1)), -1)
    return t, normals_local @ box.axes.T


def _bounding_sphere(prim: Primitive) -> tuple[np.ndarray, float]:
    if isinstance(prim, Capsule):
        return 0.5 * (prim.a + prim.b), 0.5 * float(np.linalg.norm(prim.b - prim.a)) + prim.radius
    if isinstance(prim, Ellipsoid):
        return prim.centre, float(prim.radii.max())
    return prim.centre, float(np.linalg.norm(prim.half_size))


_HITS = {Capsule: _hit_capsule, Ellipsoid: _hit_ellipsoid, Box: _hit_box}


def cast(primitives: list[Primitive], camera: SyntheticCamera, room: RoomView) -> tuple[np.ndarray, ...]:
    """Z-buffer the primitives over the room -> (depth_mm (H,W), part (H,W) int8, normals (H,W,3))."""
    depth = room.depth_mm.copy()
    part = np.zeros(depth.shape, dtype=np.int8)
    normals = np.zeros(depth.shape + (3,), dtype=np.float32)
    for prim in primitives:
        centre, radius = _bounding_sphere(prim)
        box = _screen_box(centre, radius, camera)
        if box is None:
            continue
        x0, x1, y0, y1 = box
        rays = room.rays[y0:y1, x0:x1]
        t, prim_normals = _HITS[type(prim)](rays, prim)
        z = t * rays[..., 2]
        closer = z < depth[y0:y1, x0:x1]
        depth[y0:y1, x0:x1][closer] = z[closer]
        part[y0:y1, x0:x1][closer] = prim.part
        normals[y0:y1, x0:x1][closer] = prim_normals[closer]
    return depth, part, normals


def shade(
    room: RoomView, camera: SyntheticCamera, part: np.ndarray, normals: np.ndarray, palette: np.ndarray,
    shadows: list[tuple[np.ndarray, float, float]], rng: np.random.Generator,
) -> np.ndarray:
    """Final 8-bit RGB: Lambert-shaded parts over the room, soft contact shadows, sensor noise.

    `shadows` holds (world floor point (2,), sigma mm, strength 0..1) Gaussian darkenings.
    """
    rgb = room.rgb.copy()
    for centre_xy, sigma, strength in shadows:
        window = _floor_window(np.asarray(centre_xy, dtype=np.float64), 3.0 * sigma, camera)
        if window is None:
            continue
        x0, x1, y0, y1 = window
        offset = room.floor_xy[y0:y1, x0:x1] - np.asarray(centre_xy, dtype=np.float32)
        d2 = np.einsum("hwc,hwc->hw", offset, offset)
        darken = np.nan_to_num(strength * np.exp(d2 * np.float32(-0.5 / (sigma * sigma))), nan=0.0)
        rgb[y0:y1, x0:x1] *= (1 - darken)[..., None]
    lit = part > 0
    lit_normals = normals[lit]
    lambert = np.clip(lit_normals @ room.light_cam.astype(np.float32), 0, 1)
    facing = np.clip(-lit_normals[:, 2], 0, 1)  # surfaces facing the camera get a little fill light
    rgb[lit] = palette[part[lit]] * (0.3 + 0.5 * lambert + 0.25 * facing)[:, None]
    rgb *= room.gain.astype(np.float32)
    rgb = cv2.GaussianBlur(rgb, (3, 3), 0.6)
    rgb += rng.standard_normal(size=rgb.shape, dtype=np.float32) * np.float32(0.012)
    return (np.clip(rgb, 0, 1) * 255 + 0.5).astype(np.uint8)


def _floor_window(centre_xy: np.ndarray, reach_mm: float, camera: SyntheticCamera) -> tuple[int, int, int, int] | None:
    """Pixel rectangle covering the floor square of half-side `reach_mm` around a floor point."""
    corners = np.array([[centre_xy[0] + dx, centre_xy[1] + dy, 0.0] for dx in (-reach_mm, reach_mm)
                        for dy in (-reach_mm, reach_mm)])
    cam = corners @ camera.rotation.T + camera.translation_mm
    if np.any(cam[:, 2] <= 1.0):
        return 0, camera.width, 0, camera.height
    pixels = camera.focal * cam[:, :2] / cam[:, 2:3] + camera.center
    x0, y0 = np.maximum(np.floor(pixels.min(0)).astype(int), 0)
    x1, y1 = np.minimum(np.ceil(pixels.max(0)).astype(int) + 1, [camera.width, camera.height])
    if x0 >= x1 or y0 >= y1:
        return None
    return int(x0), int(x1), int(y0), int(y1)
