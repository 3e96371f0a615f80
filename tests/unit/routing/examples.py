"""The two example routes of CONTRACT section 5, with the instances they name."""

CONTRACT_INSTANCES = ["bt.bms_001", "plc_001", "mqtt.broker_local", "webhook.alert_service"]

CONTRACT_EXAMPLE = {
    "version": "1.0",
    "routes": [
        {
            "id": "bms_to_plc",
            "from": "bt.bms_001.voltage",
            "to": "plc_001.MAIN.fbBattery.fVoltage",
            "transform": "scale(0.001)",
            "enabled": True,
        },
        {
            "id": "alarm_multi_target",
            "from": "plc_001.MAIN.bAlarmActive",
            "to": ["mqtt.broker_local.alarms/critical", "webhook.alert_service", "log.system"],
            "condition": "value == true",
        },
    ],
}
