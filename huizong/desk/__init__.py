"""The review desk: accounts bound to divisions, and the web pages counties and reviewers use."""
