"""W2 of issue 5: the real go command fetching a large real project through a cold cache."""
