"""Signed-in subscription accounts: the sign-in flow (authorization code with
PKCE on a loopback redirect, or a pasted redirect address), ID-token checks,
and the tokens that come of it, kept fresh.

Only logins the vendor documents for third-party apps live here; see
``refused`` for the ones we deliberately do not offer.
"""
