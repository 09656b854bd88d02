"""bsub.io (REST API 1.0.0), in the rooms every service package has: `wire` (its job states, the
pydantic models of its answers and their parse), `client` (`BsubClient`: one async method per
endpoint, its errors, the upload token kept out of logs), `service` (`BsubService`: wire records
to `Job`s, actions to calls, disabled reasons and confirmations, the poll), and `upload` (the
multipart body streamed from disk and the create -> upload -> submit flow). Nothing is imported
here, so that `wire` can be read without httpx."""
