"""AWS Lambda entry point: `lambda_function.lambda_handler`. Everything else is imported lazily by fast_path."""

from fast_path import lambda_handler

__all__ = ["lambda_handler"]
