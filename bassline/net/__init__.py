"""Gossip between nodes: ``BasslineNetwork``, its WebSocket protocol, server and settings;
``NodeClient`` and ``AsyncNodeClient`` to call a node's HTTP API."""

from bassline.net.asgi_app import create_app
from bassline.net.auth import api_token, load_secret
from bassline.net.changelog import ChangeLog
from bassline.net.client import AsyncNodeClient, NodeClient
from bassline.net.client_errors import (
    BadReply,
    NodeAuthError,
    NodeClientError,
    NodeRefused,
    NodeTimeout,
    NodeUnreachable,
    WatchOverflow,
)
from bassline.net.handshake import Refusal, RefusedByPeer
from bassline.net.node import BasslineNetwork, NetworkHealth, PeerInfo
from bassline.net.node_server import MAX_REQUEST_HEAD, InsecureListen, NodeServer, TLSFilesError
from bassline.net.protocol import PROTOCOL_VERSION, ProtocolViolation
from bassline.net.replies import (
    ContactReading,
    HealthReply,
    NodeContents,
    NodeEvent,
    WriteResult,
)
from bassline.net.settings import DEFAULT_PORT, GossipSettings
from bassline.net.urls import NodeURL, parse_node_url

__all__ = [
    "DEFAULT_PORT",
    "MAX_REQUEST_HEAD",
    "PROTOCOL_VERSION",
    "AsyncNodeClient",
    "BadReply",
    "BasslineNetwork",
    "ChangeLog",
    "ContactReading",
    "GossipSettings",
    "HealthReply",
    "InsecureListen",
    "NetworkHealth",
    "NodeAuthError",
    "NodeClient",
    "NodeClientError",
    "NodeContents",
    "NodeEvent",
    "NodeRefused",
    "NodeServer",
    "NodeTimeout",
    "NodeURL",
    "NodeUnreachable",
    "PeerInfo",
    "ProtocolViolation",
    "Refusal",
    "RefusedByPeer",
    "TLSFilesError",
    "WatchOverflow",
    "WriteResult",
    "api_token",
    "create_app",
    "load_secret",
    "parse_node_url",
]
