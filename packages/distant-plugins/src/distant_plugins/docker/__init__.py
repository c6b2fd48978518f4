"""The docker plugin: the distant API on a container through the docker SDK."""

from .api import DockerApi
from .plugin import DockerPlugin

__all__ = ["DockerApi", "DockerPlugin"]
