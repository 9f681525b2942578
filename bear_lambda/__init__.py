"""Bear: the Wolf FastAPI app on AWS Lambda through Mangum, plus workers."""
