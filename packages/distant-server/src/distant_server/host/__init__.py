"""The host implementation of the Api: this machine's files, processes and network."""
