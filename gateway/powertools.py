"""The one place Powertools is imported.

Powertools' package import pulls in `botocore` only to add its user agent to AWS SDK calls. None of our hot
paths calls AWS, so botocore is hidden for that one import: it loads later only if the SSM fallback needs it.
"""

import sys

if "botocore" in sys.modules:
    from aws_lambda_powertools import Logger, Metrics
else:
    sys.modules["botocore"] = None  # type: ignore[assignment]  # makes `import botocore` fail fast
    try:
        from aws_lambda_powertools import Logger, Metrics
    finally:
        del sys.modules["botocore"]

from aws_lambda_powertools.metrics import MetricUnit, single_metric  # noqa: E402

__all__ = ["Logger", "Metrics", "MetricUnit", "single_metric"]
