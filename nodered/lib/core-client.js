'use strict';
/**
 * One connection to a SmartHome Edge OS core, shared by every node that uses the same
 * `smarthome-edge-core` config node: the live WebSocket `/api/ws` for datapoint changes
 * (one socket, the union of the nodes' prefixes) and `PUT /api/datapoints/<address>` for
 * writes, both authenticated with a bearer token.
 */
const {EventEmitter} = require('events');
const WebSocket = require('ws');

const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 30000;
const PING_INTERVAL_MS = 15000;
const HANDSHAKE_TIMEOUT_MS = 10000;
const WRITE_TIMEOUT_MS = 10000;
const MAX_PREFIXES = 50; // the core refuses a subscription with more

/** `http://host:port` without a trailing slash; throws unless http(s). */
function normaliseBaseUrl(url) {
    const text = String(url || '').trim().replace(/\/+$/, '');
    if (!/^https?:\/\/[^/]+/.test(text)) {
        throw new Error(`core URL must start with http:// or https:// (got '${url}')`);
    }
    return text;
}

/**
 * The prefixes to ask the core for: the wanted ones, or (beyond the core's limit) their
 * first segments, which select a superset; the nodes filter what arrives anyway.
 */
function prefixesFor(wanted) {
    const unique = [...new Set(wanted)].sort();
    if (unique.length <= MAX_PREFIXES) {
        return unique;
    }
    return [...new Set(unique.map((p) => p.split('.')[0]))].slice(0, MAX_PREFIXES);
}

class CoreClient extends EventEmitter {
    /**
     * @param {string} url base URL of the core's admin UI, e.g. http://127.0.0.1:8080
     * @param {string} token a bearer token (`edgectl token create`)
     * @param {{log: Function, warn: Function}} logger the config node
     */
    constructor(url, token, logger) {
        super();
        this.setMaxListeners(0); // one listener per node using this core
        this.baseUrl = normaliseBaseUrl(url);
        this.wsUrl = this.baseUrl.replace(/^http/, 'ws') + '/api/ws';
        this.token = token || '';
        this.logger = logger;
        this.subscribers = new Set();
        this.state = 'idle';
        this.detail = '';
        this.ws = null;
        this.backoffMs = BACKOFF_MIN_MS;
        this.retryTimer = null;
        this.pingTimer = null;
        this.closed = false;
    }

    /** Deliver changes of addresses matching `matcher` to `onChange`; returns an undo. */
    subscribe(matcher, onChange) {
        const subscriber = {matcher, onChange};
        this.subscribers.add(subscriber);
        this._sync();
        return () => {
            this.subscribers.delete(subscriber);
            this._sync();
        };
    }

    /** Send a command (ack false) to `address`; resolves with the core's answer. */
    async write(address, value) {
        if (!this.token) {
            throw new Error('no token configured');
        }
        const url = `${this.baseUrl}/api/datapoints/${encodeURIComponent(address)}`;
        let res;
        try {
            res = await fetch(url, {
                method: 'PUT',
                headers: {
                    'Authorization': `Bearer ${this.token}`,
                    'Content-Type': 'application/json',
                },
                body: JSON.stringify({value}),
                signal: AbortSignal.timeout(WRITE_TIMEOUT_MS),
            });
        } catch (err) {
            const cause = err.cause ? err.cause.code || err.cause.message : err.message;
            throw new Error(`core unreachable: ${cause}`);
        }
        const text = await res.text();
        let body = null;
        try {
            body = text ? JSON.parse(text) : null;
        } catch (_err) {
            body = null;
        }
        if (!res.ok) {
            const reason = body && body.error ? body.error : text.slice(0, 200);
            const err = new Error(`${res.status}: ${reason}`);
            err.status = res.status;
            throw err;
        }
        return body;
    }

    close() {
        this.closed = true;
        this.subscribers.clear();
        this._disconnect();
        this._setState('idle', '');
    }

    // -- the live socket -------------------------------------------------------------

