"""Bear: the Wolf FastAPI app on AWS Lambda through Mangum, plus the scheduler and workers.

Entry points (``bear_lambda.handler``): ``handler`` (API Gateway), ``scheduled_handler``
(EventBridge), ``worker_handler`` (SQS). Importing them opens nothing.
"""
