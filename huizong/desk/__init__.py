"""The review desk: accounts bound to divisions, and (to come) the web pages counties and reviewers use."""
