"""timeoutlab's emulator: API Gateway and Lambda emulation around real S3/DynamoDB emulators."""
