"""EcoTaxa (API 0.0.45) as a job service, in five rooms: `wire` (the JobModel and the caller as
the server sends them, the state letters, and the parse of each answer's body), `client`
(`EcoTaxaClient`: one method per route, the login, and the server's errors as one line each),
`files` (a job's result file saved to a local file, resumed when interrupted), `answer` (the
question an asking import puts, and the reply sent back), and `service` (`EcoTaxaService`: wire
records as `Job`s, actions as calls, and the checks around the server's silent answers). Import
each name from its room: importing the package alone loads none of them.
"""
