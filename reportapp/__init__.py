"""The article's report system: Lambda handlers and the serverless.yml that deploys them to AWS.

The handler files are written for AWS Lambda: each is importable on its own from this folder (the
deployment package's root) and needs only the standard library and boto3.
"""
