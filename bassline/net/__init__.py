"""Gossip between nodes: ``BasslineNetwork``, its WebSocket protocol, server and settings."""

from bassline.net.asgi_app import create_app
from bassline.net.auth import api_token, load_secret
from bassline.net.changelog import ChangeLog
from bassline.net.handshake import Refusal, RefusedByPeer
from bassline.net.node import BasslineNetwork, NetworkHealth, PeerInfo
from bassline.net.node_server import MAX_REQUEST_HEAD, InsecureListen, NodeServer, TLSFilesError
from bassline.net.protocol import PROTOCOL_VERSION, ProtocolViolation
from bassline.net.settings import DEFAULT_PORT, GossipSettings
from bassline.net.urls import NodeURL, parse_node_url

__all__ = [
    "DEFAULT_PORT",
    "MAX_REQUEST_HEAD",
    "PROTOCOL_VERSION",
    "BasslineNetwork",
    "ChangeLog",
    "GossipSettings",
    "InsecureListen",
    "NetworkHealth",
    "NodeServer",
    "NodeURL",
    "PeerInfo",
    "ProtocolViolation",
    "Refusal",
    "RefusedByPeer",
    "TLSFilesError",
    "api_token",
    "create_app",
    "load_secret",
    "parse_node_url",
]
