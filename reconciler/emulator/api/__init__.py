"""The HTTP layer: one module per endpoint family (`sources`, `schemas`, `actions`), plus what they share
(`auth`, `requests`, `serializers`). Each handler authorises, parses, calls a rule or the store, serialises.

Endpoints hold no PostHog rule of their own beyond parsing: the rules are `rules/`, the state is `store/`.
"""
