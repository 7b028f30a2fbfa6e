"""One client for the five ways to get a long report past API Gateway, measuring what each costs.

from reportclient import Endpoints, fetch_report
result = fetch_report("websocket", Endpoints("http://127.0.0.1:3000/dev",
                                              "ws://127.0.0.1:3001/dev"),
                      {"delay": 40000, "amountOfRows": 100})
result.url, result.failure, result.costs
"""

from reportclient.results import Costs, Failure, ReportResult, Step
from reportclient.strategies import STRATEGIES, Endpoints, fetch_report

__all__ = ["STRATEGIES", "Costs", "Endpoints", "Failure", "ReportResult", "Step", "fetch_report"]
