"""Model capabilities at run time: parsing provider records (`capabilities`), the built-in profile
(`builtin`), what a member may pick (`choices`) and the refreshed, stored catalog (`service`)."""

from bot.catalog.capabilities import ModelCapabilities, parse_model, parse_models
from bot.catalog.service import Catalog, CatalogService

__all__ = ["Catalog", "CatalogService", "ModelCapabilities", "parse_model", "parse_models"]
