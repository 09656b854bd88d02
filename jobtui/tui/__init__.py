"""The Textual user interface of jobtui: the only package that imports Textual."""
