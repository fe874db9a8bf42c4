"""What happens to a request before any route sees it: statistics, latency, fault injection and the per-key
rate limit (`middleware` applies them; `stats`, `faults`, `ratelimit` are the pure bookkeeping).

Knows no route and no storage.
"""
