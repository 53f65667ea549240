"""SAM templates and CloudFormation templates (as CDK synthesizes them) served as Sluice
configs (CONTRACT section 9): a template is read (``reading``), its SAM resources expanded as
the SAM transform does (``sam``, ``sam_openapi``), and its API Gateway and Lambda resources
translated into a config document (``cloudformation``, ``restapi``, ``functions``) that the
config loader checks like a hand-written file (``loading``, ``origins``)."""

from __future__ import annotations

from proxy.templates.loading import PARAMETER_OVERRIDES_ENV, prepare_document
from proxy.templates.origins import Origins
from proxy.templates.parameters import parse_overrides
from proxy.templates.reading import TemplateLoader, is_template, read_template
from proxy.templates.translate import Translation, translate_template

__all__ = [
    "PARAMETER_OVERRIDES_ENV",
    "Origins",
    "TemplateLoader",
    "Translation",
    "is_template",
    "parse_overrides",
    "prepare_document",
    "read_template",
    "translate_template",
]
