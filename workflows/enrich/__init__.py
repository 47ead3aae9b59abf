"""Enrichment of converted rows (``--enrich``): Community ID, GeoIP and ASN, threat-intel matches.

Imported only when a run enriches: none of it (nor ``maxminddb``) is on the import path of a plain conversion.
"""
