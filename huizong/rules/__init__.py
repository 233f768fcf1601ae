"""Rules: the frames Great Expectations checks, history, and the suites runner."""
