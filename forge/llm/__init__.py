"""Moved to forge.models; these modules re-export the old names for code written against them."""
