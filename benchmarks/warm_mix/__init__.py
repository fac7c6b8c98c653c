"""W1 of issue 5: a warm cache under the go command's URL mix over a real project's modules."""
