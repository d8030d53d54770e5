"""pose3d: monocular 3D human pose estimation on Human3.6M-style data."""

__version__ = "0.1.0"
