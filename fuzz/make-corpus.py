#!/usr/bin/env python3
"""Writes the seed corpus (fuzz/corpus/<target>/) from the byte captures and computed frames of the spec
(shared/spec/onenet-mqtt.md §6 and §14). Run again only to regenerate; the files are kept in the repo."""
import os

HERE = os.path.dirname(os.path.abspath(__file__))

def h(s):
    return bytes.fromhex(s.replace("\n", " "))

def frame_publish(topic, payload, qos=1, pid=1):
    t = len(topic).to_bytes(2, "big") + topic
    var = t + (pid.to_bytes(2, "big") if qos else b"") + payload
    n, rl = len(var), b""
    while True:
        b = n % 128
        n //= 128
        rl += bytes([b | (0x80 if n else 0)])
        if not n:
            break
    return bytes([0x30 | (qos << 1)]) + rl + var

TYPE1_JSON = b'{"datastreams":[{"id":"temperature","datapoints":[{"at":"2013-04-22 22:22:22","value":36.5}]},{"id":"location","datapoints":[{"value":{"lon":121.3,"lat":31.2}}]}]}'
DP = {
    "type1": h("01 00 44") + b'{"datastreams":[{"id":"temperature","datapoints":[{"value":36.5}]}]}',
    "type1_at": bytes([1]) + len(TYPE1_JSON).to_bytes(2, "big") + TYPE1_JSON,
    "type2": h("02 00 11 7B 22 64 73 5F 69 64 22 3A 22 69 6D 61 67 65 22 7D 00 00 00 04 DE AD BE EF"),
    "type2_desc": (lambda d: bytes([2]) + len(d).to_bytes(2, "big") + d + h("00 00 00 03 01 02 03"))(
        b'{\n\t"ds_id":\t"image",\n\t"at":\t"2014-10-25 12:23:23",\n\t"desc":\t{"w":1}\n}'),
    "type3": h("03 00 27 7B 22 74 65 6D 70 65 72 61 74 75 72 65 22 3A 32 32 2E 35 2C 22 68 75 6D 69 64 69 74 79 22 3A 22 39 35 2E 32 25 22 7D"),
    "type3_aio": h("03 00 17 7B 22 74 65 73 74 5F 64 61 74 61 5F 73 74 72 65 61 6D 22 3A 39 39 7D"),
    "type4": h("04 00 2C 7B 22 74 65 6D 70 65 72 61 74 75 72 65 22 3A 7B 22 32 30 31 35 2D 30 33 2D 32 32 20 32 32 3A 33 31 3A 31 32 22 3A 32 32 2E 35 7D 7D"),
    "type5": h("05 00 36 2C 3B 74 65 6D 70 65 72 61 74 75 72 65 2C 32 30 31 35 2D 30 33 2D 32 32 20 32 32 3A 33 31 3A 31 32 2C 32 32 2E 35 3B 31 30 32 3B 70 6D 32 2E 35 2C 38 39 3B 31 30"),
    "type5_hash": (lambda t: bytes([5]) + len(t).to_bytes(2, "big") + t)("#@temperature#2015-03-22 22:31:12#22.5@102@pm2.5#89@10".encode()),
    "type6_time": h("86 10 03 16 16 1F 0C 00 1E 2C 3B 74 65 6D 70 65 72 61 74 75 72 65 2C 32 32 2E 35 3B 68 75 6D 69 64 69 74 79 2C 38 37"),
    "type6": h("06 00 1E 2C 3B 74 65 6D 70 65 72 61 74 75 72 65 2C 32 32 2E 35 3B 68 75 6D 69 64 69 74 79 2C 38 37"),
    "type7_time": h("87 10 03 16 16 1F 0C 00 01 00 02 00 00 08 42 66 66 A2 C1 00 02 00 01 00 00 B4 41"),
    "type7": h("07 00 01 00 01 00 00 B4 41"),
    "type7_sdk": h("87 1A 0B 19 13 25 33 00 00 00 02 00 00 08 42 66 66 A2 C1"),
}

