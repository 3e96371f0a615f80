"""The topic tree of an ``mqtt`` instance's broker, through a bounded temporary
subscription: which topics carry messages, their last payloads and a short history.

A browse job of the daemon (see :mod:`edgeos.supervisor.jobs`): it gets the instance's
config as JSON on stdin (credentials never on the command line), connects with the same
TLS and credentials under a client id of its own, subscribes to ``filter`` (default
``#``) for ``duration_s`` seconds, and keeps at most ``MAX_TOPICS`` topics with their
last ``HISTORY`` payloads (each cut to ``MAX_PAYLOAD`` bytes). It reports which topics
the instance's ``subscribe`` filters already take, so the page can add or remove
filters ("subscribe"/"unsubscribe") and the instance makes them datapoints.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import time
from collections import deque
from typing import Any

from edgeos.workers.jobio import become_job, emit, read_request
from edgeos.workers.mqtt.client import MqttLink, Subscription, default_client_id
from edgeos.workers.mqtt.subscriptions import filter_problem, parse_subscriptions

MAX_TOPICS = 5_000
HISTORY = 5
MAX_PAYLOAD = 512
TICK_S = 0.25
log = logging.getLogger("edgeos.mqtt.browse")


def show(raw: bytes) -> Any:
    """A payload as the page shows it: JSON when it is JSON, else text (cut)."""
    text = raw[:MAX_PAYLOAD].decode("utf-8", "replace")
    try:
        return json.loads(text) if len(raw) <= MAX_PAYLOAD else text
    except ValueError:
        return text


async def browse(instance: str, config: dict[str, Any], topic_filter: str, duration: float,
                 emit: Any) -> dict[str, Any]:
    topics: dict[str, dict[str, Any]] = {}
    dropped = 0

    def on_message(topic: str, raw: bytes, retained: bool) -> None:
        nonlocal dropped
        entry = topics.get(topic)
        if entry is None:
            if len(topics) >= MAX_TOPICS:
                dropped += 1
                return
            entry = topics[topic] = {"topic": topic, "messages": 0, "retained": retained,
                                     "history": deque(maxlen=HISTORY)}
        entry["messages"] += 1
        entry["history"].append([int(time.time() * 1000), show(raw)])

    state: dict[str, Any] = {}
    link = MqttLink(config, client_id=f"{default_client_id(instance)}-browse", log=log,
                    subscriptions=[Subscription(topic_filter)], on_message=on_message,
                    on_state=lambda up, why: state.update(up=up, why=why))
    link.start()
    started = time.monotonic()
    try:
        while (elapsed := time.monotonic() - started) < duration:
            if state.get("up") is False and not topics:
                raise ConnectionError(link.last_error or state.get("why"))
            emit({"progress": round(elapsed / duration, 3),
                  "message": f"listening on {topic_filter}: {len(topics)} topic(s)"})
            await asyncio.sleep(min(TICK_S, duration - elapsed))
    finally:
        await link.stop()
    subs = parse_subscriptions(config.get("subscribe", []), 0)
    rows = []
    for topic in sorted(topics):
        entry = topics[topic]
        history = list(entry.pop("history"))
        rows.append({**entry, "value": history[-1][1], "history": history,
                     "subscribed": any(s.matches(topic) for s in subs)})
    return {"kind": "mqtt", "broker": f"{link.host}:{link.port}", "filter": topic_filter,
            "topics": rows, "dropped_topics": dropped,
            "subscribe": config.get("subscribe", [])}


def main() -> int:
    try:
        request = read_request()
        config, instance = request["config"], str(request.get("instance", "browse"))
        topic_filter = str(request.get("filter") or "#")
        duration = float(request.get("duration_s", 5))
        problem = filter_problem(topic_filter)
        if problem:
            raise ValueError(f"filter {topic_filter!r}: {problem}")
        if not 0.5 <= duration <= 60:
            raise ValueError(f"duration_s {duration}: use 0.5 to 60 seconds")
    except (ValueError, TypeError) as exc:
        emit({"error": str(exc)})
        return 2
    become_job(f"edgeos: browse mqtt {instance}")
    try:
        result = asyncio.run(browse(instance, config, topic_filter, duration, emit))
    except ConnectionError as exc:
        emit({"error": f"broker: {exc}"})
        return 1
    emit({"progress": 1.0, "message": f"{len(result['topics'])} topic(s)"})
    emit({"result": {**result, "instance": instance}})
    return 0


if __name__ == "__main__":
    sys.exit(main())
