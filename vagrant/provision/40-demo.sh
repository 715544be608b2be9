#!/bin/sh
# The end-to-end demo (vault -> train -> registry -> export -> signed artifact), fully offline.
set -eu
cd /var/tmp
runuser -u appliance -- env HOME=/var/lib/appliance /opt/appliance/current/bin/appliance demo --json >/root/demo.json \
    || /opt/appliance/current/bin/appliance demo --json >/root/demo.json
python3 -I -c 'import json; d = json.load(open("/root/demo.json")); print("demo stages:", ", ".join(d.get("stages", {})))'
