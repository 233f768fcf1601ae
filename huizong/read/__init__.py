"""Reading: a county's file -> a Return with cell provenance, within limits."""
