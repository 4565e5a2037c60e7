"""The RFC 8460 §4.4 report schema, checked on a report parsed with
Python's json module (R8460-4-a..i). Shared by query_probe.py and
query_post.py. Standard library only."""

RESULT_TYPES = {"starttls-not-supported", "certificate-host-mismatch",
                "certificate-expired", "certificate-not-trusted",
                "validation-failure", "tlsa-invalid", "dnssec-invalid",
                "dane-required", "sts-policy-fetch-error",
                "sts-policy-invalid", "sts-webpki-invalid"}
DETAIL_KEYS = {"result-type", "sending-mta-ip", "receiving-mx-hostname",
               "receiving-mx-helo", "receiving-ip", "failed-session-count",
               "additional-information", "failure-reason-code"}


def schema_errors(rep, domain):
    """What in a parsed report does not fit RFC 8460 §4.4."""
    errs = []
    if set(rep) != {"organization-name", "date-range", "contact-info",
                    "report-id", "policies"}:
        errs.append(f"top-level members {sorted(rep)}")
    for k in ("organization-name", "contact-info", "report-id"):
        if not isinstance(rep.get(k), str) or not rep.get(k):
            errs.append(f"{k} not a non-empty string")
    dr = rep.get("date-range", {})
    if set(dr) != {"start-datetime", "end-datetime"} or not all(
            isinstance(v, str) and len(v) == 20 and v.endswith("Z")
            for v in dr.values()):
        errs.append(f"date-range {dr}")
    elif not (dr["start-datetime"].endswith("T00:00:00Z") and
              dr["end-datetime"].endswith("T23:59:59Z") and
              dr["start-datetime"][:10] == dr["end-datetime"][:10]):
        errs.append(f"date-range not one UTC day: {dr}")
    if not isinstance(rep.get("policies"), list) or not rep["policies"]:
        errs.append("policies not a non-empty array")
        return errs
    for p in rep["policies"]:
        pol = p.get("policy", {})
        if pol.get("policy-type") not in ("sts", "no-policy-found"):
            errs.append(f"policy-type {pol.get('policy-type')}")
        if pol.get("policy-domain") != domain:
            errs.append(f"policy-domain {pol.get('policy-domain')}")
        if pol.get("policy-type") == "sts":
            for k in ("policy-string", "mx-host"):
                v = pol.get(k)
                if not isinstance(v, list) or not all(
                        isinstance(x, str) for x in v):
                    errs.append(f"{k} not an array of strings")
        sm = p.get("summary", {})
        if set(sm) != {"total-successful-session-count",
                       "total-failure-session-count"} or not all(
                type(v) is int and v >= 0 for v in sm.values()):
            errs.append(f"summary {sm}")
        for d in p.get("failure-details", []):
            if not set(d) <= DETAIL_KEYS or d.get("result-type") not in \
                    RESULT_TYPES or type(d.get("failed-session-count")) \
                    is not int or any(v == "" for v in d.values()):
                errs.append(f"failure-details entry {d}")
    return errs
