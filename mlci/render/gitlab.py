from __future__ import annotations

from mlci.render.base import TemplateRenderer

GITLAB_CI = TemplateRenderer(
    name="gitlab",
    description="GitLab CI pipeline",
    files=(("gitlab/gitlab-ci.yml.j2", ".gitlab-ci.yml"),),
)
