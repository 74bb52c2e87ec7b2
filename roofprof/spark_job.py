"""``spark-submit roofprof/spark_job.py summary DATASET ...`` and ``python -m roofprof.spark_job``:
the Spark job's entry file (the public path; the job is :mod:`roofprof.cli.spark_job`).

Run as a file, its folder (``roofprof/``) is first on ``sys.path``, where ``roofprof/torch.py``
would shadow PyTorch: its parent (which holds roofprof) takes its place.
"""

import os
import sys

if __name__ == "__main__" and sys.path and \
        os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
    sys.path[0] = os.path.dirname(sys.path[0])

from roofprof.cli.spark_job import main

if __name__ == "__main__":
    sys.exit(main())
