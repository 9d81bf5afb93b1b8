"""Licensing on the PBX: the 14-day trial, licences verified offline, and the licence state.

The vendor's licence service lives in `runtime.licensing.server`; the PBX talks to it through
`runtime.licensing.client`. Nothing here runs on the call path: the host evaluates a
`runtime.licensing.status.ModuleGate` held in memory.
"""
