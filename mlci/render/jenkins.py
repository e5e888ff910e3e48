from __future__ import annotations

from mlci.render.base import TemplateRenderer

JENKINS = TemplateRenderer(
    name="jenkins",
    description="Jenkins declarative pipeline",
    files=(("jenkins/Jenkinsfile.j2", "Jenkinsfile"),),
)
