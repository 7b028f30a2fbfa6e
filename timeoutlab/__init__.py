"""timeoutlab: API Gateway and Lambda, emulated on one machine, for your own tests."""
