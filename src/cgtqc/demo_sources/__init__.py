"""demo_sources."""
