"""The ledger: the inbox, decisions, the store, commits and moves, the run lock, accept."""
