"""jobtui: a terminal dashboard for batch jobs on several job services.

Importing this package must stay cheap: it loads no Textual and no HTTP stack.
"""

__version__ = "0.1.0"
