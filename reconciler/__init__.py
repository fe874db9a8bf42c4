"""reconciler: declarative management of PostHog data-warehouse external data sources."""

__all__ = ["__version__"]

__version__ = "0.1.0"
