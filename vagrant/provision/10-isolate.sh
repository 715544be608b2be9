#!/bin/sh
# Cut the guest off before the bundle arrives.  The management NIC must stay up (vagrant talks SSH over
# it), so a temporary nftables ruleset accepts only SSH from the libvirt host on it and drops everything
# else in and out; the default route and the resolver go away.  `appliance harden apply` later writes the
# appliance's own /etc/nftables.conf (no SSH at all), loaded at the next boot.
set -eu
MGMT=$(ip -o -4 route show to 192.168.121.0/24 | awk '{print $3; exit}')
[ -n "$MGMT" ] || MGMT=$(ip -o link show | awk -F': ' '$2 != "lo" {print $2; exit}')
HOSTIP=192.168.121.1
command -v nft >/dev/null 2>&1 || { echo "nftables is part of Debian 12's standard image; missing" >&2; exit 1; }
nft -f - <<NFT
flush ruleset
table inet vagrant_isolation {
    chain input {
        type filter hook input priority filter; policy drop;
        iif "lo" accept
        iifname "$MGMT" ip saddr $HOSTIP tcp dport 22 accept
    }
    chain forward { type filter hook forward priority filter; policy drop; }
    chain output {
        type filter hook output priority filter; policy drop;
        oif "lo" accept
        oifname "$MGMT" ip daddr $HOSTIP tcp sport 22 accept
    }
}
NFT
ip route del default 2>/dev/null || true
ip -6 route flush default 2>/dev/null || true
: >/etc/resolv.conf
# keep DHCP from bringing a gateway or resolver back for the rest of the run
systemctl mask --now systemd-resolved.service 2>/dev/null || true
echo "isolated: only SSH from $HOSTIP on $MGMT; no default route, no resolver"
