'use strict';
/**
 * `smarthome-in`: emits one message per datapoint change whose address matches the
 * configured address or pattern: topic = address, payload = value, plus quality, ts, ack
 * and (when the device gives one) unit.
 */
const {compile} = require('../lib/pattern');

const STATUS = {
    idle: {fill: 'grey', shape: 'ring', text: 'idle'},
    connecting: {fill: 'yellow', shape: 'ring', text: 'connecting'},
    connected: {fill: 'green', shape: 'dot', text: 'connected'},
    disconnected: {fill: 'red', shape: 'ring', text: 'disconnected'},
};

function statusOf(state, detail) {
    const base = STATUS[state] || STATUS.idle;
    return detail ? {...base, text: `${base.text}: ${detail}`} : base;
}

module.exports = function (RED) {
    function SmarthomeIn(config) {
        RED.nodes.createNode(this, config);
        const core = RED.nodes.getNode(config.server);
        if (!core || !core.client) {
            const why = core ? core.configError : 'no core configured';
            this.status({fill: 'red', shape: 'ring', text: why});
            this.error(why);
            return;
        }
        let matcher;
        try {
            matcher = compile(config.address);
        } catch (err) {
            this.status({fill: 'red', shape: 'ring', text: err.message});
            this.error(err.message);
            return;
        }
        const client = core.client;
        const show = (state, detail) => this.status(statusOf(state, detail));
        client.on('state', show);
        const unsubscribe = client.subscribe(matcher, (change) => {
            const msg = {
                topic: change.address,
                payload: change.value,
                quality: change.quality,
                ts: change.ts,
                ack: change.ack,
            };
            if (change.unit !== null && change.unit !== undefined) {
                msg.unit = change.unit;
            }
            this.send(msg);
        });
        show(client.state, client.detail);
        this.on('close', (done) => {
            client.off('state', show);
            unsubscribe();
            done();
        });
    }

    RED.nodes.registerType('smarthome-in', SmarthomeIn);
};
