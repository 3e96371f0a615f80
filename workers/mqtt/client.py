"""A paho-mqtt client whose network thread hands every event to the asyncio loop.

paho runs its own thread (``loop_start``): it connects, reconnects with exponential
back-off and resends unacknowledged QoS 1/2 messages after a reconnect. Its callbacks
run on that thread, so each one only hops onto the event loop with
``call_soon_threadsafe``; all worker state is touched from the loop alone. Shared by the
``mqtt`` worker and the ``mqtt_bridge``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion
from paho.mqtt.subscribeoptions import SubscribeOptions

PROTOCOLS = {"3.1.1": MQTTProtocolVersion.MQTTv311, "5": MQTTProtocolVersion.MQTTv5}
# QoS>0 messages on the wire before paho queues the rest (in order). paho neither follows
# an MQTT 5 broker's Receive Maximum nor lets it change once connected, so stay within
# the common default (mosquitto: 20); exceeding it makes the broker drop the connection.
INFLIGHT_WINDOW = 20

MessageHandler = Callable[[str, bytes, bool], None]
StateHandler = Callable[[bool, str], None]
AckHandler = Callable[[int, bool], None]


@dataclass(frozen=True)
class Subscription:
    """One topic filter. ``no_local`` and ``skip_retained`` take effect on MQTT 5 only."""

    topic: str
    qos: int = 0
    no_local: bool = False  # do not hand us back what we published ourselves
    skip_retained: bool = False  # no retained messages when the subscription is made


def default_client_id(instance_id: str) -> str:
    """Unique per host and instance, so two gateways never kick each other off a broker."""
    return f"edgeos-{socket.gethostname()}-{instance_id}"


class MqttLink:
    """One broker connection: TLS, credentials, MQTT 3.1.1 or 5, subscriptions, will.

    ``on_message(topic, payload, retained)``, ``on_state(connected, reason)`` and
    ``on_ack(mid, ok)`` are called on the event loop.
    """

    def __init__(self, config: dict[str, Any], *, client_id: str, log: logging.Logger,
                 subscriptions: list[Subscription] | None = None,
                 on_message: MessageHandler | None = None,
                 on_state: StateHandler | None = None, on_ack: AckHandler | None = None,
                 will: tuple[str, bytes] | None = None,
                 birth: tuple[str, bytes] | None = None, default_protocol: str = "3.1.1") -> None:
        self.log = log
        self.host = str(config.get("host", "127.0.0.1"))
        tls = config.get("tls") or False
        self.port = int(config.get("port", 8883 if tls else 1883))
        self.keepalive = int(config.get("keepalive_s", 60))
        self.protocol = str(config.get("protocol", default_protocol))
        self.subscriptions = list(subscriptions or [])
        self.birth = birth
        self._on_message = on_message
        self._on_state = on_state
        self._on_ack = on_ack
        self._loop: asyncio.AbstractEventLoop | None = None
        self.connected = False
        self.subscribed = False
        """The broker granted every subscription of this connection (SUBACK): a message
        published before that may pass us by; connected alone does not say it."""
        self._subscribe_mid: int | None = None
        self._stopping = False
        self._down_reported = False
        self.connects = 0
        self.disconnects = 0
        self.messages_in = 0
        self.messages_out = 0
        self.last_error: str | None = None

        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id,
                             protocol=PROTOCOLS[self.protocol])
        if config.get("username") is not None:
            client.username_pw_set(str(config["username"]), config.get("password"))
        if tls:
            self._set_tls(client, tls if isinstance(tls, dict) else {})
        if will is not None:
            client.will_set(will[0], will[1], qos=1, retain=True)
        client.reconnect_delay_set(float(config.get("reconnect_min_s", 1)),  # type: ignore[arg-type]
                                   float(config.get("reconnect_max_s", 60)))  # type: ignore[arg-type]
        client.max_inflight_messages_set(INFLIGHT_WINDOW)
        client.on_connect = self._paho_connect
        client.on_disconnect = self._paho_disconnect
        client.on_connect_fail = self._paho_connect_fail
        client.on_message = self._paho_message
        client.on_publish = self._paho_publish
        client.on_subscribe = self._paho_subscribe
        self.client = client

    @staticmethod
    def _set_tls(client: mqtt.Client, tls: dict[str, Any]) -> None:
        client.tls_set(ca_certs=tls.get("ca_certs"), certfile=tls.get("certfile"),
                       keyfile=tls.get("keyfile"), cert_reqs=ssl.CERT_REQUIRED)
        if tls.get("insecure"):
            client.tls_insecure_set(True)

    # -- lifecycle -------------------------------------------------------------------
    def start(self) -> None:
        """Connect in the background; paho keeps reconnecting with back-off."""
        self._loop = asyncio.get_running_loop()
        self.client.connect_async(self.host, self.port, self.keepalive)
        self.client.loop_start()

    async def stop(self, farewell: tuple[str, bytes] | None = None) -> None:
        """Say ``farewell`` (retained) if connected, disconnect, and join paho's thread."""
        if farewell is not None and self.connected:
            info = self.client.publish(farewell[0], farewell[1], qos=1, retain=True)
            with contextlib.suppress(Exception):
                await asyncio.to_thread(info.wait_for_publish, 0.5)
        self._stopping = True
        self.client.disconnect()
        await asyncio.to_thread(self.client.loop_stop)
        self.connected = False

    # -- publishing ------------------------------------------------------------------
    def publish(self, topic: str, payload: bytes, qos: int, retain: bool) -> int | None:
        """Hand a message to paho; its mid, or None if paho refused it.

        QoS 1/2 messages published while the connection is down stay queued in paho and
        go out, in order, after the reconnect; QoS 0 ones are lost (and refused here).
        """
        try:
            info = self.client.publish(topic, payload, qos=qos, retain=retain)
        except ValueError as exc:  # wildcards or NUL in the topic, payload too large
            self.last_error = f"publish to {topic!r} refused: {exc}"
            return None
        if info.rc == MQTTErrorCode.MQTT_ERR_SUCCESS or (
                info.rc == MQTTErrorCode.MQTT_ERR_NO_CONN and qos > 0):
            self.messages_out += 1
            return info.mid
        self.last_error = f"publish to {topic} refused: {mqtt.error_string(info.rc)}"
        return None

    # -- paho thread -> event loop ---------------------------------------------------
    def _hop(self, fn: Callable[..., None], *args: Any) -> None:
        if self._loop is None:
            return
        with contextlib.suppress(RuntimeError):  # loop closed: we are shutting down
            self._loop.call_soon_threadsafe(fn, *args)

    def _paho_connect(self, client: mqtt.Client, _userdata: Any, _flags: Any,
                      reason: Any, _props: Any) -> None:
        if reason.is_failure:
            self._hop(self._set_state, False, f"connection refused: {reason}")
            return
        mid = None
        if self.subscriptions:
            mid = client.subscribe([(s.topic, self._options(s)) for s in self.subscriptions])[1]
        self._hop(self._subscribing, mid)
        if self.birth is not None:
            client.publish(self.birth[0], self.birth[1], qos=1, retain=True)
        self._hop(self._set_state, True, "connected")

    def _options(self, sub: Subscription) -> Any:
        if self.protocol != "5":
            return sub.qos
        return SubscribeOptions(qos=sub.qos, noLocal=sub.no_local,
                                retainHandling=SubscribeOptions.RETAIN_DO_NOT_SEND
                                if sub.skip_retained else SubscribeOptions.RETAIN_SEND_ON_SUBSCRIBE)

    def _paho_disconnect(self, _client: mqtt.Client, _userdata: Any, _flags: Any,
                         reason: Any, _props: Any) -> None:
        self._hop(self._set_state, False, f"disconnected: {reason}")

    def _paho_connect_fail(self, _client: mqtt.Client, _userdata: Any) -> None:
        self._hop(self._set_state, False, "unreachable")

    def _paho_message(self, _client: mqtt.Client, _userdata: Any,
                      msg: mqtt.MQTTMessage) -> None:
        self._hop(self._message, msg.topic, msg.payload, bool(msg.retain))

    def _paho_subscribe(self, _client: mqtt.Client, _userdata: Any, mid: int,
                        reasons: list[Any], _props: Any) -> None:
        self._hop(self._subscribed, mid, [str(r) if r.is_failure else None for r in reasons])

    def _paho_publish(self, _client: mqtt.Client, _userdata: Any, mid: int, reason: Any,
                      _props: Any) -> None:
        self._hop(self._acked, mid, not reason.is_failure)

    # -- on the event loop -----------------------------------------------------------
    def _set_state(self, connected: bool, reason: str) -> None:
        """Connected, disconnected, refused or unreachable; ``on_state`` hears of a failure
        once per outage, not at every retry."""
        if self._stopping:
            return
        if connected:
            if self.connected:
                return
            self.connected = True
            self._down_reported = False
            self.connects += 1
            self.log.info("connected to mqtt://%s:%d", self.host, self.port)
        else:
            if self.connected:
                self.disconnects += 1
            self.connected = self.subscribed = False
            self.last_error = f"mqtt://{self.host}:{self.port} {reason}"
            if self._down_reported:
                self.log.debug("%s; retrying with back-off", self.last_error)
                return
            self._down_reported = True
            self.log.warning("%s; retrying with back-off", self.last_error)
        if self._on_state is not None:
            self._on_state(connected, reason)

    def _subscribing(self, mid: int | None) -> None:
        """A connection asked for its subscriptions (``mid``; None: it has none)."""
        self._subscribe_mid = mid
        self.subscribed = mid is None

    def _subscribed(self, mid: int, refusals: list[str | None]) -> None:
        """The SUBACK: per subscription, in order, None (granted) or why it was refused."""
        if mid != self._subscribe_mid:  # the SUBACK of an earlier connection
            return
        refused = [f"{s.topic} ({why})" for s, why in zip(self.subscriptions, refusals,
                                                          strict=False) if why is not None]
        if refused:
            self.last_error = (f"mqtt://{self.host}:{self.port} refused the subscription "
                               f"to {', '.join(refused)}")
            self.log.warning("%s", self.last_error)
            return
        self.subscribed = True

    def _message(self, topic: str, payload: bytes, retained: bool) -> None:
        self.messages_in += 1
        if self._on_message is not None:
            self._on_message(topic, payload, retained)

    def _acked(self, mid: int, ok: bool) -> None:
        if not ok:
            self.last_error = f"broker rejected message {mid}"
        if self._on_ack is not None:
            self._on_ack(mid, ok)

    def stats(self) -> dict[str, Any]:
        return {"connected": self.connected, "subscribed": self.subscribed,
                "broker": f"{self.host}:{self.port}",
                "protocol": self.protocol, "connects": self.connects,
                "disconnects": self.disconnects, "packets_sent": self.messages_out,
                "packets_recv": self.messages_in}
