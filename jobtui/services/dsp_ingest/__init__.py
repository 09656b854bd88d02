"""dsp-ingest, the DaSCH ingest service: `wire.py` (the models of its JSON answers and their parse
functions), `client.py` (`DspIngestClient`: one method per route, the service's errors),
`service.py` (`DspIngestService`: one row of `Job` per project, actions, polling), and what only
this service has: `names.py` (the shortcode and file-name rules of the bulk upload), `token.py`
(what the JWT says of its scope and expiry), `ingest.py` (a project's bulk ingest as this client
sees it, and the upload of a folder) and `mapping.py` (the mapping CSV). Import from the rooms:
this file imports nothing, so that reading `wire.py` does not load the HTTP client."""