    /** Open the socket when somebody listens, close it when nobody does, else resubscribe. */
    _sync() {
        if (this.closed) {
            return;
        }
        if (this.subscribers.size === 0) {
            this._disconnect();
            this._setState('idle', '');
        } else if (this.ws === null && this.retryTimer === null) {
            this._connect();
        } else {
            this._sendSubscription();
        }
    }

    _connect() {
        if (!this.token) {
            this._setState('disconnected', 'no token configured');
            return;
        }
        this._setState('connecting', '');
        const ws = new WebSocket(this.wsUrl, {
            headers: {Authorization: `Bearer ${this.token}`},
            handshakeTimeout: HANDSHAKE_TIMEOUT_MS,
        });
        this.ws = ws;
        let failure = '';
        ws.on('open', () => {
            this.backoffMs = BACKOFF_MIN_MS;
            this.logger.log(`connected to ${this.wsUrl}`);
            this._setState('connected', '');
            this._sendSubscription();
            this._startPing(ws);
        });
        ws.on('message', (data) => this._receive(data));
        ws.on('error', (err) => {
            failure = /401/.test(err.message) ? 'unauthorized: check the token' : err.message;
        });
        ws.on('close', () => {
            clearInterval(this.pingTimer);
            this.pingTimer = null;
            if (this.ws !== ws) {
                return; // replaced or closed on purpose
            }
            this.ws = null;
            const detail = failure || 'connection closed';
            if (this.state === 'connected' || detail !== this.detail) {
                this.logger.warn(`${this.wsUrl}: ${detail}; retrying`);
            }
            this._setState('disconnected', detail);
            this._scheduleReconnect();
        });
    }

    _scheduleReconnect() {
        if (this.closed || this.subscribers.size === 0) {
            return;
        }
        const delay = this.backoffMs;
        this.backoffMs = Math.min(this.backoffMs * 2, BACKOFF_MAX_MS);
        this.retryTimer = setTimeout(() => {
            this.retryTimer = null;
            this._sync();
        }, delay);
    }

    /** A socket that misses a pong for a whole interval is dead: end it, so we reconnect. */
    _startPing(ws) {
        let alive = true;
        ws.on('pong', () => {
            alive = true;
        });
        this.pingTimer = setInterval(() => {
            if (!alive) {
                ws.terminate();
                return;
            }
            alive = false;
            ws.ping();
        }, PING_INTERVAL_MS);
    }

    _disconnect() {
        clearTimeout(this.retryTimer);
        this.retryTimer = null;
        clearInterval(this.pingTimer);
        this.pingTimer = null;
        const ws = this.ws;
        this.ws = null;
        if (ws !== null) {
            ws.terminate();
        }
    }

    _sendSubscription() {
        if (this.ws === null || this.ws.readyState !== WebSocket.OPEN) {
            return;
        }
        const wanted = [...this.subscribers].map((s) => s.matcher.prefix);
        this.ws.send(JSON.stringify({op: 'subscribe', prefixes: prefixesFor(wanted)}));
    }

    _receive(data) {
        let msg;
        try {
            msg = JSON.parse(data.toString());
        } catch (_err) {
            return;
        }
        if (msg.type === 'changes' && Array.isArray(msg.items)) {
            for (const [address, value, ts, quality, ack, unit] of msg.items) {
                const change = {address, value, ts, quality, ack, unit};
                for (const subscriber of this.subscribers) {
                    if (subscriber.matcher.test(address)) {
                        subscriber.onChange(change);
                    }
                }
            }
        } else if (msg.type === 'problem') {
            this.logger.warn(`the core refused a request: ${msg.detail}`);
        }
    }

    _setState(state, detail) {
        if (state === this.state && detail === this.detail) {
            return;
        }
        this.state = state;
        this.detail = detail;
        this.emit('state', state, detail);
    }
}

module.exports = {CoreClient, normaliseBaseUrl, prefixesFor};
