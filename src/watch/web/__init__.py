"""The web dashboard (`watch serve`): server-rendered pages over the library the CLI uses.

    site      what every page shares: tracker, engine, clock, token, templates, sessions
    access    who may write: the token (header or login cookie) and the CSRF check
    pages     the GET pages (overview, indicators, one indicator, feeds, alerts); never write
    actions   the POST forms (reject, resolve, reopen, retry, log in / out)
    app       the Starlette application joining them
    server    uvicorn on loopback, run in the foreground (CLI) or in a thread (tests)

Every query and rule comes from watch.queries, watch.review, watch.states, watch.scoring and
watch.alerts.outbox; this package only chooses what to show. Only the CLI imports it.
"""
