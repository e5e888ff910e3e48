"""Container images: the Dockerfile, and a second one for training when serving runs on
another base image than training (context `image.training_dockerfile`).

One image is enough when serving and training share their base: the requirements file is
the same, the training code is in the image, so training runs in the serving image with
its own command (the training Job and the Argo workflow do that). With two bases, each gets its image;
training.Dockerfile has its own ignore file (BuildKit reads <Dockerfile>.dockerignore)
that keeps the model out of the training image.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mlci.render.base import RenderedFile
from mlci.render.jinja import render_template


@dataclass(frozen=True)
class DockerRenderer:
    name: str = "docker"
    description: str = "Dockerfile and .dockerignore (and training.Dockerfile when training needs its own image)"

    def render(self, context: dict[str, Any]) -> list[RenderedFile]:
        serving = context["serving"]
        main_role = "serving" if serving else "training"
        main_base = serving["image"] if serving else context["training"]["image"]
        files = self._image(context, main_role, main_base, "Dockerfile", ".dockerignore")
        training_dockerfile = context["image"]["training_dockerfile"]
        if training_dockerfile != "Dockerfile":
            files += self._image(
                context,
                "training",
                context["training"]["image"],
                training_dockerfile,
                f"{training_dockerfile}.dockerignore",
            )
        return files

    @staticmethod
    def _image(context: dict[str, Any], role: str, base_image: str, dockerfile: str, ignore: str) -> list[RenderedFile]:
        image_context = {**context, "role": role, "base_image": base_image, "dockerfile": dockerfile}
        return [
            RenderedFile(dockerfile, render_template("docker/Dockerfile.j2", image_context)),
            RenderedFile(ignore, render_template("docker/dockerignore.j2", image_context)),
        ]


DOCKER = DockerRenderer()
