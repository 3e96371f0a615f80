'use strict';
/**
 * `smarthome-out`: writes msg.payload as a command to the configured address, or to
 * msg.topic when none is configured. Failures show in the node status and go to catch
 * nodes with the message.
 */
module.exports = function (RED) {
    function SmarthomeOut(config) {
        RED.nodes.createNode(this, config);
        const core = RED.nodes.getNode(config.server);
        const fixed = (config.address || '').trim();
        if (!core || !core.client) {
            const why = core ? core.configError : 'no core configured';
            this.status({fill: 'red', shape: 'ring', text: why});
        }
        this.on('input', (msg, send, done) => {
            if (!core || !core.client) {
                done(new Error(core ? core.configError : 'no core configured'));
                return;
            }
            const address = fixed || msg.topic;
            if (typeof address !== 'string' || address.trim() === '') {
                const err = new Error('no address: set one in the node or send msg.topic');
                this.status({fill: 'red', shape: 'ring', text: err.message});
                done(err);
                return;
            }
            if (msg.payload === undefined) {
                const err = new Error('msg.payload is missing');
                this.status({fill: 'red', shape: 'ring', text: err.message});
                done(err);
                return;
            }
            core.client.write(address.trim(), msg.payload).then(() => {
                this.status({fill: 'green', shape: 'dot', text: `${address} = ${shortText(msg.payload)}`});
                done();
            }, (err) => {
                this.status({fill: 'red', shape: 'ring', text: `${address}: ${err.message}`});
                done(err);
            });
        });
    }

    function shortText(value) {
        const text = typeof value === 'string' ? value : JSON.stringify(value);
        return text.length > 32 ? text.slice(0, 31) + '\u2026' : text;
    }

    RED.nodes.registerType('smarthome-out', SmarthomeOut);
};
