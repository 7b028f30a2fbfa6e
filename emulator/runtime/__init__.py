"""Lambda runtime emulation: load handlers named in serverless.yml and invoke them as AWS does."""
