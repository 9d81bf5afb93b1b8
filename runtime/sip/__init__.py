"""The SIP front of `sfm serve --sip`: Kamailio as registrar and proxy, the routing core deciding.

`front.SipFront` starts the decision service and a supervised Kamailio; `kamailio` writes the
configuration and runs the child process; `decision` answers Kamailio's per-INVITE query from
the host's routing core; `calls` keeps the calls in progress (and so who is busy);
`registrations` reads the registered phones from Kamailio.
"""
