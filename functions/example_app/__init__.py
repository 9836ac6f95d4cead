"""The example application: an order-support agent's tools and action types.

AgentoCore loads the application named by ``AGENTOCORE_APP`` (this one by default in the
Terraform configuration): ``catalog`` is its :class:`~agentocore.actions.ActionCatalog`,
``tools()`` builds its :class:`~agentocore.tools.ToolRegistry`. It ships in the Lambda layer
beside ``agentocore``; ``catalog.json`` (generated, see the README) is what Terraform routes.
"""

from example_app.actions import catalog
from example_app.tools import tools

__all__ = ["catalog", "tools"]
