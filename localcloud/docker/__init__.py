"""Docker, for `sam local`: an engine (the one that answers, or the project's own) and the Lambda
Python 3.12 image SAM CLI runs the functions in (the official one, or a stand-in built here)."""