MQTT = {
    "connect_sdk": h("10 1D 00 04 4D 51 54 54 04 C2 04 B0 00 04 39 32 37 37 00 03 33 33 39 00 06 61 62 63 31 32 33"),
    "connect_aio": h("10 1D 00 04 4D 51 54 54 04 C2 00 78 00 04 39 32 37 37 00 03 33 33 39 00 06 61 62 63 31 32 33"),
    "subscribe_0x80": h("80 10 00 0B 00 0B 2F 74 6F 70 69 63 5F 74 65 73 74 01"),
    "subscribe_0x82": h("82 16 00 02 00 11 74 65 73 74 5F 6F 62 73 65 72 76 65 5F 64 61 74 61 01"),
    "puback": h("40 02 00 09"),
    "push_dp": h("32 11 00 0B 2F 74 6F 70 69 63 5F 74 65 73 74 00 05 68 69"),
    "publish_qos0_aio": h("30 1F 00 03 24 64 70 03 00 17 7B 22 74 65 73 74 5F 64 61 74 61 5F 73 74 72 65 61 6D 22 3A 39 39 7D"),
    "type7_qos0": h("30 18 00 03 24 64 70 87 1A 0B 19 13 25 34 00 00 00 02 00 00 08 42 66 66 A2 C1"),
    "type7_qos1": h("32 1A 00 03 24 64 70 00 07 87 1A 0B 19 13 25 33 00 00 00 02 00 00 08 42 66 66 A2 C1"),
    "creq": h("30 35 00 2A 24 63 72 65 71 2F 38 31 35 37 32 61 61 65 2D 66 63 33 34 2D 35 64 65 62 2D 38 66 30 36 2D 61 62 34 35 64 37 33 63 62 31 32 62 7B 22 6C 65 64 22 3A 31 7D"),
    "crsp": h("32 39 00 2A 24 63 72 73 70 2F 38 31 35 37 32 61 61 65 2D 66 63 33 34 2D 35 64 65 62 2D 38 66 30 36 2D 61 62 34 35 64 37 33 63 62 31 32 62 00 01 68 65 6C 6C 6F 20 4D 51 54 54 00"),
    "dp_sub_delivery": h("30 0E 00 0A 2F 39 32 37 38 2F 39 35 32 37 31 31"),
    "acks": h("40 02 00 01 50 02 00 02 62 02 00 02 60 02 00 03 70 02 00 02 B0 02 00 04"),
    "control": h("C0 00 D0 00 E0 00 20 02 00 00 20 02 01 00"),
    "unsubscribe_a0": h("A0 0D 00 05 00 09 2F 74 6F 70 69 63 2F 61 31"),
    "suback": h("90 05 00 01 00 01 80"),
    "connect_will": h("10 2A 00 04 4D 51 54 54 04 2E 00 3C 00 02 63 31 00 04 77 2F 74 31 00 04 67 6F 6E 65 00 00") ,
    "remaining_len_overflow": h("30 FF FF FF FF 01"),
    "remaining_len_max": h("30 FF FF FF 7F"),
}
for name, payload in DP.items():
    MQTT["dp_" + name] = frame_publish(b"$dp", payload, qos=1, pid=7)
# A session in one stream: CONNECT, SUBSCRIBE, three uploads, PINGREQ, DISCONNECT.
MQTT["session"] = MQTT["connect_sdk"] + MQTT["subscribe_0x80"] + MQTT["dp_type3"] + MQTT["dp_type7_time"] + MQTT["type7_qos0"] + h("C0 00 E0 00")

HTTP = {
    "product": b"\x00" + b'{"id":"339","name":"lab","api_key":"K"}',
    "product_empty": b"\x00",
    "device": b"\x01" + b'{"id":"9277","name":"dev","auth_info":"abc123"}',
    "topic": b"\x02" + b'{"name":"topic/test/01"}',
    "topic_missing": b"\x02" + b'{"nom":"x"}',
    "datapoints": b"\x03" + TYPE1_JSON,
    "datapoints_min": b"\x03" + b'{"datastreams":[{"id":"t","datapoints":[{"value":1}]}]}',
    "datapoints_T": b"\x03" + b'{"datastreams":[{"id":"t","datapoints":[{"at":"2024-01-02T03:04:05.123","value":"x"}]}]}',
}

for target, seeds in (("mqtt_decode", MQTT), ("dp_decode", DP), ("http_json", HTTP)):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    for name, data in seeds.items():
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)
    print(f"{target}: {len(seeds)} seeds in {d}")
