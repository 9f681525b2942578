"""Glue side: validated, rate-limited boto3 client."""
