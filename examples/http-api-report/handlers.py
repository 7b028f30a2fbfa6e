"""The bundled report handler, unchanged, behind an HTTP API (payload format 2.0).

The handler reads only ``event["body"]``, which both payload formats carry, and answers with a
``statusCode``: the same code serves the REST API and the HTTP API. ``reportapp``'s handler files
import each other as top-level modules (its folder is their deployment package's root), so that
folder goes on the path first. Deploying this folder to AWS needs reportapp's files packaged
beside this one instead.
"""

import sys
from pathlib import Path

import reportapp

sys.path.insert(0, str(Path(reportapp.__file__).parent))

from report import handler as report  # reportapp's folder is on the path now

__all__ = ["report"]
