"""``perpsim serve``: a scenario on a node whose JSON-RPC bots outside perpsim can use."""

from protocol.serve.deployment import STATUS_METHOD, STEP_METHOD, DeploymentDoc
from protocol.serve.server import Server, keeper_accounts
from protocol.serve.session import ServeError, ServeSession, Status

__all__ = ["STATUS_METHOD", "STEP_METHOD", "DeploymentDoc", "Server", "ServeError",
           "ServeSession", "Status", "keeper_accounts"]
