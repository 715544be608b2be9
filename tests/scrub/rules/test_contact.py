"""Phones, faxes, e-mail, URLs, IPs (rules/contact.py)."""

from __future__ import annotations


def test_phone_vs_fax(found):
    f = found("Call (217) 555-0142 or fax 217-555-0199 with results.")
    assert ("(217) 555-0142", "PHONE") in f
    assert ("217-555-0199", "FAX") in f
    assert not any(t in ("PHONE", "FAX") for _, t in found("K 4.1, Na 138, glucose 112, HR 88."))



def test_contact_and_network_ids(found):
    f = found("Email jsmith@gmail.com, portal https://mychart.example.org/x, from 192.168.10.4; see www.clinic.com.")
    types = {t for _, t in f}
    assert {"EMAIL", "URL", "IP_ADDRESS"} <= types
    assert not any(t == "URL" for _, t in found("Take 1 tab p.o. q.d. e.g. with food."))
