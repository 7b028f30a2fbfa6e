"""AWS backends for S3 and DynamoDB: one endpoint URL, LocalStack-style, that handlers reach
through the standard ``AWS_ENDPOINT_URL``, so their code is the code that runs on AWS."""
