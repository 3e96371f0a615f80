'use strict';
/** Config node: where the core is (base URL) and how to get in (a bearer token). */
const {CoreClient} = require('../lib/core-client');

module.exports = function (RED) {
    function SmarthomeEdgeCore(config) {
        RED.nodes.createNode(this, config);
        this.url = config.url;
        const token = (this.credentials && this.credentials.token) || '';
        try {
            this.client = new CoreClient(config.url, token, this);
        } catch (err) {
            this.client = null;
            this.configError = err.message;
            this.error(err.message);
        }
        this.on('close', (done) => {
            if (this.client) {
                this.client.close();
            }
            done();
        });
    }

    RED.nodes.registerType('smarthome-edge-core', SmarthomeEdgeCore, {
        credentials: {token: {type: 'password'}},
    });
};
